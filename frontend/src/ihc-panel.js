// Nuclear IHC (Ki-67) count of the selected region: a job counts the nuclei inside the
// outline and the brown ones among them; the index, H-score and intensity grades are shown,
// and every counted nucleus is ringed on the slide (red positive, blue negative) so the
// pathologist can check the number before trusting it.
import { api, jobStatusText, showError, untilJobEnds } from "./api.js";
import { flyTo } from "./annotation-list.js";
import { $ } from "./dom.js";
import { formatNumber, formatTime, t, term } from "./i18n.js";

const RING_UM = 4; // ring radius on the slide, µm
const SETTLE_MS = 1500;

export function startIhcPanel(editor) {
  const { store, canvas, mpp, viewer, slideId } = editor;
  const box = $("ihc-count");
  const button = $("ihc-start");
  const bar = $("ihc-progress");
  const status = $("ihc-status");
  const result = $("ihc-result");
  const error = $("ihc-error");
  const show = $("ihc-show");
  let shownKey; // the region whose count is on show
  let count = null;
  let running = false;

  const region = () => {
    const record = canvas.selectedKey ? store.records.get(canvas.selectedKey) : null;
    return record && record.shape !== "point" ? record : null;
  };

  function draw() {
    const cells = count && show.checked ? count.cells : [];
    canvas.showNuclei(cells, count ? count.positive_threshold : 0, mpp ? RING_UM / mpp : 8);
  }

  function display(found) {
    count = found;
    $("ihc-show-label").hidden = !found;
    if (!found) {
      result.replaceChildren();
      draw();
      return;
    }
    const lines = [];
    if (found.nuclei === 0) {
      lines.push(t("No nuclei found in this region."));
    } else {
      const grades = found.intensity;
      lines.push(t("Ki-67 index {index} %: {positive} of {nuclei} nuclei positive", {
        index: formatNumber(found.index_percent, 1), positive: formatNumber(found.positive), nuclei: formatNumber(found.nuclei),
      }));
      lines.push(t("H-score {score} (negative {negative}, 1+ {weak}, 2+ {moderate}, 3+ {strong})", {
        score: formatNumber(found.h_score), negative: formatNumber(grades.negative), weak: formatNumber(grades["1+"]),
        moderate: formatNumber(grades["2+"]), strong: formatNumber(grades["3+"]),
      }));
    }
    lines.push(t("Counted {when} in {area} mm².", { when: formatTime(found.counted_at), area: formatNumber(found.area_mm2, 3) }));
    if (!found.current) lines.push(t("The outline was changed after this count: count again."));
    result.replaceChildren(...lines.map((text, index) => {
      const line = document.createElement("p");
      line.textContent = text;
      if (index === 0) line.id = "ihc-index";
      if (!found.current && index === lines.length - 1) line.className = "warning";
      return line;
    }));
    draw();
  }

  async function load(record) {
    display(null);
    showError(error, "");
    if (!record || record.id === null) return;
    try {
      const found = await api(`/api/v1/annotations/${record.id}/ihc`); // null: never counted
      if (shownKey === record.key) display(found);
    } catch (problem) {
      showError(error, problem.message);
    }
  }

  function refresh() {
    const record = region();
    box.hidden = !record;
    const unsaved = Boolean(record && (record.id === null || record.dirty));
    button.disabled = !record || unsaved || running;
    if (!running) status.textContent = unsaved ? t("Save the outline before counting its nuclei.") : "";
    const key = record ? record.key : null;
    if (key !== shownKey) {
      shownKey = key;
      load(record);
    }
  }

  // a count running for the region `key`: its percentage, then its result
  async function followCount(job, key) {
    showError(error, "");
    running = true;
    button.disabled = true;
    bar.hidden = false;
    try {
      job = await untilJobEnds(job, (progress) => {
        bar.value = progress.progress;
        status.textContent = jobStatusText(progress);
      });
      status.textContent = "";
      if (job.state !== "succeeded") showError(error, t("Counting failed: {error}", { error: job.error || term("job", job.state) }));
      else if (shownKey === key) await load(store.records.get(key));
    } catch (problem) {
      showError(error, problem.message);
    } finally {
      running = false;
      bar.hidden = true;
      refresh();
    }
  }

  button.addEventListener("click", async () => {
    const record = region();
    if (!record || record.id === null) return;
    try {
      const job = await api(`/api/v1/annotations/${record.id}/ihc`, { method: "POST", json: {} });
      await followCount(job, record.key);
    } catch (problem) {
      showError(error, problem.message);
    }
  });

  // the AI finds the hot spot: outlined, selected, shown and counted
  const finder = $("ihc-hot-spot");
  finder?.addEventListener("click", async () => {
    const finderError = $("ihc-hot-spot-error");
    showError(finderError, "");
    finder.disabled = true;
    try {
      const found = await api(`/api/v1/slides/${slideId}/ki67-hot-spot`, {
        method: "POST", json: { label: editor.labelSelect.value }, // the class chosen for drawing
      });
      const key = `a${found.annotation.id}`;
      const arrived = new Promise((resolve) => {
        viewer.addOnceHandler("animation-finish", resolve);
        setTimeout(resolve, SETTLE_MS); // already there: no animation
      });
      flyTo(viewer, found.annotation);
      await arrived;
      await editor.loadView(); // the hot spot is in view now
      canvas.select(key);
      await followCount(found.job, key);
    } catch (problem) {
      showError(finderError, problem.message);
    } finally {
      finder.disabled = false;
    }
  });
  show.addEventListener("change", draw);
  store.addEventListener("select", refresh);
  store.addEventListener("change", refresh);
  refresh();
}
