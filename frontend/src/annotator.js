// The annotation editor: toolbar, list, review and the wiring between the store, the paper.js
// layer and OpenSeadragon. Fetches by viewport (spatial index) and simplifies at low zoom so
// that slides with tens of thousands of outlines stay smooth. Each section below wires one
// part; `editor` carries what they share.
import { api, showError } from "./api.js";
import OpenSeadragon from "openseadragon";
import { AnnotationCanvas } from "./annotation-canvas.js";
import { wireList } from "./annotation-list.js";
import { AnnotationStore } from "./annotation-store.js";
import { makeTools } from "./annotation-tools.js";
import { startIhcPanel } from "./ihc-panel.js";
import { $, toast } from "./dom.js";
import { formatTime, t, term } from "./i18n.js";

const SHORTCUTS = {
  h: "pan", v: "select", p: "pencil", g: "polygon", r: "rectangle", c: "circle",
  k: "point", m: "ruler", b: "brush", e: "eraser",
};
const SAVED = t("All changes saved.");

export function startAnnotator(viewer, slideId, mpp) {
  const store = new AnnotationStore(slideId);
  const canvas = new AnnotationCanvas(viewer, store);
  const editor = { viewer, slideId, mpp, store, canvas, message: $("annotation-message"), labelSelect: $("annotation-label") };
  editor.setTool = wireTools(editor);
  editor.loadView = wireViewportLoading(editor);
  editor.renderList = wireList(editor);
  editor.refreshReview = () => refreshReview(editor);
  editor.save = () => save(editor);
  wireEditing(editor);
  wireImport(editor);
  wireReview(editor);
  startIhcPanel(editor);
  editor.refreshReview();
  editor.setTool("pan");
  window.pathodeskAnnotations = { store, canvas, setTool: editor.setTool, loadView: editor.loadView };
  return window.pathodeskAnnotations;
}

// --- tools: pan or draw; the wheel zooms whichever holds the mouse ------------------------
function wireTools({ viewer, store, canvas, labelSelect, mpp }) {
  const status = $("tool-status");
  const say = (text) => { status.textContent = text; };
  const tools = makeTools(canvas, store, () => labelSelect.value, mpp, say);
  function setTool(name) {
    if (name !== "ruler") tools.ruler.clear();
    if (setTool.current !== name) say("");
    setTool.current = name;
    tools[name].activate();
    const drawing = name !== "pan";
    viewer.setMouseNavEnabled(!drawing);
    canvas.canvas.classList.toggle("active", drawing);
    for (const button of document.querySelectorAll("[data-tool]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === name));
    }
  }
  for (const button of document.querySelectorAll("[data-tool]")) {
    button.addEventListener("click", () => setTool(button.dataset.tool));
  }
  canvas.canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = canvas.canvas.getBoundingClientRect();
    const pixel = new OpenSeadragon.Point(event.clientX - rect.left, event.clientY - rect.top);
    viewer.viewport.zoomBy(event.deltaY < 0 ? 1.2 : 1 / 1.2, viewer.viewport.pointFromPixel(pixel, true));
    viewer.viewport.applyConstraints();
  }, { passive: false });
  return setTool;
}

// --- loading by viewport: what is in view (plus a margin), simplified for the zoom --------
function wireViewportLoading({ viewer, store, canvas, message }) {
  let loadTimer = null;
  let loading = 0;
  async function loadView() {
    if (!viewer.world.getItemAt(0)) return;
    const zoom = canvas.zoom;
    const rect = canvas.imageRect(0.25);
    const query = {
      x0: rect.x0.toFixed(1), y0: rect.y0.toFixed(1), x1: rect.x1.toFixed(1), y1: rect.y1.toFixed(1),
      tolerance: zoom < 1 ? (0.5 / zoom).toFixed(2) : "0", min_size: (1 / zoom).toFixed(2),
    };
    const ticket = ++loading;
    try {
      const started = performance.now();
      await store.load(query);
      if (ticket === loading) {
        viewer.element.dataset.annotationFetchMs = String(Math.round(performance.now() - started));
      }
    } catch (error) {
      showError(message, t("Could not load annotations: {error}", { error: error.message }));
    }
  }
  const scheduleLoad = () => { clearTimeout(loadTimer); loadTimer = setTimeout(loadView, 120); };
  viewer.addHandler("open", () => { canvas.sync(); loadView(); });
  viewer.addHandler("animation-finish", scheduleLoad);
  viewer.addHandler("resize", scheduleLoad);
  return loadView;
}

// --- editing commands: save, undo, redo, delete, keyboard shortcuts -----------------------
async function save(editor) {
  const { store, message } = editor;
  showError(message, "");
  const problems = await store.save();
  if (problems.length) {
    const conflict = problems.some((p) => p.status === 409);
    showError(message, conflict
      ? t("Someone else changed an annotation you edited; reload to see their version. ({error})", { error: problems[0].message })
      : problems.map((p) => p.message).join("; "));
    return;
  }
  toast(SAVED);
  editor.refreshReview(); // the first expert edit puts the slide in review
}

function wireEditing(editor) {
  const { store, canvas } = editor;
  function deleteSelected() {
    const key = canvas.selectedKey;
    if (!key || !store.records.has(key)) return;
    canvas.selectedKey = null;
    store.apply(key, null);
  }
  $("annotation-save").addEventListener("click", editor.save);
  $("annotation-undo").addEventListener("click", () => store.undo());
  $("annotation-redo").addEventListener("click", () => store.redo());
  $("annotation-delete").addEventListener("click", deleteSelected);
  document.addEventListener("keydown", (event) => {
    if (event.target.closest && event.target.closest("input,select,textarea")) return;
    const key = event.key.toLowerCase();
    const mod = event.ctrlKey || event.metaKey;
    if (mod && key === "z") { event.preventDefault(); if (event.shiftKey) store.redo(); else store.undo(); }
    else if (mod && key === "y") { event.preventDefault(); store.redo(); }
    else if (mod && key === "s") { event.preventDefault(); editor.save(); }
    else if (!mod && (key === "delete" || key === "backspace")) deleteSelected();
    else if (!mod && key === "escape" && editor.setTool.current !== "polygon") editor.setTool("pan");
    else if (!mod && SHORTCUTS[key]) editor.setTool(SHORTCUTS[key]);
  });
  window.addEventListener("beforeunload", (event) => {
    if (store.dirtyCount) { event.preventDefault(); event.returnValue = ""; }
  });
}

// --- import: ASAP XML, QuPath GeoJSON or ImageScope XML onto this slide --------------------
function wireImport({ slideId, message, loadView }) {
  $("annotation-import").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    try {
      const result = await api(`/api/v1/slides/${slideId}/annotations/import`, { method: "POST", body: file });
      showError(message, "");
      toast(t("Imported {count} outlines ({format}).", { count: result.created, format: result.format }));
      await loadView();
    } catch (error) {
      showError(message, t("Import failed: {error}", { error: error.message }));
    }
    event.target.value = "";
    event.target.dispatchEvent(new Event("cleared")); // its picker says no file again
  });
}

// --- review: the slide's rounds, and signing one off --------------------------------------
async function refreshReview({ slideId, store, renderList }) {
  const state = await api(`/api/v1/slides/${slideId}/review`);
  store.status = state.status;
  store.round = state.round;
  $("review-rounds").replaceChildren(...state.rounds.map((r) => {
    const li = document.createElement("li");
    const heading = t("Round {round}: {verdict} by {reviewer}, {time}", {
      round: r.round,
      verdict: term("verdict", r.verdict),
      reviewer: r.reviewer_name || r.reviewer,
      time: formatTime(r.reviewed_at),
    });
    li.textContent = heading + " — " + r.opinion + " ";
    const link = document.createElement("a");
    link.href = `/api/v1/slides/${slideId}/annotations.xml?round=${r.round}`;
    link.textContent = "XML";
    li.append(link);
    return li;
  }));
  renderList();
}

function wireReview(editor) {
  $("review-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (editor.store.dirtyCount) await editor.save();
    try {
      await api(`/api/v1/slides/${editor.slideId}/review`, {
        method: "PUT", json: { verdict: $("review-verdict").value, opinion: $("review-opinion").value },
      });
      showError($("review-error"), "");
      await editor.refreshReview();
    } catch (error) {
      showError($("review-error"), error.message);
    }
  });
}
