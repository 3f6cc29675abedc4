// GeoJSON (level-0 px, what the server stores) <-> paper.js items (issue 4, SPEC A9).
import paper from "paper/dist/paper-core";

export const ELLIPSE_VERTICES = 64;

function ringPath(ring) {
  const points = ring.slice(0, -1).map(([x, y]) => new paper.Point(x, y));
  return new paper.Path({ segments: points, closed: true, insert: false });
}

// Polygon -> Path (or CompoundPath with holes); MultiPolygon -> CompoundPath.
// data.structure keeps how many rings each polygon has, so edits write the same shape back.
export function itemFromGeometry(geometry) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  const structure = polygons.map((rings) => rings.length);
  let item;
  if (polygons.length === 1 && polygons[0].length === 1) {
    item = ringPath(polygons[0][0]);
  } else {
    item = new paper.CompoundPath({ children: polygons.flat().map(ringPath), insert: false });
    item.fillRule = "evenodd";
  }
  item.data.structure = structure;
  return item;
}

function ringOf(path) {
  const ring = path.segments.map((s) => [s.point.x, s.point.y]);
  ring.push([...ring[0]]);
  return ring;
}

export function geometryFromItem(item) {
  const paths = item instanceof paper.CompoundPath ? item.children : [item];
  const structure = item.data.structure || [paths.length];
  const polygons = [];
  let next = 0;
  for (const rings of structure) {
    polygons.push(paths.slice(next, next + rings).map(ringOf));
    next += rings;
  }
  return polygons.length === 1
    ? { type: "Polygon", coordinates: polygons[0] }
    : { type: "MultiPolygon", coordinates: polygons };
}

// Any closed region paper.js made (brush strokes, boolean results, curves included) ->
// GeoJSON: flattened to straight edges; a ring inside another ring is that ring's hole.
export function geometryFromRegion(item, flatness) {
  const shape = item.clone({ insert: false });
  shape.flatten(flatness);
  const paths = (shape instanceof paper.CompoundPath ? shape.children : [shape])
    .filter((p) => p.segments.length >= 3 && Math.abs(p.area) > 0);
  const inside = (inner, outer) => inner !== outer && Math.abs(outer.area) > Math.abs(inner.area)
    && outer.contains(inner.interiorPoint);
  const outers = paths.filter((p) => !paths.some((o) => inside(p, o)));
  const polygons = outers.map((outer) => [
    ringOf(outer), ...paths.filter((h) => !outers.includes(h) && inside(h, outer)).map(ringOf),
  ]);
  if (!polygons.length) return null;
  return polygons.length === 1
    ? { type: "Polygon", coordinates: polygons[0] }
    : { type: "MultiPolygon", coordinates: polygons };
}

export function rectangleGeometry(a, b) {
  const [x0, x1] = [Math.min(a.x, b.x), Math.max(a.x, b.x)];
  const [y0, y1] = [Math.min(a.y, b.y), Math.max(a.y, b.y)];
  const ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
  return { type: "Polygon", coordinates: [ring] };
}

export function circleGeometry(centre, radius) {
  const ring = [];
  for (let i = 0; i < ELLIPSE_VERTICES; i += 1) {
    const angle = (2 * Math.PI * i) / ELLIPSE_VERTICES;
    ring.push([centre.x + radius * Math.cos(angle), centre.y + radius * Math.sin(angle)]);
  }
  ring.push([...ring[0]]);
  return { type: "Polygon", coordinates: [ring] };
}

export function polygonGeometry(points) {
  const ring = points.map((p) => [p.x, p.y]);
  ring.push([...ring[0]]);
  return { type: "Polygon", coordinates: [ring] };
}

export function bboxOf(geometry) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  for (const [x, y] of polygons.flat(2)) {
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  return [x0, y0, x1, y1];
}

// Shoelace area and ring length, for the list while a shape is not yet saved.
export function measures(geometry) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  let area = 0;
  let perimeter = 0;
  for (const rings of polygons) {
    rings.forEach((ring, index) => {
      let twice = 0;
      for (let i = 0; i + 1 < ring.length; i += 1) {
        const [ax, ay] = ring[i];
        const [bx, by] = ring[i + 1];
        twice += ax * by - bx * ay;
        perimeter += Math.hypot(bx - ax, by - ay);
      }
      area += (index === 0 ? 1 : -1) * Math.abs(twice / 2);
    });
  }
  return { area, perimeter };
}
