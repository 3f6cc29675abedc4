import { api, csrfToken, problemText, showError } from "./api.js";
import { signInAgain, takeNewCsrfToken } from "./session-renewal.js";
import { t, term } from "./i18n.js";
import { toast } from "./dom.js";
import "./page.js";

const caseForm = document.getElementById("case-form");
const uploadForm = document.getElementById("upload-form");
const examSelect = document.getElementById("exam-select");
const bar = document.getElementById("upload-progress");
const percent = document.getElementById("upload-percent");
const result = document.getElementById("upload-result");
const error = document.getElementById("upload-error");

caseForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(error, "");
  const data = new FormData(caseForm);
  try {
    const patient = await api("/api/v1/patients", {
      method: "POST",
      json: { patient_code: data.get("patient_code") },
    });
    const exam = await api("/api/v1/exams", {
      method: "POST",
      json: { patient_id: patient.id, pathology_id: data.get("pathology_id"), disease_type: data.get("disease_type") },
    });
    const option = new Option(`${exam.pathology_id} · ${term("disease_type", exam.disease_type)} · ${patient.patient_code}`, exam.id);
    examSelect.add(option);
    examSelect.value = String(exam.id);
    caseForm.reset();
    toast(t("Case {id} created: choose the slide file below.", { id: exam.pathology_id }));
  } catch (err) {
    showError(error, err.message);
  }
});

// The file goes through its own request, for the progress bar; refused for want of a session
// (or for another tab's new CSRF token), it is sent again once that is put right, as api() does.
function upload(body, renewedOnce = false) {
  const request = new XMLHttpRequest();
  request.open("POST", "/api/v1/slides");
  request.setRequestHeader("X-CSRF-Token", csrfToken());
  request.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    const value = Math.round((100 * e.loaded) / e.total);
    bar.value = value;
    percent.textContent = `${value} %`;
  });
  request.addEventListener("load", async () => {
    let data;
    try {
      data = JSON.parse(request.responseText);
    } catch {
      data = null;
    }
    if (request.status >= 200 && request.status < 300) {
      bar.value = 100;
      percent.textContent = "100 %";
      const link = document.createElement("a");
      link.href = `/slides/${data.id}`;
      link.textContent = data.duplicate
        ? t("Already stored as slide {id}: open it", { id: data.id })
        : t("Uploaded slide {id} ({width} × {height}): open it", data);
      result.replaceChildren(link);
      return;
    }
    const curable = !renewedOnce && (request.status === 401 ? signInAgain() : request.status === 403 && takeNewCsrfToken());
    if (await curable) upload(body, true);
    else showError(error, problemText(data, request.status));
  });
  request.addEventListener("error", () => showError(error, t("the connection failed during upload")));
  request.send(body);
}

uploadForm.addEventListener("submit", (event) => {
  event.preventDefault();
  showError(error, "");
  result.textContent = "";
  upload(new FormData(uploadForm));
});

// Tests (and impatient users) wait for this before using the page.
document.documentElement.dataset.ready = "true";
