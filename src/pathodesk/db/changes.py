"""Apply a PATCH to a row: a null for a NOT NULL column is invalid input, not a server error."""

from __future__ import annotations

from sqlalchemy import inspect

from pathodesk.db.models import Base
from pathodesk.errors import ValidationFailedError


def apply_changes(row: Base, changes: dict[str, object]) -> list[str]:
    """Set each changed attribute; returns the changed field names (for the audit log)."""
    columns = inspect(type(row)).columns
    for key, value in changes.items():
        column = columns.get(key)
        if value is None and column is not None and not column.nullable:
            raise ValidationFailedError("%(key)s cannot be empty", key=key)
    for key, value in changes.items():
        setattr(row, key, value)
    return sorted(changes)
