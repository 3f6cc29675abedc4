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

// Each file goes through its own request, for the progress bar; refused for want of a session
// (or for another tab's new CSRF token), it is sent again once that is put right, as api() does.
// Resolves to the slide, or to a problem's text; onProgress(bytes sent of this file).
function upload(body, onProgress, renewedOnce = false) {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/v1/slides");
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    request.addEventListener("load", async () => {
      let data;
      try {
        data = JSON.parse(request.responseText);
      } catch {
        data = null;
      }
      if (request.status >= 200 && request.status < 300) {
        resolve({ slide: data });
        return;
      }
      const curable = !renewedOnce && (request.status === 401 ? signInAgain() : request.status === 403 && takeNewCsrfToken());
      if (await curable) resolve(await upload(body, onProgress, true));
      else resolve({ problem: problemText(data, request.status) });
    });
    request.addEventListener("error", () => resolve({ problem: t("the connection failed during upload") }));
    request.send(body);
  });
}

// One line per file: a link to the new slide, or why it was refused (the others go on).
function resultLine(file, outcome) {
  const item = document.createElement("li");
  if (outcome.problem) {
    item.className = "error";
    item.textContent = `${file.name}: ${outcome.problem}`;
    return item;
  }
  const slide = outcome.slide;
  const link = document.createElement("a");
  link.href = `/slides/${slide.id}`;
  link.textContent = slide.duplicate
    ? t("Already stored as slide {id}: open it", { id: slide.id })
    : t("Uploaded slide {id} ({width} × {height}): open it", slide);
  item.append(`${file.name}: `, link);
  return item;
}

// Several files go one after the other into the chosen exam, with one bar for them all.
uploadForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(error, "");
  const files = [...document.getElementById("file").files];
  const fields = new FormData(uploadForm);
  const total = files.reduce((sum, file) => sum + file.size, 0) || 1;
  const list = document.createElement("ul");
  result.replaceChildren(list);
  bar.hidden = percent.hidden = false;
  const button = uploadForm.querySelector("button[type=submit]");
  button.disabled = true;
  let sent = 0;
  for (const [index, file] of files.entries()) {
    const body = new FormData();
    for (const [name, value] of fields) if (name !== "file") body.append(name, value);
    body.append("file", file);
    const show = (loaded) => {
      const value = Math.min(100, Math.round((100 * (sent + loaded)) / total)); // the form adds a few bytes
      bar.value = value;
      percent.textContent = files.length > 1
        ? t("file {number} of {count} · {percent} %", { number: index + 1, count: files.length, percent: value })
        : `${value} %`;
    };
    show(0);
    list.append(resultLine(file, await upload(body, show)));
    sent += file.size;
  }
  bar.value = 100;
  percent.textContent = files.length > 1 ? t("{count} files · 100 %", { count: files.length }) : "100 %";
  button.disabled = false;
});

// Tests (and impatient users) wait for this before using the page.
document.documentElement.dataset.ready = "true";
