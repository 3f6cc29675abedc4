// Finding one's way on a slide (issue 21, item 5): magnification presets, rotation, the
// cursor's position in µm, and the shortcuts list. Magnification follows the convention of
// the scale bar: 10 µm per pixel is 1×, so 0.25 µm/px shown 1:1 is 40×.
import OpenSeadragon from "openseadragon";
import { $ } from "./dom.js";
import { formatNumber } from "./i18n.js";

const PRESETS = { 1: 5, 2: 10, 3: 20, 4: 40 };

export function startViewTools(viewer, mpp) {
  const zoomTo = (power) => {
    const item = viewer.world.getItemAt(0);
    if (!item || !mpp) return;
    const screenPerImagePx = (power * mpp) / 10;
    viewer.viewport.zoomTo(item.imageToViewportZoom(screenPerImagePx));
  };
  const rotate = (degrees) => viewer.viewport.setRotation((viewer.viewport.getRotation() + degrees + 360) % 360);

  for (const button of document.querySelectorAll("[data-magnification]")) {
    button.addEventListener("click", () => zoomTo(Number(button.dataset.magnification)));
  }
  for (const button of document.querySelectorAll("[data-rotate]")) {
    button.addEventListener("click", () => rotate(Number(button.dataset.rotate)));
  }

  const shortcuts = $("shortcuts");
  $("shortcuts-open").addEventListener("click", () => shortcuts.showModal());

  document.addEventListener("keydown", (event) => {
    if (event.target.closest && event.target.closest("input,select,textarea,dialog")) return;
    if (event.ctrlKey || event.metaKey) return;
    if (event.key === "?") shortcuts.showModal();
    else if (PRESETS[event.key] && !event.altKey) zoomTo(PRESETS[event.key]);
    else if (event.key === "0") viewer.viewport.goHome();
    else if (event.code === "KeyR" && event.shiftKey) { event.stopImmediatePropagation(); rotate(-90); }
    else if (event.code === "KeyR" && event.altKey) { event.preventDefault(); event.stopImmediatePropagation(); rotate(90); }
  }, { capture: true }); // before the editor's own keys (R alone draws a rectangle)

  // where the cursor is on the slide, in µm from the top-left corner (px when no mpp)
  const position = $("cursor-position");
  viewer.container.addEventListener("mousemove", (event) => {
    const item = viewer.world.getItemAt(0);
    if (!item) return;
    const rect = viewer.container.getBoundingClientRect();
    const point = item.viewerElementToImageCoordinates(
      new OpenSeadragon.Point(event.clientX - rect.left, event.clientY - rect.top),
    );
    const inside = point.x >= 0 && point.y >= 0 && point.x <= item.source.width && point.y <= item.source.height;
    position.textContent = !inside ? "" : mpp
      ? `x ${formatNumber(point.x * mpp, 0)} µm, y ${formatNumber(point.y * mpp, 0)} µm`
      : `x ${formatNumber(point.x)} px, y ${formatNumber(point.y)} px`;
  });
  viewer.container.addEventListener("mouseleave", () => { position.textContent = ""; });
}
