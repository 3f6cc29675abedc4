// Drawing and editing tools (issue 4, SPEC A9/A10; issue 21, item 5): pencil, polygon,
// rectangle, circle, select/move/edit vertices, point (cell counting), brush and eraser, and
// a ruler that measures without saving. Points arrive in level-0 px (the paper view's units).
import paper from "paper/dist/paper-core";
import {
  circleGeometry, geometryFromItem, geometryFromRegion, polygonGeometry, rectangleGeometry,
} from "./annotation-geometry.js";
import { formatNumber, t } from "./i18n.js";

const CLOSE_PX = 10; // clicking this close to the first vertex closes a polygon
const SIMPLIFY_PX = 1.5; // freehand strokes are simplified to this many screen px on release
const BRUSH_PX = 14; // brush and eraser radius on screen
const POINT_UM = 3; // a counted cell is a dot of this radius on the slide (6 px without mpp)
const LABEL_PX = 13;

export function makeTools(canvas, store, currentLabel, mpp, say) {
  const scope = canvas.scope;
  const sketch = (props) => {
    canvas.sketchLayer.activate();
    const path = new paper.Path({ strokeColor: "#00a0ff", strokeWidth: 2, strokeScaling: false, ...props });
    canvas.layer.activate();
    return path;
  };
  const finish = (geometry, shape) => {
    const key = store.create({ geometry, label: currentLabel(), shape });
    canvas.select(key);
    return key;
  };
  const tools = {};

  tools.pencil = new paper.Tool();
  let stroke = null;
  tools.pencil.onMouseDown = (event) => { stroke = sketch({ segments: [event.point] }); };
  tools.pencil.onMouseDrag = (event) => { if (stroke) stroke.add(event.point); };
  tools.pencil.onMouseUp = () => {
    if (!stroke) return;
    const path = stroke;
    stroke = null;
    path.closed = true;
    path.simplify(SIMPLIFY_PX / canvas.zoom);
    path.flatten(SIMPLIFY_PX / canvas.zoom); // curves back to straight vertices
    const points = path.segments.map((s) => s.point);
    path.remove();
    if (points.length >= 3) finish(polygonGeometry(points), "freehand");
  };

  tools.polygon = new paper.Tool();
  let polygon = null;
  let rubber = null;
  const closePolygon = () => {
    if (!polygon) return;
    const points = polygon.segments.map((s) => s.point);
    polygon.remove();
    rubber?.remove();
    polygon = rubber = null;
    if (points.length >= 3) finish(polygonGeometry(points), "polygon");
  };
  tools.polygon.onMouseDown = (event) => {
    if (!polygon) {
      polygon = sketch({ segments: [event.point] });
      rubber = sketch({ segments: [event.point, event.point], dashArray: [4, 4] });
      return;
    }
    const first = polygon.firstSegment.point;
    if (event.event.detail >= 2 || first.getDistance(event.point) * canvas.zoom < CLOSE_PX) {
      closePolygon();
    } else {
      polygon.add(event.point);
    }
  };
  tools.polygon.onMouseMove = (event) => {
    if (rubber) rubber.lastSegment.point = event.point;
  };
  tools.polygon.onKeyDown = (event) => {
    if (event.key === "enter") closePolygon();
    if (event.key === "escape" && polygon) {
      polygon.remove(); rubber.remove(); polygon = rubber = null;
    }
  };

  const dragShape = (geometryFor, shape) => {
    const tool = new paper.Tool();
    let start = null;
    let preview = null;
    tool.onMouseDown = (event) => { start = event.point; };
    tool.onMouseDrag = (event) => {
      preview?.remove();
      const geometry = geometryFor(start, event.point);
      preview = sketch({ segments: geometry.coordinates[0].slice(0, -1), closed: true });
    };
    tool.onMouseUp = (event) => {
      preview?.remove();
      preview = null;
      const geometry = geometryFor(start, event.point);
      start = null;
      if (geometry.coordinates[0].length && event.delta.length * canvas.zoom >= 0) {
        const [[ax, ay], , [bx, by]] = geometry.coordinates[0];
        if (Math.abs(bx - ax) * canvas.zoom >= 3 || Math.abs(by - ay) * canvas.zoom >= 3) finish(geometry, shape);
      }
    };
    return tool;
  };
  tools.rectangle = dragShape(rectangleGeometry, "rectangle");
  tools.circle = dragShape((centre, edge) => circleGeometry(centre, centre.getDistance(edge)), "ellipse");

  // select: click a shape; drag a vertex to reshape it, drag inside to move it
  tools.select = new paper.Tool();
  let drag = null;
  tools.select.onMouseDown = async (event) => {
    const hit = canvas.hit(event.point);
    if (!hit || !hit.item.data.key) {
      canvas.select(null);
      store.changed({ selected: null });
      return;
    }
    const key = hit.item.data.key;
    if (store.records.get(key)?.simplified) await store.loadFull(key); // never edit a simplified outline
    canvas.select(key);
    store.changed({ selected: key });
    const item = canvas.items.get(key);
    const again = canvas.hit(event.point);
    drag = { key, item, segment: again && again.type === "segment" ? again.segment : null, moved: false };
  };
  tools.select.onMouseDrag = (event) => {
    if (!drag || !drag.item) return;
    if (drag.segment) drag.segment.point = drag.segment.point.add(event.delta);
    else drag.item.translate(event.delta);
    drag.moved = true;
  };
  tools.select.onMouseUp = () => {
    if (drag && drag.moved) {
      const record = store.records.get(drag.key);
      store.apply(drag.key, { geometry: geometryFromItem(drag.item), label: record.label, shape: record.shape });
    }
    drag = null;
  };

  // point: one click, one counted object of the current class
  tools.point = new paper.Tool();
  tools.point.onMouseDown = (event) => {
    finish(circleGeometry(event.point, mpp ? POINT_UM / mpp : 6), "point");
  };

  // ruler: drag to measure; the line and its length stay until the next measurement
  tools.ruler = new paper.Tool();
  let ruler = null;
  const clearRuler = () => { ruler?.line.remove(); ruler?.text.remove(); ruler = null; };
  tools.ruler.onMouseDown = (event) => {
    clearRuler();
    ruler = { start: event.point, line: sketch({ segments: [event.point, event.point], strokeColor: "#ffb000" }) };
    canvas.sketchLayer.activate();
    ruler.text = new paper.PointText({ point: event.point, fillColor: "#000", shadowColor: "#fff", shadowBlur: 4 });
    canvas.layer.activate();
  };
  tools.ruler.onMouseDrag = (event) => {
    if (!ruler) return;
    ruler.line.lastSegment.point = event.point;
    const px = ruler.start.getDistance(event.point);
    const text = mpp ? t("{length} µm", { length: formatNumber(px * mpp, 1) }) : t("{length} px", { length: formatNumber(px) });
    ruler.text.content = text;
    ruler.text.fontSize = LABEL_PX / canvas.zoom;
    ruler.text.point = ruler.start.add(event.point).divide(2);
    say(t("Length: {text}", { text }));
    document.documentElement.dataset.rulerPx = String(Math.round(px));
  };
  tools.ruler.clear = clearRuler; // when another tool is picked

  // brush paints a region (joined to the selected outline it touches); the eraser takes a
  // region away from the selected outline
  const brushTool = (erase) => {
    const tool = new paper.Tool();
    let region = null;
    let last = null;
    let preview = null;
    const dab = (point) => {
      const circle = new paper.Path.Circle({ center: point, radius: BRUSH_PX / canvas.zoom, insert: false });
      region = region ? region.unite(circle, { insert: false }) : circle;
    };
    const show = () => {
      preview?.remove();
      canvas.sketchLayer.activate();
      preview = region.clone();
      preview.fillColor = erase ? new paper.Color(1, 1, 1, 0.5) : new paper.Color(0, 0.63, 1, 0.3);
      preview.strokeColor = erase ? "#b00020" : "#00a0ff";
      preview.strokeScaling = false;
      canvas.layer.activate();
    };
    tool.onMouseDown = (event) => { region = null; dab(event.point); last = event.point; show(); };
    tool.onMouseDrag = (event) => {
      const step = BRUSH_PX / canvas.zoom / 2;
      const distance = last.getDistance(event.point);
      for (let d = step; d <= distance; d += step) dab(last.add(event.point.subtract(last).multiply(d / distance)));
      if (distance >= step) last = event.point;
      show();
    };
    tool.onMouseUp = async () => {
      preview?.remove();
      const painted = region;
      region = preview = null;
      if (!painted) return;
      const flatness = SIMPLIFY_PX / canvas.zoom;
      const key = canvas.selectedKey;
      if (key && store.records.get(key)?.simplified) await store.loadFull(key);
      const record = key ? store.records.get(key) : null;
      if (record) canvas.render();
      const item = record ? canvas.items.get(key) : null;
      if (erase) {
        if (!item) return say(t("Select the outline to erase from first."));
        const geometry = geometryFromRegion(item.subtract(painted, { insert: false }), flatness);
        store.apply(key, geometry && { geometry, label: record.label, shape: "freehand" });
        if (!geometry) canvas.selectedKey = null;
        return;
      }
      if (item && (item.intersects(painted) || item.contains(painted.position))) {
        const geometry = geometryFromRegion(item.unite(painted, { insert: false }), flatness);
        if (geometry) store.apply(key, { geometry, label: record.label, shape: "freehand" });
        return;
      }
      const geometry = geometryFromRegion(painted, flatness);
      if (geometry) finish(geometry, "freehand");
    };
    return tool;
  };
  tools.brush = brushTool(false);
  tools.eraser = brushTool(true);

  tools.pan = new paper.Tool(); // does nothing: OpenSeadragon has the mouse
  for (const tool of Object.values(tools)) tool.minDistance = 0;
  scope.tool = tools.pan;
  return tools;
}
