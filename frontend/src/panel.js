// The viewer's side panel (issue 21, items 5 and 8): as wide as the reader drags it (arrow
// keys too; remembered in this browser), and a drawer behind a button on phones.
import { $ } from "./dom.js";

const KEY = "pathodesk-panel-width";
const MIN_PX = 280;
const STEP_PX = 24;

export function startPanel() {
  const layout = document.querySelector(".viewer-layout");
  const splitter = $("panel-splitter");
  const panel = $("metadata");
  const toggle = $("panel-toggle");
  const clamp = (px) => Math.round(Math.max(MIN_PX, Math.min(px, 0.6 * layout.clientWidth)));
  const setWidth = (px) => {
    const width = clamp(px);
    layout.style.setProperty("--panel-width", `${width}px`);
    splitter.setAttribute("aria-valuenow", String(width));
    localStorage.setItem(KEY, String(width));
  };
  const saved = Number(localStorage.getItem(KEY));
  if (saved) setWidth(saved);
  else splitter.setAttribute("aria-valuenow", String(Math.round(panel.getBoundingClientRect().width)));

  splitter.addEventListener("pointerdown", (event) => {
    splitter.setPointerCapture(event.pointerId);
    const right = layout.getBoundingClientRect().right;
    const move = (e) => setWidth(right - e.clientX);
    splitter.addEventListener("pointermove", move);
    splitter.addEventListener("pointerup", () => splitter.removeEventListener("pointermove", move), { once: true });
  });
  splitter.addEventListener("keydown", (event) => {
    const now = panel.getBoundingClientRect().width;
    if (event.key === "ArrowLeft") setWidth(now + STEP_PX);
    else if (event.key === "ArrowRight") setWidth(now - STEP_PX);
    else return;
    event.preventDefault();
  });

  toggle.addEventListener("click", () => {
    const open = panel.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
    if (open) panel.scrollIntoView({ behavior: "smooth", block: "start" });
  });
}
