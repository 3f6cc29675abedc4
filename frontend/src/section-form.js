// Serial sections on the exam page (SPEC D1): build a group from the exam's slides with their
// stains and a reference, and register it (a job whose percentage is shown as it runs).
import { api, jobStatusText, untilJobEnds } from "./api.js";
import { t, term } from "./i18n.js";

const form = document.getElementById("section-group-form");

if (form) {
  const error = form.querySelector("[data-error]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const slides = [];
    let reference = null;
    for (const row of form.querySelectorAll("tr[data-slide-id]")) {
      const slideId = Number(row.dataset.slideId);
      if (row.querySelector(".reference").checked) reference = slideId;
      if (row.querySelector(".member").checked || row.querySelector(".reference").checked) {
        slides.push({ slide_id: slideId, stain: row.querySelector(".stain").value.trim() || t("unnamed stain") });
      }
    }
    try {
      if (slides.length < 2) throw new Error(t("Choose at least two slides."));
      if (reference === null) throw new Error(t("Choose the reference slide, the one the lesion is drawn on."));
      const name = form.querySelector("#group-name").value.trim();
      await api(`/api/v1/exams/${location.pathname.split("/").pop()}/section-groups`, {
        method: "POST",
        json: { name, reference_slide_id: reference, slides },
      });
      location.reload();
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
    }
  });
}

for (const button of document.querySelectorAll("[data-register-group]")) {
  const box = button.closest(".section-group");
  const bar = box.querySelector("progress");
  const status = box.querySelector(".register-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    bar.hidden = false;
    try {
      let job = await api(`/api/v1/section-groups/${button.dataset.registerGroup}/register`, { method: "POST" });
      job = await untilJobEnds(job, (running) => {
        bar.value = running.progress;
        status.textContent = jobStatusText(running);
      });
      if (job.state === "succeeded") location.reload();
      else status.textContent = `${term("job", job.state)}: ${job.error || ""}`;
    } catch (problem) {
      status.textContent = problem.message;
    } finally {
      button.disabled = false;
    }
  });
}
