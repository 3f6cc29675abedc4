"""Two administrators who deactivate or demote each other at the same moment (A12), on SQLite
and on PostgreSQL: one of them stays an administrator. Before, both requests passed their
sign-in check before either saved, and the hospital was left with no administrator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pathodesk.accounts import act_as_administrator, create_user
from pathodesk.db.models import Role, User
from pathodesk.errors import PermissionDeniedError
from tests.storage.library import Library
from tests.support.races import meanwhile


@pytest.fixture
def library(library_on_each_database: Library) -> Library:
    return library_on_each_database


def administrators(library: Library) -> tuple[int, int]:
    with library.db.session() as session:
        return tuple(  # type: ignore[return-value]
            create_user(session, account=a, name=a, password="a long passphrase", role=Role.admin).id
            for a in ("admin-a", "admin-b")
        )


def deactivate(library: Library, admin_id: int, user_id: int) -> str:
    """What ``DELETE /api/v1/users/{id}`` saves; "done" or "refused" (403)."""
    return _change(library, admin_id, user_id, lambda user: setattr(user, "active", False))


def demote(library: Library, admin_id: int, user_id: int) -> str:
    """What ``PATCH /api/v1/users/{id}`` with ``{"role": "expert"}`` saves."""
    return _change(library, admin_id, user_id, lambda user: setattr(user, "role", Role.expert))


def _change(library: Library, admin_id: int, user_id: int, change: Callable[[User], None]) -> str:
    with library.db.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        try:
            act_as_administrator(session, admin_id)
        except PermissionDeniedError:
            return "refused"
        change(user)
    return "done"


def active_administrators(library: Library) -> list[str]:
    with library.db.session() as session:
        return sorted(u.account for u in session.query(User).filter_by(active=True, role=Role.admin))


@pytest.mark.parametrize("action", [deactivate, demote])
def test_two_administrators_removing_each_other_at_once_leave_one(
    library: Library, action: Callable[[Library, int, int], str]
) -> None:
    a, b = administrators(library)
    with meanwhile(
        library.db.engine, lambda sql: sql.startswith("UPDATE users"), lambda: action(library, b, a)
    ) as other:
        assert action(library, a, b) == "done"
    assert other == ["refused"]
    assert active_administrators(library) == ["admin-a"]


def test_an_administrator_removed_meanwhile_cannot_act_but_one_still_in_office_can(library: Library) -> None:
    a, b = administrators(library)
    assert deactivate(library, a, b) == "done"
    assert deactivate(library, b, a) == "refused"
    assert active_administrators(library) == ["admin-a"]
