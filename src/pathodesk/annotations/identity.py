"""An annotation's identity outside PathoDesk: the same UUID in every export of it (QuPath keys
objects by one), so a file exported twice, or a measurement table beside it, match up."""

from __future__ import annotations

import uuid

ANNOTATION_UUIDS = uuid.UUID("5b0c1f5e-5d43-4c55-9d0e-7061746f6465")


def annotation_uid(annotation_id: object) -> str | None:
    return None if annotation_id is None else str(uuid.uuid5(ANNOTATION_UUIDS, f"annotation:{annotation_id}"))
