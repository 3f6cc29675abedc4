// Serial sections side by side (SPEC D1, D2): one OpenSeadragon viewer per stain; moving one
// moves the others to the same tissue through each section's stored transform (an affine and
// a displacement grid over the reference), and one stain can be laid over the reference.
import OpenSeadragon from "openseadragon";
import "./page.js";
import { api } from "./api.js";
import "./lesion-class.js";

const root = document.getElementById("section-viewers");
const groupId = root.dataset.groupId;
const referenceId = Number(root.dataset.referenceId);
const viewers = new Map(); // slide id -> { viewer, width, transform }
let leading = null; // the viewer the user moves; the others follow it

function bilinear(grid, x, y, values) {
  const gx = Math.min(Math.max(x / grid.step[0], 0), grid.columns - 1.001);
  const gy = Math.min(Math.max(y / grid.step[1], 0), grid.rows - 1.001);
  const i = Math.floor(gx);
  const j = Math.floor(gy);
  const fx = gx - i;
  const fy = gy - j;
  const at = (a, b) => values[b * grid.columns + a];
  return (
    at(i, j) * (1 - fx) * (1 - fy) + at(i + 1, j) * fx * (1 - fy) + at(i, j + 1) * (1 - fx) * fy + at(i + 1, j + 1) * fx * fy
  );
}

// reference level-0 px -> this section's level-0 px
function forward(transform, [x, y]) {
  const [[a, b, c], [d, e, f]] = transform.affine;
  return [
    a * x + b * y + c + bilinear(transform.grid, x, y, transform.grid.dx),
    d * x + e * y + f + bilinear(transform.grid, x, y, transform.grid.dy),
  ];
}

// this section's level-0 px -> reference level-0 px (fixed-point iteration; the field is smooth)
function inverse(transform, [u, v]) {
  const [[a, b, c], [d, e, f]] = transform.affine;
  const det = a * e - b * d;
  const solve = (p, q) => [(e * (p - c) - b * (q - f)) / det, (-d * (p - c) + a * (q - f)) / det];
  let point = solve(u, v);
  for (let k = 0; k < 20; k += 1) {
    const [x, y] = point;
    point = solve(u - bilinear(transform.grid, x, y, transform.grid.dx), v - bilinear(transform.grid, x, y, transform.grid.dy));
  }
  return point;
}

function scaleOf(transform) {
  const [[a, b], [d, e]] = transform.affine;
  return Math.sqrt(Math.abs(a * e - b * d));
}

// where the viewer's centre is, in its slide's level-0 px, and how many screen px one level-0 px takes
function view(entry) {
  const { viewer, width } = entry;
  const centre = viewer.viewport.getCenter(true);
  return { centre: [centre.x * width, centre.y * width], zoom: viewer.viewport.getZoom(true) / width };
}

function show(entry, centre, zoom) {
  const { viewer, width } = entry;
  viewer.viewport.panTo(new OpenSeadragon.Point(centre[0] / width, centre[1] / width), true);
  viewer.viewport.zoomTo(zoom * width, null, true);
}

function follow(sourceId) {
  if (!document.getElementById("link-views").checked) return;
  const source = viewers.get(sourceId);
  const here = view(source);
  // into the reference's frame first
  let centre = here.centre;
  let zoom = here.zoom;
  if (sourceId !== referenceId) {
    centre = inverse(source.transform, centre);
    zoom = here.zoom * scaleOf(source.transform);
  }
  for (const [slideId, entry] of viewers) {
    if (slideId === sourceId) continue;
    if (slideId === referenceId) show(entry, centre, zoom);
    else if (entry.transform) show(entry, forward(entry.transform, centre), zoom / scaleOf(entry.transform));
  }
}

async function start() {
  for (const figure of root.querySelectorAll(".section-viewer")) {
    const slideId = Number(figure.dataset.slideId);
    const viewer = OpenSeadragon({
      element: figure.querySelector(".osd"),
      prefixUrl: "/static/dist/osd-images/",
      tileSources: `/dzi/${slideId}.dzi`,
      showNavigator: false,
      crossOriginPolicy: false,
      loadTilesWithAjax: true,
      ajaxWithCredentials: true,
      drawer: "canvas",
    });
    const entry = { viewer, width: Number(figure.dataset.width), transform: null };
    viewers.set(slideId, entry);
    if (slideId !== referenceId && figure.dataset.registered === "true") {
      entry.transform = await api(`/api/v1/section-groups/${groupId}/slides/${slideId}/transform`);
    }
    const lead = () => {
      leading = slideId;
    };
    viewer.addHandler("canvas-press", lead);
    viewer.addHandler("canvas-scroll", lead);
    viewer.addHandler("canvas-key", lead);
    viewer.addHandler("viewport-change", () => {
      if (leading === slideId) follow(slideId);
    });
  }
  window.pathodeskSections = { viewers, follow, lead: (id) => (leading = id) };
  startOverlay();
  startColourSwitch();
  root.dataset.ready = "true";
}

function startOverlay() {
  const choice = document.getElementById("overlay-slide");
  const opacity = document.getElementById("overlay-opacity");
  const reference = viewers.get(referenceId).viewer;
  let item = null;
  choice.addEventListener("change", () => {
    if (item) reference.world.removeItem(item);
    item = null;
    if (!choice.value) return;
    reference.addSimpleImage({
      url: `/api/v1/section-groups/${groupId}/slides/${choice.value}/overlay.png`,
      x: 0,
      y: 0,
      width: 1,
      opacity: Number(opacity.value),
      success: (event) => {
        item = event.item;
      },
    });
  });
  opacity.addEventListener("input", () => item && item.setOpacity(Number(opacity.value)));
}

// As scanned, or every other section's tiles recomposed in the reference's stain colours (D3),
// reopened where the viewer was
function startColourSwitch() {
  const mode = document.getElementById("colour-mode");
  mode.addEventListener("change", () => {
    for (const [slideId, entry] of viewers) {
      if (slideId === referenceId) continue;
      const { viewer } = entry;
      const centre = viewer.viewport.getCenter(true);
      const zoom = viewer.viewport.getZoom(true);
      viewer.addOnceHandler("open", () => {
        viewer.viewport.panTo(centre, true);
        viewer.viewport.zoomTo(zoom, null, true);
        root.dataset.colours = mode.value;
      });
      viewer.open(
        mode.value === "normalized"
          ? `/api/v1/section-groups/${groupId}/slides/${slideId}/normalized.dzi`
          : `/dzi/${slideId}.dzi`,
      );
    }
  });
}

start();
