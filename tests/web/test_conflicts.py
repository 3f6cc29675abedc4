"""Two requests whose writes cannot both stand, at the same moment: the later one gets a 409
with problem details in the user's language, never a server error."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event

from pathodesk.accounts import create_user
from pathodesk.config import Settings
from pathodesk.db.models import Role
from pathodesk.db.session import Database
from tests.support.accounts import Accounts
from tests.support.http import PASSWORD, login

NEW_ACCOUNT = {"account": "dr-li", "name": "李医生", "password": PASSWORD, "role": "expert"}


def test_the_same_account_created_by_two_administrators_at_once_is_a_conflict(
    app_client: TestClient, settings: Settings, accounts: Accounts
) -> None:
    """The other administrator's request saves the account after this one found the name free
    and before it saves its own."""
    login(app_client, "admin")
    db = app_client.app.state.pathodesk.db  # type: ignore[attr-defined]
    other = Database(settings.resolved_database_url())
    created: list[bool] = []

    def the_other_administrator(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not created and statement.lstrip().upper().startswith("INSERT INTO USERS"):
            created.append(True)
            with other.session() as session:
                create_user(session, account="dr-li", name="Li", password=PASSWORD, role=Role.expert)

    event.listen(db.engine, "before_cursor_execute", the_other_administrator)
    try:
        response = app_client.post("/api/v1/users", json=NEW_ACCOUNT, headers={"Accept-Language": "zh-CN"})
    finally:
        event.remove(db.engine, "before_cursor_execute", the_other_administrator)
        other.dispose()
    assert created
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "冲突"
    assert "重新加载" in response.json()["detail"]
    names = [user["account"] for user in app_client.get("/api/v1/users").json()]
    assert names.count("dr-li") == 1
