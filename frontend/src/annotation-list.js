// The annotation list beside the viewer: one row per outline in view (class, area, perimeter,
// the AI's probability, who drew it), filters by class and source, click to fly to an outline.
import { $ } from "./dom.js";
import { formatArea, formatLength, formatNumber as fmt, t, term } from "./i18n.js";

const MAX_ROWS = 300;

function labelOptions(store, selected) {
  return Object.keys(store.labels).map((name) => {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = term("class", name);
    option.selected = name === selected;
    return option;
  });
}

// Counted cells (point tool) in view, per class: "; points: lung_aca 12, lung_n 3".
function pointCounts(records) {
  const counts = new Map();
  for (const record of records) {
    if (record.shape === "point") counts.set(record.label, (counts.get(record.label) || 0) + 1);
  }
  if (!counts.size) return "";
  const list = [...counts].map(([label, count]) => `${term("class", label)} ${fmt(count)}`).join(", ");
  return t("; points: {list}", { list });
}

// Who drew it (the AI, registration from the reference section, or an expert, by name), and
// who changed it since: a corrected AI outline says both.
function drawnBy(record) {
  const editor = record.edited_by_name || record.edited_by;
  if (record.source !== "expert") {
    const machine = term("source", record.source);
    return editor ? t("{author}, edited by {editor}", { author: machine, editor }) : machine;
  }
  const author = record.author_name || record.author || (record.id === null ? t("you") : "—");
  if (!editor || record.edited_by === record.author) return author;
  return t("{author}, edited by {editor}", { author, editor });
}

export function flyTo(viewer, record) {
  const [x0, y0, x1, y1] = record.bbox;
  const item = viewer.world.getItemAt(0);
  const pad = Math.max(x1 - x0, y1 - y0) * 0.6 + 20;
  viewer.viewport.fitBounds(item.imageToViewportRectangle(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad));
}

// Wires the list and returns renderList(); `editor` holds viewer, store, canvas, mpp, labelSelect.
export function wireList(editor) {
  const { viewer, store, canvas, mpp, labelSelect } = editor;
  const filters = { label: $("filter-label"), source: $("filter-source") };
  const body = $("annotation-rows");

  function fillLabelSelects() {
    const names = Object.keys(store.labels);
    if (labelSelect.options.length === names.length) return;
    labelSelect.replaceChildren(...labelOptions(store, labelSelect.value || names[0]));
    const all = document.createElement("option");
    all.value = "";
    all.textContent = t("all classes");
    filters.label.replaceChildren(all, ...labelOptions(store, null));
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
    show.title = t("show or hide");
    show.setAttribute("aria-label", show.title);
    show.addEventListener("change", () => { record.hidden = !show.checked; canvas.render(); });
    const relabel = document.createElement("select");
    relabel.className = "relabel";
    relabel.setAttribute("aria-label", t("class"));
    relabel.append(...labelOptions(store, record.label));
    relabel.addEventListener("change", () => {
      store.apply(record.key, { geometry: record.geometry, label: relabel.value, shape: record.shape });
    });
    const area = mpp ? record.area_px * mpp * mpp : null;
    const perimeter = mpp ? record.perimeter_px * mpp : null;
    const cells = [
      show, relabel, formatArea(area), formatLength(perimeter),
      record.probability === null ? "—" : record.probability.toFixed(2), drawnBy(record),
    ];
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = td.title = cell;
      tr.append(td);
    }
    tr.querySelector("td").style.borderLeft = `4px solid ${record.color}`;
    tr.addEventListener("click", (event) => {
      if (event.target.closest("input,select")) return;
      canvas.select(record.key);
      flyTo(viewer, record);
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
    const more = shown.length > MAX_ROWS ? t(", first {count} listed", { count: MAX_ROWS }) : "";
    const small = store.omitted ? t("; {count} too small to see at this zoom", { count: fmt(store.omitted) }) : "";
    const unsaved = records.filter((r) => r.id === null).length - store.pendingDeletes.size;
    const counted = t("{count} in view of {total}", { count: fmt(shown.length), total: fmt(store.total + unsaved) });
    $("annotation-count").textContent = counted + more + small + pointCounts(shown);
    const dirty = store.dirtyCount;
    $("annotation-save").textContent = dirty ? t("Save ({count})", { count: dirty }) : t("Saved");
    $("annotation-save").disabled = dirty === 0;
    $("annotation-undo").disabled = store.undoStack.length === 0;
    $("annotation-redo").disabled = store.redoStack.length === 0;
    $("review-status").textContent = t("{status}, round {round}", { status: term("status", store.status), round: store.round });
    viewer.element.dataset.annotationCount = String(store.records.size);
    showDetails();
  }

  // the selected annotation's name and comment, edited like its outline (saved, undoable)
  const details = { box: $("annotation-details"), name: $("annotation-name"), comment: $("annotation-comment") };
  function showDetails() {
    const record = canvas.selectedKey ? store.records.get(canvas.selectedKey) : null;
    details.box.hidden = !record;
    if (!record) return;
    if (document.activeElement !== details.name) details.name.value = record.name || "";
    if (document.activeElement !== details.comment) details.comment.value = record.comment || "";
  }
  for (const field of [details.name, details.comment]) {
    field.addEventListener("change", () => {
      const key = canvas.selectedKey;
      const record = key ? store.records.get(key) : null;
      if (!record) return;
      store.apply(key, {
        geometry: record.geometry, label: record.label, shape: record.shape,
        name: details.name.value.trim() || null, comment: details.comment.value.trim() || null,
      });
    });
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
  return renderList;
}
