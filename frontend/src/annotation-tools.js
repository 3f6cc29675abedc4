// Drawing and editing tools (issue 4, SPEC A9/A10): pencil, polygon, rectangle, circle,
// select/move/edit vertices. Points arrive in level-0 px (the paper view's coordinates).
import paper from "paper/dist/paper-core";
import {
  circleGeometry, geometryFromItem, polygonGeometry, rectangleGeometry,
} from "./annotation-geometry.js";

const CLOSE_PX = 10; // clicking this close to the first vertex closes a polygon
const SIMPLIFY_PX = 1.5; // freehand strokes are simplified to this many screen px on release

export function makeTools(canvas, store, currentLabel) {
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

  tools.pan = new paper.Tool(); // does nothing: OpenSeadragon has the mouse
  for (const tool of Object.values(tools)) tool.minDistance = 0;
  scope.tool = tools.pan;
  return tools;
}
