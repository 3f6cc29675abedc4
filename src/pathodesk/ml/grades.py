"""Grade scales per disease type (SPEC C1; issue 14, item 1): a coarse scale, least severe
first, and the fine label set mapped onto it. Stored on the disease type
(``DiseaseType.grading``); these are the defaults for the types PathoDesk ships.

Thyroid follows C1 with the Bethesda system for reporting thyroid cytopathology: benign
tissue (ThyHisTer "BN") is category II, follicular carcinoma ("FTC") category IV
"suspicious for a follicular neoplasm", papillary carcinoma ("PTC") category VI malignant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pathodesk.errors import ValidationFailedError


@dataclass(frozen=True)
class Grade:
    name: str  # code, shown by display name (web.vocabulary "grade")
    bethesda: str | None = None  # the Bethesda category it stands for, where one applies


@dataclass(frozen=True)
class GradeScale:
    coarse: tuple[Grade, ...]  # least severe first: index = severity
    fine: dict[str, str]  # fine label -> coarse grade name

    @property
    def names(self) -> list[str]:
        return [grade.name for grade in self.coarse]

    def severity(self, grade: str) -> int:
        return self.names.index(grade)

    def grade_of(self, label: str) -> str:
        """The coarse grade a fine label belongs to (a label the scale does not know is
        benign: the background classes of a tile model)."""
        return self.fine.get(label, self.coarse[0].name)

    def as_record(self) -> dict[str, Any]:
        return {
            "coarse": [{"name": g.name, "bethesda": g.bethesda} for g in self.coarse],
            "fine": dict(self.fine),
        }


def scale_from_record(record: Mapping[str, Any]) -> GradeScale:
    try:
        coarse = tuple(Grade(str(g["name"]), g.get("bethesda")) for g in record["coarse"])
        fine = {str(label): str(grade) for label, grade in record["fine"].items()}
    except (KeyError, TypeError, AttributeError):
        raise ValidationFailedError("a grade scale needs 'coarse' (a list of grades) and 'fine'") from None
    names = [grade.name for grade in coarse]
    if len(names) < 2 or len(set(names)) != len(names) or not set(fine.values()) <= set(names):
        raise ValidationFailedError(
            "a grade scale needs two or more distinct grades holding every fine label"
        )
    return GradeScale(coarse, fine)


DEFAULT_SCALES = {
    "lung": GradeScale(
        (Grade("benign"), Grade("malignant")),
        {"lung_n": "benign", "lung_aca": "malignant", "lung_scc": "malignant"},
    ),
    "thyroid": GradeScale(
        (Grade("benign", "II"), Grade("suspicious", "IV"), Grade("malignant", "VI")),
        {"BN": "benign", "normal": "benign", "FTC": "suspicious", "PTC": "malignant", "tumour": "malignant"},
    ),
}


def disease_scale(
    name: str, record: Mapping[str, Any] | None, labels: Sequence[str] = (), background: Sequence[str] = ()
) -> GradeScale:
    """A disease type's stored scale, else the shipped default for its name, else two grades:
    ``background`` labels benign, the other ``labels`` malignant."""
    if record:
        return scale_from_record(record)
    if name in DEFAULT_SCALES:
        return DEFAULT_SCALES[name]
    return GradeScale(
        (Grade("benign"), Grade("malignant")),
        {label: "benign" if label in background else "malignant" for label in labels},
    )
