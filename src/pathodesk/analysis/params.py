"""Per-disease analysis parameters (SPEC A4–A5): which labels are background tissue, how
positive tiles are clustered (DBSCAN eps and min_samples, in tiles) and A5's thresholds.

They live on the disease type (``DiseaseType.analysis_params``, editable by an
administrator); a type without them treats labels called normal/benign/background (or
ending in ``_n``) as background and takes the cluster defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pathodesk.analysis.clusters import ClusterParams
from pathodesk.errors import ValidationFailedError

BACKGROUND_NAMES = ("normal", "benign", "background")


@dataclass(frozen=True)
class AnalysisParams:
    background_labels: tuple[str, ...]
    clusters: ClusterParams = field(default_factory=ClusterParams)

    def as_record(self) -> dict[str, Any]:
        return {"background_labels": list(self.background_labels), **asdict(self.clusters)}


def default_background(labels: list[str]) -> tuple[str, ...]:
    return tuple(name for name in labels if name.lower() in BACKGROUND_NAMES or name.endswith("_n"))


def params_from_record(record: dict[str, Any] | None, labels: list[str]) -> AnalysisParams:
    """The stored parameters, or the defaults derived from ``labels`` where none are stored."""
    if not record:
        return AnalysisParams(default_background(labels))
    known = {f.name for f in fields(ClusterParams)}
    unknown = set(record) - known - {"background_labels"}
    if unknown:
        raise ValidationFailedError("unknown analysis parameters: %(value)s", value=sorted(unknown))
    background = record.get("background_labels")
    if background is None:
        background = list(default_background(labels))
    return AnalysisParams(
        tuple(str(label) for label in background),
        ClusterParams(**{name: value for name, value in record.items() if name in known}),
    )
