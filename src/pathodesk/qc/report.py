"""Run every QC check on a slide and say pass/fail against its threshold (SPEC E2).

Output shape (API.md): {"passed": bool, "checks": {name: {"score": x, "passed": bool, ...}}}.
On a fluorescence slide the bright-field checks are not run: {"score": null, "passed": true,
"applies": false}. The report names the slide's stain (``stain.kind``: "he" or "ihc", or
"fluorescence"), and the colour check uses the reference of that stain.
Besides the scores, the report keeps the thumbnail and one mask per check (thumbnail pixels,
True where the check flags the slide) so that people can see *where* a slide failed. The
checks themselves, with their thresholds and colours, are the entries of ``checks.CHECKS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from pathodesk.qc.checks import CHECKS, QcInput
from pathodesk.slides.base import SlideReader
from pathodesk.stain.kind import HE, detect_stain
from pathodesk.tissue import detect_tissue

StepReport = Callable[[str], object]  # the name of the check about to run


@dataclass
class QcReport:
    checks: dict[str, dict[str, object]] = field(default_factory=dict)
    thumbnail: np.ndarray | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    stain: str = HE  # stain.kind; run_qc tells it

    @property
    def passed(self) -> bool:
        return all(bool(check["passed"]) for check in self.checks.values())

    def as_json(self) -> dict[str, object]:
        return {"passed": self.passed, "stain": self.stain, "checks": self.checks}


def run_qc(
    reader: SlideReader,
    references: Mapping[str, np.ndarray | None],
    progress: StepReport | None = None,
) -> QcReport:
    """``references``: per stain, the standard image's colours (``qc.colour_reference``)."""
    tissue = detect_tissue(reader)
    stain = detect_stain(tissue.thumbnail_hsv, tissue.mask, tissue.dark_field)
    qc = QcInput(reader, tissue, references.get(stain))
    report = QcReport(thumbnail=tissue.thumbnail, stain=stain)
    for check in CHECKS.values():
        if progress:
            progress(check.name)
        if check.bright_field_only and tissue.dark_field:
            report.masks[check.name] = np.zeros_like(tissue.mask)
            report.checks[check.name] = {"score": None, "passed": True, "applies": False}
            continue
        result = check.run(qc, check.threshold)
        report.masks[check.name] = result.mask
        entry: dict[str, object] = {"score": result.score, "passed": result.passed}
        if not result.applies:
            entry["applies"] = False
        report.checks[check.name] = {**entry, **result.details}
    return report
