// The lesion's class from all its stains (SPEC D4–D6): runs the classify job of the section
// group, shows its progress, then per outline the class, each class's probability and how much
// the model leaned on each stain (the squeeze-and-excitation weights), as bars.
import { api, jobStatusText, untilJobEnds } from "./api.js";
import { t, term } from "./i18n.js";


function bars(title, values, name) {
  const box = document.createElement("div");
  box.className = "bars";
  const heading = document.createElement("h4");
  heading.textContent = title;
  box.append(heading);
  for (const [key, value] of Object.entries(values)) {
    const row = document.createElement("div");
    row.className = "bar-row";
    const label = document.createElement("span");
    label.textContent = name(key);
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = 1;
    meter.value = value;
    meter.setAttribute("aria-label", name(key));
    const number = document.createElement("span");
    number.className = "bar-value";
    number.textContent = `${Math.round(value * 100)} %`;
    row.append(label, meter, number);
    box.append(row);
  }
  return box;
}

function lesionCard(lesion) {
  const card = document.createElement("article");
  card.className = "lesion-result";
  const heading = document.createElement("h3");
  const title = lesion.name || t("Lesion {id}", { id: lesion.annotation_id });
  if (!lesion.patches) {
    heading.textContent = `${title}: ${t("no tissue inside the outline")}`;
    card.append(heading);
    return card;
  }
  heading.textContent = `${title}: ${term("class", lesion.label)}`;
  card.dataset.label = lesion.label;
  const note = document.createElement("p");
  note.className = "hint";
  note.textContent = t("{count} patches in every stain", { count: lesion.patches });
  card.append(
    heading,
    note,
    bars(t("Probability of each class"), lesion.probabilities, (code) => term("class", code)),
    bars(t("Weight of each stain"), lesion.stain_weights, (stain) => stain),
  );
  return card;
}

const panel = document.getElementById("lesion-class");
const button = document.getElementById("classify-lesion");
if (panel && button) {
  const bar = panel.querySelector("progress");
  const status = document.getElementById("classify-status");
  const result = document.getElementById("classify-result");
  if (result.dataset.last) result.replaceChildren(...JSON.parse(result.dataset.last).map(lesionCard)); // the last run's
  button.addEventListener("click", async () => {
    button.disabled = true;
    bar.hidden = false;
    result.replaceChildren();
    document.getElementById("classify-when")?.remove();
    try {
      let job = await api(`/api/v1/section-groups/${panel.dataset.groupId}/classify`, { method: "POST" });
      job = await untilJobEnds(job, (running) => {
        bar.value = running.progress;
        status.textContent = jobStatusText(running);
      });
      bar.hidden = true;
      if (job.state !== "succeeded") {
        status.textContent = `${term("job", job.state)}: ${job.error || ""}`;
        return;
      }
      status.textContent = "";
      result.replaceChildren(...job.result.lesions.map(lesionCard));
    } catch (problem) {
      status.textContent = problem.message;
    } finally {
      button.disabled = false;
    }
  });
}
