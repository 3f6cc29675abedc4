// Buttons that start a background job and show its progress in per cent: the storage life
// cycle's (issue 18: apply the placement policy, check the mirror, send a case to its reading
// station) and the QC page's colour reference; the page reloads to show the new state when
// the job ends well.
//   <div class="job-action"><button data-job-url="/api/v1/…" data-job-method="POST"
//     data-job-body='{"…": …}' [data-job-select="#id"]>…</button><progress hidden></progress>
//     <span class="job-status" role="status"></span></div>
import { api, jobStatusText, untilJobEnds } from "./api.js";
import { t, term } from "./i18n.js";
import "./page.js";

for (const button of document.querySelectorAll("[data-job-url]")) {
  const box = button.closest(".job-action");
  const bar = box.querySelector("progress");
  const status = box.querySelector(".job-status");
  button.addEventListener("click", async () => {
    const body = JSON.parse(button.dataset.jobBody || "{}");
    const select = button.dataset.jobSelect && document.querySelector(button.dataset.jobSelect);
    if (select) body[select.name] = select.value || null;
    button.disabled = true;
    status.textContent = "";
    try {
      const started = await api(button.dataset.jobUrl, { method: button.dataset.jobMethod || "POST", json: body });
      if (!started.job_id) {
        location.reload();
        return;
      }
      bar.hidden = false;
      const job = await untilJobEnds({ id: started.job_id, state: "queued", progress: 0 }, (running) => {
        bar.value = running.progress;
        status.textContent = jobStatusText(running);
      });
      if (job.state === "succeeded") location.reload();
      else status.textContent = `${term("job", job.state)}: ${job.error || t("no reason given")}`;
    } catch (problem) {
      status.textContent = problem.message;
    } finally {
      button.disabled = false;
    }
  });
}
document.documentElement.dataset.ready = "true";
