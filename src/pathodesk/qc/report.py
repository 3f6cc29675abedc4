"""Run every QC check on a slide and say pass/fail against its threshold (SPEC E2).

Output shape (API.md): {"passed": bool, "checks": {name: {"score": x, "passed": bool, ...}}}.
On a fluorescence slide the bright-field checks are not run: {"score": null, "passed": true,
"applies": false}.
Besides the scores, the report keeps the thumbnail and one mask per check (thumbnail pixels,
True where the check flags the slide) so that people can see *where* a slide failed. The
checks themselves, with their thresholds and colours, are the entries of ``checks.CHECKS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pathodesk.qc.checks import CHECKS, QcInput
from pathodesk.slides.base import SlideReader
from pathodesk.tissue import detect_tissue

StepReport = Callable[[str], object]  # the name of the check about to run


@dataclass
class QcReport:
    checks: dict[str, dict[str, object]] = field(default_factory=dict)
    thumbnail: np.ndarray | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(bool(check["passed"]) for check in self.checks.values())

    def as_json(self) -> dict[str, object]:
        return {"passed": self.passed, "checks": self.checks}


def run_qc(
    reader: SlideReader, reference_histogram: np.ndarray, progress: StepReport | None = None
) -> QcReport:
    """``reference_histogram``: the standard image's colours (``qc.colour_reference``)."""
    tissue = detect_tissue(reader)
    qc = QcInput(reader, tissue, reference_histogram)
    report = QcReport(thumbnail=tissue.thumbnail)
    for check in CHECKS.values():
        if progress:
            progress(check.name)
        if check.bright_field_only and tissue.dark_field:
            report.masks[check.name] = np.zeros_like(tissue.mask)
            report.checks[check.name] = {"score": None, "passed": True, "applies": False}
            continue
        result = check.run(qc, check.threshold)
        report.masks[check.name] = result.mask
        report.checks[check.name] = {"score": result.score, "passed": result.passed, **result.details}
    return report
