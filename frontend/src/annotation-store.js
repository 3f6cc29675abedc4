// The editor's model (issue 4, SPEC A10): annotations as loaded from the server plus local
// edits, an undo/redo history, and saving with each annotation's version (409 on conflict).
import { api } from "./api.js";
import { bboxOf, measures } from "./annotation-geometry.js";

let nextLocalKey = 1;

function clone(value) {
  return value === null || value === undefined ? value : JSON.parse(JSON.stringify(value));
}

export class AnnotationStore extends EventTarget {
  constructor(slideId) {
    super();
    this.slideId = slideId;
    this.records = new Map(); // key -> record
    this.pendingDeletes = new Map(); // key -> record with a server id
    this.undoStack = [];
    this.redoStack = [];
    this.labels = {};
    this.status = null;
    this.round = null;
    this.omitted = 0;
    this.total = 0;
  }

  changed(detail = {}) {
    this.dispatchEvent(new CustomEvent("change", { detail }));
  }

  get dirtyCount() {
    let count = this.pendingDeletes.size;
    for (const record of this.records.values()) if (record.dirty) count += 1;
    return count;
  }

  // Server features in view replace what we hold, except what the user is editing.
  merge(body) {
    this.labels = body.labels || this.labels;
    this.status = body.status;
    this.round = body.round;
    this.omitted = body.omitted || 0;
    this.total = body.total ?? this.total; // live outlines on the whole slide
    const seen = new Set();
    for (const feature of body.annotations) {
      const key = `a${feature.id}`;
      seen.add(key);
      if (this.pendingDeletes.has(key)) continue;
      const mine = this.records.get(key);
      if (mine && (mine.dirty || (!feature.simplified && !mine.simplified && mine.version === feature.version))) {
        continue;
      }
      this.records.set(key, { ...feature, key, dirty: false, hidden: mine ? mine.hidden : false });
    }
    for (const [key, record] of this.records) {
      if (!seen.has(key) && !record.dirty && record.id !== null) this.records.delete(key); // out of view
    }
    this.changed({ loaded: true });
  }

  async load(query) {
    const params = new URLSearchParams(query);
    this.merge(await api(`/api/v1/slides/${this.slideId}/annotations?${params}`));
  }

  async loadFull(key) {
    const record = this.records.get(key);
    if (!record || !record.simplified || record.dirty) return record;
    const feature = await api(`/api/v1/annotations/${record.id}`);
    const full = { ...feature, key, dirty: false, hidden: record.hidden };
    this.records.set(key, full);
    this.changed({ replaced: key });
    return full;
  }

  snapshot(key) {
    const record = this.records.get(key);
    return record
      ? clone({ geometry: record.geometry, label: record.label, shape: record.shape, name: record.name ?? null, comment: record.comment ?? null })
      : null;
  }

  // Every edit goes through here so that it can be undone.
  apply(key, after, { remember = true } = {}) {
    const before = this.snapshot(key);
    this.put(key, after);
    if (remember) {
      this.undoStack.push({ key, before, after: clone(after) });
      this.redoStack = [];
    }
    this.changed({ edited: key });
  }

  put(key, state) {
    const record = this.records.get(key) || this.pendingDeletes.get(key);
    if (state === null) {
      if (!record) return;
      this.records.delete(key);
      if (record.id !== null) this.pendingDeletes.set(key, record);
      return;
    }
    this.pendingDeletes.delete(key);
    const [x0, y0, x1, y1] = bboxOf(state.geometry);
    const { area, perimeter } = measures(state.geometry);
    const base = record || {
      key, id: null, version: null, source: "expert", probability: null, author: null, hidden: false,
    };
    this.records.set(key, {
      ...base, ...clone(state), bbox: [x0, y0, x1, y1], area_px: area, perimeter_px: perimeter,
      color: this.labels[state.label] || base.color, dirty: true, simplified: false,
    });
  }

  create(state) {
    const key = `n${nextLocalKey++}`;
    this.apply(key, state);
    return key;
  }

  undo() { this.step(this.undoStack, this.redoStack, "before"); }

  redo() { this.step(this.redoStack, this.undoStack, "after"); }

  step(from, to, side) {
    const op = from.pop();
    if (!op) return;
    to.push(op);
    this.put(op.key, clone(op[side]));
    this.changed({ edited: op.key });
  }

  // Deletes, then new shapes, then changes; each with the version it was based on.
  async save() {
    const problems = [];
    for (const [key, record] of [...this.pendingDeletes]) {
      try {
        await api(`/api/v1/annotations/${record.id}?version=${record.version}`, { method: "DELETE" });
        this.pendingDeletes.delete(key);
      } catch (error) {
        problems.push(error);
      }
    }
    for (const record of [...this.records.values()].filter((r) => r.dirty)) {
      const body = {
        label: record.label, geometry: record.geometry, shape: record.shape, name: record.name ?? null, comment: record.comment ?? null,
      };
      try {
        const saved = record.id === null
          ? await api(`/api/v1/slides/${this.slideId}/annotations`, { method: "POST", json: body })
          : await api(`/api/v1/annotations/${record.id}`, { method: "PATCH", json: { ...body, version: record.version } });
        this.records.delete(record.key);
        const key = `a${saved.id}`;
        this.records.set(key, { ...saved, key, dirty: false, hidden: record.hidden });
        this.rekey(record.key, key);
      } catch (error) {
        problems.push(error);
      }
    }
    this.changed({ saved: true });
    return problems;
  }

  rekey(oldKey, newKey) {
    if (oldKey === newKey) return;
    for (const op of [...this.undoStack, ...this.redoStack]) if (op.key === oldKey) op.key = newKey;
    this.changed({ rekeyed: [oldKey, newKey] });
  }
}
