"""The models page's pictures in the reader's language (issue 21): each language its own URL
and ETag (they are cached for good), drawn once per language, 304 when the browser has it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.accounts import Accounts
from tests.support.http import login


def shipped(client: TestClient, disease_type: str, role: str) -> dict[str, object]:
    return next(
        m
        for m in client.get("/api/v1/models").json()
        if (m["disease_type"], m["role"], m["source"]) == (disease_type, role, "shipped")
    )


def test_a_picture_is_drawn_per_language_and_cached_per_language(
    app_client: TestClient, accounts: Accounts
) -> None:
    login(app_client, "expert-a")
    lung = shipped(app_client, "lung", "tile")
    assert set(lung["pictures"]) == {"curves", "confusion"}  # type: ignore[arg-type]
    assert set(shipped(app_client, "lung", "coarse")["pictures"]) == {"curves"}  # type: ignore[arg-type]
    url = lung["pictures"]["confusion"]  # type: ignore[index]
    chinese = app_client.get(url, params={"lang": "zh_CN"})
    english = app_client.get(url, params={"lang": "en"})
    for response in (chinese, english):
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert chinese.content != english.content and chinese.headers["etag"] != english.headers["etag"]
    # no lang: the reader's own language, here the browser's
    browser = app_client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert browser.content == chinese.content
    again = app_client.get(url, params={"lang": "zh_CN"}, headers={"If-None-Match": chinese.headers["etag"]})
    assert again.status_code == 304 and not again.content
    missing = app_client.get(url.replace("confusion.png", "model.pt"))
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_the_models_page_asks_for_its_language(app_client: TestClient, accounts: Accounts) -> None:
    login(app_client, "expert-a")
    page = app_client.get("/models", headers={"Accept-Language": "zh-CN"}).text
    assert "curves.png?lang=zh_CN" in page and 'alt="训练曲线 · ' in page
    assert 'alt="curves' not in page  # a file name is not a description
