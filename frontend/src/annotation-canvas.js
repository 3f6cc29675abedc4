// The drawing layer (issue 4, SPEC A8/A9): a paper.js canvas over OpenSeadragon whose
// project coordinates are level-0 slide pixels, kept in step with every zoom and pan.
import OpenSeadragon from "openseadragon";
import paper from "paper/dist/paper-core";
import { itemFromGeometry } from "./annotation-geometry.js";
import { term } from "./i18n.js";

const LABEL_PX = 13; // class labels on the slide, in screen px
const MAX_LABELS = 150;

export class AnnotationCanvas {
  constructor(viewer, store) {
    this.viewer = viewer;
    this.store = store;
    this.items = new Map(); // key -> paper item
    this.selectedKey = null;
    this.canvas = document.createElement("canvas");
    this.canvas.id = "annotation-canvas";
    this.canvas.className = "annotation-canvas";
    viewer.canvas.appendChild(this.canvas);
    paper.setup(this.canvas); // one drawing layer per page: paper's default scope
    paper.settings.handleSize = 9; // vertex handles a hand can grab (screen px)
    this.scope = paper;
    this.layer = this.scope.project.activeLayer;
    this.labelLayer = new paper.Layer(); // each outline's class, written on the slide
    this.labels = new Map(); // key -> paper.PointText
    this.sketchLayer = new paper.Layer(); // what a tool is drawing right now
    this.nucleiLayer = new paper.Layer(); // nuclei counted in a region (ihc-panel.js)
    this.nucleiLayer.insertBelow(this.labelLayer);
    this.layer.activate();
    this.zoom = 1;
    for (const event of ["update-viewport", "resize", "open"]) viewer.addHandler(event, () => this.sync());
  }

  // screen px per level-0 px, and where the slide's origin is on screen
  sync() {
    const item = this.viewer.world.getItemAt(0);
    if (!item) return;
    const size = this.viewer.container.getBoundingClientRect();
    const view = this.scope.view;
    if (view.viewSize.width !== Math.round(size.width) || view.viewSize.height !== Math.round(size.height)) {
      view.viewSize = new paper.Size(Math.round(size.width), Math.round(size.height));
    }
    this.zoom = item.viewportToImageZoom(this.viewer.viewport.getZoom(true));
    // slide px -> screen px, rotation included: where the slide's x axis points on screen
    const origin = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(0, 0));
    const unitX = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(1000, 0)).minus(origin).divide(1000);
    view.matrix = new paper.Matrix(unitX.x, unitX.y, -unitX.y, unitX.x, origin.x, origin.y);
    for (const text of this.labels.values()) text.fontSize = LABEL_PX / this.zoom; // same size on screen
    view.update();
  }

  imageRect(margin = 0) {
    const item = this.viewer.world.getItemAt(0);
    const rect = item.viewportToImageRectangle(this.viewer.viewport.getBounds(true));
    return {
      x0: rect.x - margin * rect.width,
      y0: rect.y - margin * rect.height,
      x1: rect.x + (1 + margin) * rect.width,
      y1: rect.y + (1 + margin) * rect.height,
    };
  }

  style(item, record, selected) {
    const colour = new paper.Color(record.color || "#808080");
    item.strokeColor = colour;
    item.strokeWidth = selected ? 3 : 2;
    item.strokeScaling = false;
    const fill = colour.clone();
    fill.alpha = selected ? 0.35 : 0.18;
    item.fillColor = fill;
    item.visible = !record.hidden && !record.filteredOut;
    item.selected = selected;
  }

  // Draw what the store holds; items are rebuilt only for records that changed.
  render() {
    this.layer.activate();
    for (const [key, item] of this.items) {
      const record = this.store.records.get(key);
      if (!record || record.geometry !== item.data.geometry) {
        item.remove();
        this.items.delete(key);
      }
    }
    for (const [key, record] of this.store.records) {
      let item = this.items.get(key);
      if (!item) {
        item = itemFromGeometry(record.geometry);
        item.data.key = key;
        item.data.geometry = record.geometry;
        this.layer.addChild(item);
        this.items.set(key, item);
      }
      this.style(item, record, key === this.selectedKey);
    }
    this.renderLabels();
    this.scope.view.update();
  }

  // The class beside each outline in view (the largest first when there are many).
  renderLabels() {
    for (const text of this.labels.values()) text.remove();
    this.labels.clear();
    this.labelLayer.activate();
    const shown = [...this.items].filter(([, item]) => item.visible)
      .sort(([, a], [, b]) => b.bounds.area - a.bounds.area).slice(0, MAX_LABELS);
    for (const [key, item] of shown) {
      const record = this.store.records.get(key);
      const text = new paper.PointText({
        point: item.bounds.topLeft.subtract(new paper.Point(0, 4 / this.zoom)),
        content: term("class", record.label), fontSize: LABEL_PX / this.zoom, fontWeight: "bold",
        fillColor: record.color || "#808080", shadowColor: "white", shadowBlur: 3,
      });
      text.data.key = key;
      this.labels.set(key, text);
    }
    this.layer.activate();
  }

  select(key) {
    this.selectedKey = key;
    this.render();
    this.store.dispatchEvent(new CustomEvent("select", { detail: { key } }));
  }

  // Counted nuclei as rings of `radius` slide px: red where their DAB reaches `threshold`
  // (positive), blue otherwise. Two compound paths, so thousands of rings stay light.
  showNuclei(cells, threshold, radius) {
    this.nucleiLayer.removeChildren();
    this.nucleiLayer.activate();
    for (const [colour, positive] of [["#c81e1e", true], ["#1e50dc", false]]) {
      const rings = new paper.CompoundPath({ strokeColor: colour, strokeWidth: 2, strokeScaling: false });
      for (const [x, y, dab] of cells) {
        if ((dab >= threshold) === positive) rings.addChild(new paper.Path.Circle({ center: [x, y], radius, insert: false }));
      }
      rings.data.positive = positive;
      this.nucleiLayer.addChild(rings);
    }
    this.layer.activate();
    this.viewer.element.dataset.nucleiShown = String(cells.length);
    this.scope.view.update();
  }

  hit(point, tolerancePx = 10) {
    return this.layer.hitTest(point, {
      segments: true, stroke: true, fill: true, tolerance: tolerancePx / this.zoom,
    });
  }
}
