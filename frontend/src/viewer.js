// Slide viewer (SPEC A8): OpenSeadragon over Deep Zoom, navigator, scale bar in µm.
import OpenSeadragon from "openseadragon";
import "./page.js";
import { startAnnotator } from "./annotator.js";
import { startAnalysisPanel } from "./analysis-panel.js";
import { overlayToggler } from "./overlays.js";
import { startViewTools } from "./view-tools.js";
import { startPanel } from "./panel.js";
import { startSuperResolutionView } from "./superres-view.js";
import { t } from "./i18n.js";

const container = document.getElementById("viewer");
const slideId = container.dataset.slideId;
const mpp = parseFloat(container.dataset.mpp) || null;
const MIN_MAGNIFICATION = 60; // A8: free zoom to at least 60x

// Magnification-equivalent: 10 µm/px-to-1x convention (0.25 µm/px = 40x).
function maxPixelRatio() {
  if (!mpp) return 4;
  const nativeMagnification = 10 / mpp;
  return Math.max(2, (1.1 * MIN_MAGNIFICATION) / nativeMagnification);
}

// OpenSeadragon's own button tooltips, in the page's language
const TOOLTIPS = {
  FullPage: t("Full screen"),
  Home: t("Whole slide"),
  ZoomIn: t("Zoom in"),
  ZoomOut: t("Zoom out"),
  RotateLeft: t("Rotate left"),
  RotateRight: t("Rotate right"),
  Flip: t("Flip horizontally"),
};
for (const [name, text] of Object.entries(TOOLTIPS)) OpenSeadragon.setString(`Tooltips.${name}`, text);

const viewer = OpenSeadragon({
  element: container,
  prefixUrl: "/static/dist/osd-images/",
  tileSources: `/dzi/${slideId}.dzi`,
  showNavigator: true,
  navigatorPosition: "BOTTOM_RIGHT",
  maxZoomPixelRatio: maxPixelRatio(),
  visibilityRatio: 0.5,
  crossOriginPolicy: false,
  loadTilesWithAjax: true,
  ajaxWithCredentials: true,
  imageSmoothingEnabled: true,
  drawer: "canvas",
  gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
});
window.pathodeskViewer = viewer;

const bar = document.getElementById("scale-bar");
const barLine = bar.querySelector(".line");
const barLabel = bar.querySelector(".label");
const magnification = document.getElementById("magnification");
const NICE = [1, 2, 5];

function niceLength(maxMicrons) {
  const exponent = Math.floor(Math.log10(maxMicrons));
  let best = Math.pow(10, exponent);
  for (const factor of NICE) {
    const candidate = factor * Math.pow(10, exponent);
    if (candidate <= maxMicrons) best = candidate;
  }
  return best;
}

function formatMicrons(value) {
  return value >= 1000 ? `${value / 1000} mm` : `${value} µm`;
}

function updateScale() {
  const item = viewer.world.getItemAt(0);
  if (!item) return;
  // screen pixels per level-0 image pixel
  const zoom = item.viewportToImageZoom(viewer.viewport.getZoom(true));
  if (mpp) {
    const micronsPerScreenPx = mpp / zoom;
    const length = niceLength(micronsPerScreenPx * 160);
    barLine.style.width = `${length / micronsPerScreenPx}px`;
    barLabel.textContent = formatMicrons(length);
    magnification.textContent = `≈ ${((10 / mpp) * zoom).toFixed(1)}×`;
  } else {
    barLabel.textContent = t("no µm scale (the slide has no pixel size)");
    magnification.textContent = `${(zoom * 100).toFixed(0)} %`;
  }
  bar.hidden = false;
}

viewer.addHandler("open", updateScale);
viewer.addHandler("animation", updateScale);
viewer.addHandler("zoom", updateScale);

// QC overlays (issue 5) and analysis heatmaps (issue 7) share one overlay layer manager.
const toggleOverlay = overlayToggler(viewer);
for (const toggle of document.querySelectorAll("input.overlay-toggle")) {
  toggle.addEventListener("change", () => toggleOverlay(`qc-${toggle.dataset.check}`, toggle.dataset.url, toggle.checked));
}

startViewTools(viewer, mpp);
startSuperResolutionView(viewer, slideId, Number(container.dataset.storeDownsample) || 1);
startPanel();

// Annotation editor, list and review (issue 4).
const annotations = document.getElementById("annotation-panel") ? startAnnotator(viewer, slideId, mpp) : null;
if (document.getElementById("analysis-panel")) startAnalysisPanel(viewer, slideId, toggleOverlay, annotations);

// Tests (and impatient users) wait for this before using the page.
document.documentElement.dataset.ready = "true";
