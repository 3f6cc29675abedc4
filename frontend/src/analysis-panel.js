// AI analysis in the viewer (issue 7): start it, watch the job's progress, then see the
// outlines (reloaded into the editor) and per-class probability heatmaps.
import { api, jobStatusText, showError } from "./api.js";
import { cascadeView } from "./cascade-view.js";
import { $ } from "./dom.js";
import { t, term } from "./i18n.js";

const POLL_MS = 400;
const ANALYSIS_JOBS = ["analyze", "cascade"]; // a slide's other jobs (nuclei counts, …) have panels of their own

// "Lung v3 (mobilenetv3)": the disease type by its display name; results saved before their
// model's parts were kept give the name they were saved with
function modelName(summary) {
  const parts = summary.model_parts;
  return parts ? `${term("disease_type", parts.disease_type)} v${parts.version} (${parts.arch})` : summary.model;
}

export function startAnalysisPanel(viewer, slideId, toggleOverlay, annotations) {
  const button = $("analyze-start");
  const bar = $("analyze-progress");
  const status = $("analyze-status");
  const error = $("analyze-error");
  const cancel = $("analyze-cancel");
  const heatmaps = $("heatmap-toggles");
  const mode = $("analyze-mode"); // absent (with the button) where no model is active
  const cascade = cascadeView(viewer);
  const setBusy = (busy) => { if (button) button.disabled = busy; };
  if (mode) {
    const showModeOptions = () => { $("analyze-overlap").hidden = mode.value === "cascade"; };
    mode.addEventListener("change", showModeOptions);
    showModeOptions();
  }

  function regionText(summary, r) {
    const values = { label: term("class", r.label), p: r.probability.toFixed(2), count: r.tiles, px: summary.cell_px };
    if (summary.mode === "cascade") return t("{label} (p {p}, {count} cells of {px} px)", values);
    return summary.overlap > 1 ? t("{label} (p {p}, {count} cells of {px} px)", values) : t("{label} (p {p}, {count} tiles)", values);
  }

  function showSummary(summary) {
    const regions = summary.regions.map((r) => regionText(summary, r));
    const parts = [t("{model}: {label}", { model: modelName(summary), label: term("class", summary.slide_label) })];
    if (summary.mode !== "cascade") {
      parts.push(t("{count} tiles of {px} px", { count: summary.tiles, px: summary.tile_px }) +
        (summary.overlap > 1 ? t(", {px} px apart", { px: summary.cell_px }) : ""));
    }
    parts.push(regions.length ? t("regions: {list}", { list: regions.join(", ") }) : t("no tumour region"));
    $("analysis-summary").textContent = parts.join("; ");
    cascade.show(summary);
    heatmapUrls = Object.fromEntries(Object.entries(summary.heatmaps).map(([label, url]) => [label, `${url}?v=${summary.seconds}`]));
    heatmaps.replaceChildren(...Object.keys(heatmapUrls).map((label) => {
      const wrap = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "heatmap-toggle";
      box.dataset.label = label;
      box.addEventListener("change", () => toggleOverlay(`heatmap-${label}`, heatmapUrl(label), box.checked));
      wrap.append(box, " " + t("{label} heatmap", { label: term("class", label) }));
      return wrap;
    }));
    $("heatmap-controls").hidden = Object.keys(heatmapUrls).length === 0;
  }

  // one colour scale for every heatmap; opacity fades them, the threshold hides low probabilities
  let heatmapUrls = {};
  const threshold = $("heatmap-threshold");
  const heatmapUrl = (label) => `${heatmapUrls[label]}&threshold=${threshold.value}`;
  toggleOverlay.setOpacity("heatmap-", Number($("heatmap-opacity").value));
  $("heatmap-opacity").addEventListener("input", (event) => toggleOverlay.setOpacity("heatmap-", Number(event.target.value)));
  threshold.addEventListener("change", () => {
    $("heatmap-threshold-value").textContent = threshold.value;
    for (const label of Object.keys(heatmapUrls)) {
      const key = `heatmap-${label}`;
      if (!toggleOverlay.isShown(key)) continue;
      toggleOverlay(key, null, false);
      toggleOverlay(key, heatmapUrl(label), true);
    }
  });
  threshold.addEventListener("input", () => { $("heatmap-threshold-value").textContent = threshold.value; });

  let following = null; // the job being watched, for the cancel button
  cancel.addEventListener("click", async () => {
    if (!following) return;
    cancel.disabled = true;
    try {
      await api(`/api/v1/jobs/${following}/cancel`, { method: "POST" });
      status.textContent = t("cancelling…");
    } catch (problem) {
      showError(error, problem.message); // e.g. it finished a moment ago: 409
    }
  });

  async function follow(job) {
    setBusy(true);
    bar.hidden = false;
    following = job.id;
    cancel.hidden = false;
    cancel.disabled = false;
    while (job.state === "queued" || job.state === "running") {
      bar.value = job.progress;
      if (!cancel.disabled) {
        status.textContent = jobStatusText(job);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await api(`/api/v1/jobs/${job.id}`);
    }
    following = null;
    cancel.hidden = true;
    setBusy(false);
    bar.hidden = true; // the status line says how it ended; a full bar would say "still working"
    status.textContent = jobStatusText(job);
    document.documentElement.dataset.analysisState = job.state;
    if (job.state === "succeeded") {
      showSummary(job.result);
      if (annotations) await annotations.loadView();
    } else if (job.state === "failed") {
      showError(error, t("Analysis failed: {error}", { error: job.error }));
    }
  }

  button?.addEventListener("click", async () => {
    showError(error, "");
    try {
      const job = await api(`/api/v1/slides/${slideId}/analyze`, {
        method: "POST",
        json: mode.value === "cascade"
          ? { mode: "cascade", outline: $("analyze-outline").value }
          : { mode: "tiles", outline: $("analyze-outline").value, overlap: Number($("analyze-overlap").value) },
      });
      await follow(job);
    } catch (problem) {
      showError(error, problem.message);
      setBusy(false);
    }
  });

  // a finished analysis, and one still running (started elsewhere or before a reload)
  if ($("analysis-panel").dataset.analysed === "true") {
    api(`/api/v1/slides/${slideId}/analysis`).then(showSummary).catch((problem) => showError(error, problem.message));
  }
  api(`/api/v1/jobs?slide_id=${slideId}`).then((jobs) => {
    const active = jobs.find((j) => ANALYSIS_JOBS.includes(j.kind) && (j.state === "queued" || j.state === "running"));
    if (active) follow(active);
  }).catch(() => {});
}
