// The case report: printed from the browser (its print style leaves out the navigation).
import "./page.js";

document.getElementById("print-report")?.addEventListener("click", () => window.print());
document.documentElement.dataset.ready = "true";
