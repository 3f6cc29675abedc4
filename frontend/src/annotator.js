// The annotation editor (issue 4): toolbar, list, review and the wiring between the store,
// the paper.js layer and OpenSeadragon. Fetches by viewport (spatial index) and simplifies at
// low zoom so that slides with tens of thousands of outlines stay smooth.
import { api, showError } from "./api.js";
import OpenSeadragon from "openseadragon";
import { AnnotationCanvas } from "./annotation-canvas.js";
import { AnnotationStore } from "./annotation-store.js";
import { makeTools } from "./annotation-tools.js";

const MAX_ROWS = 300;
const SHORTCUTS = { h: "pan", v: "select", p: "pencil", g: "polygon", r: "rectangle", c: "circle" };
const $ = (id) => document.getElementById(id);

function fmt(value, digits = 0) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en", { maximumFractionDigits: digits });
}

export function startAnnotator(viewer, slideId, mpp) {
  const store = new AnnotationStore(slideId);
  const canvas = new AnnotationCanvas(viewer, store);
  const labelSelect = $("annotation-label");
  const message = $("annotation-message");
  const tools = makeTools(canvas, store, () => labelSelect.value);
  const filters = { label: $("filter-label"), source: $("filter-source") };
  let toolName = "pan";

  function setTool(name) {
    toolName = name;
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

  // zooming with the wheel keeps working while a drawing tool holds the mouse
  canvas.canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = canvas.canvas.getBoundingClientRect();
    const pixel = new OpenSeadragon.Point(event.clientX - rect.left, event.clientY - rect.top);
    viewer.viewport.zoomBy(event.deltaY < 0 ? 1.2 : 1 / 1.2, viewer.viewport.pointFromPixel(pixel, true));
    viewer.viewport.applyConstraints();
  }, { passive: false });

  // --- loading by viewport -------------------------------------------------------------
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
      showError(message, `Could not load annotations: ${error.message}`);
    }
  }
  const scheduleLoad = () => { clearTimeout(loadTimer); loadTimer = setTimeout(loadView, 120); };
  viewer.addHandler("open", () => { canvas.sync(); loadView(); });
  viewer.addHandler("animation-finish", scheduleLoad);
  viewer.addHandler("resize", scheduleLoad);

  // --- the list ------------------------------------------------------------------------
  const body = $("annotation-rows");
  function labelOptions(selected) {
    return Object.keys(store.labels).map((name) => {
      const option = document.createElement("option");
      option.value = option.textContent = name;
      option.selected = name === selected;
      return option;
    });
  }
  function fillLabelSelects() {
    const names = Object.keys(store.labels);
    if (labelSelect.options.length === names.length) return;
    labelSelect.replaceChildren(...labelOptions(labelSelect.value || names[0]));
    const all = document.createElement("option");
    all.value = "";
    all.textContent = "all classes";
    filters.label.replaceChildren(all, ...labelOptions(null));
  }
  function flyTo(record) {
    const [x0, y0, x1, y1] = record.bbox;
    const item = viewer.world.getItemAt(0);
    const pad = Math.max(x1 - x0, y1 - y0) * 0.6 + 20;
    viewer.viewport.fitBounds(item.imageToViewportRectangle(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad));
  }
  function row(record) {
    const tr = document.createElement("tr");
    tr.dataset.key = record.key;
    if (record.id !== null) tr.dataset.id = record.id;
    tr.classList.toggle("selected", record.key === canvas.selectedKey);
    tr.classList.toggle("dirty", Boolean(record.dirty));
    const show = document.createElement("input");
    show.type = "checkbox";
    show.checked = !record.hidden;
    show.title = "show or hide";
    show.addEventListener("change", () => { record.hidden = !show.checked; canvas.render(); });
    const relabel = document.createElement("select");
    relabel.className = "relabel";
    relabel.append(...labelOptions(record.label));
    relabel.addEventListener("change", () => {
      store.apply(record.key, { geometry: record.geometry, label: relabel.value, shape: record.shape });
    });
    const area = mpp ? record.area_px * mpp * mpp : null;
    const perimeter = mpp ? record.perimeter_px * mpp : null;
    const cells = [
      show, relabel, fmt(area), fmt(perimeter), record.source,
      record.probability === null ? "—" : record.probability.toFixed(2),
      record.author || (record.source === "ai" ? "AI" : record.id === null ? "you" : "—"),
    ];
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = cell;
      tr.append(td);
    }
    tr.querySelector("td").style.borderLeft = `4px solid ${record.color}`;
    tr.addEventListener("click", (event) => {
      if (event.target.closest("input,select")) return;
      canvas.select(record.key);
      flyTo(record);
      renderList();
    });
    return tr;
  }
  function renderList() {
    const wanted = { label: filters.label.value, source: filters.source.value };
    const records = [...store.records.values()];
    for (const record of records) {
      record.filteredOut = Boolean((wanted.label && record.label !== wanted.label) || (wanted.source && record.source !== wanted.source));
    }
    const shown = records.filter((r) => !r.filteredOut);
    body.replaceChildren(...shown.slice(0, MAX_ROWS).map(row));
    const more = shown.length > MAX_ROWS ? `, first ${MAX_ROWS} listed` : "";
    const small = store.omitted ? `; ${fmt(store.omitted)} too small to see at this zoom` : "";
    $("annotation-count").textContent = `${fmt(shown.length)} in view${more}${small}`;
    const dirty = store.dirtyCount;
    $("annotation-save").textContent = dirty ? `Save (${dirty})` : "Saved";
    $("annotation-save").disabled = dirty === 0;
    $("annotation-undo").disabled = store.undoStack.length === 0;
    $("annotation-redo").disabled = store.redoStack.length === 0;
    $("review-status").textContent = `${(store.status || "").replace("_", " ")}, round ${store.round}`;
    viewer.element.dataset.annotationCount = String(store.records.size);
  }
  for (const select of Object.values(filters)) select.addEventListener("change", () => { renderList(); canvas.render(); });
  $("show-all").addEventListener("change", (event) => {
    for (const record of store.records.values()) record.hidden = !event.target.checked;
    renderList();
    canvas.render();
  });

  store.addEventListener("change", (event) => {
    fillLabelSelects();
    if (event.detail.rekeyed && canvas.selectedKey === event.detail.rekeyed[0]) canvas.selectedKey = event.detail.rekeyed[1];
    renderList();
    canvas.render();
    if (event.detail.loaded) document.documentElement.dataset.annotationsLoaded = "true";
  });

  // --- editing commands ----------------------------------------------------------------
  function deleteSelected() {
    const key = canvas.selectedKey;
    if (!key || !store.records.has(key)) return;
    canvas.selectedKey = null;
    store.apply(key, null);
  }
  async function save() {
    showError(message, "");
    const problems = await store.save();
    if (problems.length) {
      const conflict = problems.some((p) => p.status === 409);
      showError(message, conflict
        ? `Someone else changed an annotation you edited; reload to see their version. (${problems[0].message})`
        : problems.map((p) => p.message).join("; "));
    } else {
      message.hidden = false;
      message.classList.remove("error");
      message.textContent = "All changes saved.";
      refreshReview(); // the first expert edit puts the slide in review
      setTimeout(() => { if (message.textContent === "All changes saved.") message.hidden = true; }, 2500);
    }
  }
  $("annotation-save").addEventListener("click", save);
  $("annotation-undo").addEventListener("click", () => store.undo());
  $("annotation-redo").addEventListener("click", () => store.redo());
  $("annotation-delete").addEventListener("click", deleteSelected);

  document.addEventListener("keydown", (event) => {
    if (event.target.closest && event.target.closest("input,select,textarea")) return;
    const key = event.key.toLowerCase();
    const mod = event.ctrlKey || event.metaKey;
    if (mod && key === "z") { event.preventDefault(); if (event.shiftKey) store.redo(); else store.undo(); }
    else if (mod && key === "y") { event.preventDefault(); store.redo(); }
    else if (mod && key === "s") { event.preventDefault(); save(); }
    else if (!mod && (key === "delete" || key === "backspace")) deleteSelected();
    else if (!mod && key === "escape" && toolName !== "polygon") setTool("pan");
    else if (!mod && SHORTCUTS[key]) setTool(SHORTCUTS[key]);
  });
  window.addEventListener("beforeunload", (event) => {
    if (store.dirtyCount) { event.preventDefault(); event.returnValue = ""; }
  });

  // --- import, export, review ----------------------------------------------------------
  $("annotation-import").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    try {
      const result = await api(`/api/v1/slides/${slideId}/annotations/import`, { method: "POST", body: file });
      showError(message, "");
      message.hidden = false;
      message.textContent = `Imported ${result.created} outlines (${result.format}).`;
      await loadView();
    } catch (error) {
      showError(message, `Import failed: ${error.message}`);
    }
    event.target.value = "";
  });
  async function refreshReview() {
    const state = await api(`/api/v1/slides/${slideId}/review`);
    store.status = state.status;
    store.round = state.round;
    $("review-rounds").replaceChildren(...state.rounds.map((r) => {
      const li = document.createElement("li");
      li.textContent = `Round ${r.round}: ${r.verdict.replace("_", " ")} by ${r.reviewer} — ${r.opinion} `;
      const link = document.createElement("a");
      link.href = `/api/v1/slides/${slideId}/annotations.xml?round=${r.round}`;
      link.textContent = "XML";
      li.append(link);
      return li;
    }));
    renderList();
  }
  $("review-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (store.dirtyCount) await save();
    try {
      await api(`/api/v1/slides/${slideId}/review`, {
        method: "PUT", json: { verdict: $("review-verdict").value, opinion: $("review-opinion").value },
      });
      showError($("review-error"), "");
      await refreshReview();
    } catch (error) {
      showError($("review-error"), error.message);
    }
  });
  refreshReview();
  setTool("pan");
  window.pathodeskAnnotations = { store, canvas, setTool, loadView };
  return window.pathodeskAnnotations;
}
