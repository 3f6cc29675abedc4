// Cascade grading in the viewer (issue 14, item 4): the low-power candidate regions drawn
// over the slide as boxes coloured by their coarse grade (green benign → red malignant),
// the slide grade, and how much of the tissue was read at high power.
import { $ } from "./dom.js";
import { formatNumber, t, term } from "./i18n.js";

export function gradeColour(severity, count) {
  const hue = count > 1 ? Math.round(120 * (1 - severity / (count - 1))) : 0;
  return `hsl(${hue}, 85%, 40%)`;
}

export function gradeName(grade) {
  const name = term("grade", grade.name);
  return grade.bethesda ? t("{grade} (Bethesda {category})", { grade: name, category: grade.bethesda }) : name;
}

export function cascadeView(viewer) {
  const panel = $("cascade-summary");
  const toggle = $("cascade-boxes-toggle");
  let boxes = [];
  let shown = null;

  function clear() {
    for (const element of boxes) viewer.removeOverlay(element);
    boxes = [];
  }

  function draw() {
    clear();
    if (!shown || !toggle.checked) return;
    const slide = viewer.world.getItemAt(0);
    if (!slide) return;
    const severity = new Map(shown.grades.map((grade, index) => [grade.name, index]));
    const byName = new Map(shown.grades.map((grade) => [grade.name, grade]));
    for (const candidate of shown.candidates) {
      const [x0, y0, x1, y1] = candidate.box;
      const element = document.createElement("div");
      element.className = "candidate-box";
      element.dataset.grade = candidate.coarse_grade;
      element.style.borderColor = gradeColour(severity.get(candidate.coarse_grade), shown.grades.length);
      element.title = t("low power: {grade}, p {p}", {
        grade: gradeName(byName.get(candidate.coarse_grade)), p: candidate.probability.toFixed(2),
      });
      viewer.addOverlay({ element, location: slide.imageToViewportRectangle(x0, y0, x1 - x0, y1 - y0) });
      boxes.push(element);
    }
  }

  toggle.addEventListener("change", draw);
  viewer.addHandler("open", draw);

  return {
    show(summary) {
      shown = summary.mode === "cascade" ? summary : null;
      panel.hidden = !shown;
      if (!shown) return clear();
      const grade = shown.grades.find((g) => g.name === shown.slide_grade);
      $("slide-grade").textContent = t("{grade}, p {p}", {
        grade: gradeName(grade), p: shown.slide_grade_probability.toFixed(2),
      });
      $("cascade-share").textContent = t(
        "{percent} of the tissue read at high power ({read} of {total} tiles), {seconds} s",
        {
          percent: `${formatNumber(shown.high_res_fraction * 100, 1)} %`,
          read: formatNumber(shown.tiles_read),
          total: formatNumber(shown.tiles_exhaustive),
          seconds: formatNumber(shown.seconds, 1),
        },
      );
      $("cascade-legend").replaceChildren(...shown.grades.map((g, index) => {
        const item = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.borderColor = gradeColour(index, shown.grades.length);
        item.append(swatch, gradeName(g));
        return item;
      }));
      draw();
    },
  };
}
