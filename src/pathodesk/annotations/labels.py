"""A disease type's classes and their colours (A3): one place that reads the label set, and
the colour used where a class has none."""

from __future__ import annotations

from pathodesk.db.models import DiseaseType

DEFAULT_COLOUR = "#f4fa58"  # ASAP's colour for a group that names none


def label_colours(disease: DiseaseType | None) -> dict[str, str]:
    """Class name -> "#rrggbb" of ``disease``'s label set (empty for no disease type)."""
    return {label["name"]: label["color"] for label in (disease.labels if disease else [])}


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
