"""English and Simplified Chinese (issue 21, item 1): the catalogue covers every string, no
page text escapes it, and the language follows the user's choice, then the browser's."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathodesk.i18n import catalogue, from_accept_language, supported, translate
from pathodesk.i18n.extract import extract_catalogue
from pathodesk.web.i18n import LOCALE_COOKIE
from tests.support.accounts import Accounts
from tests.support.http import PASSWORD, login

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "src" / "pathodesk" / "web" / "templates"
BRACES = re.compile(r"\{(\w+)\}")
PERCENT = re.compile(r"%\((\w+)\)s")
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_every_string_in_the_source_has_a_chinese_translation() -> None:
    """Fails on any string left untranslated: new ones arrive through
    ``scripts/update_catalogue.py`` with an empty translation."""
    chinese = catalogue("zh_CN")
    assert chinese is not None
    wanted = extract_catalogue(ROOT)
    assert len(wanted) > 300  # templates, server messages and browser code were all read
    untranslated = sorted(
        str(m.id) for m in wanted if m.id and not ((t := chinese.get(m.id)) and t.string and not t.fuzzy)
    )
    assert untranslated == [], "run scripts/update_catalogue.py and translate these"
    unused = sorted(str(m.id) for m in chinese if m.id and m.id not in wanted)
    assert unused == [], "strings no longer in the source: run scripts/update_catalogue.py"


def test_translations_keep_every_placeholder() -> None:
    chinese = catalogue("zh_CN")
    assert chinese is not None
    assert list(chinese.check()) == []  # Babel's own check of %(name)s placeholders
    for message in chinese:
        if not message.id:
            continue
        source, translated = str(message.id), str(message.string)
        for pattern in (BRACES, PERCENT):
            assert sorted(pattern.findall(source)) == sorted(pattern.findall(translated)), source
        words = PERCENT.sub("", BRACES.sub("", source))
        if re.search("[A-Za-z]{3}", words) and source not in {"AI"}:
            assert HAN.search(translated), f"not translated into Chinese: {source!r} -> {translated!r}"


class VisibleText(HTMLParser):
    """Text a person would read in a template once its Jinja parts are taken out."""

    SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code", "kbd", "title"):  # kbd: key legends, as printed on keys
            self._skip += 1
        for name, value in attrs:
            if name in self.SHOWN_ATTRIBUTES and value:
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "kbd", "title"):  # kbd: key legends, as printed on keys
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.found.append(data.strip())


# Names of formats, units and the product: the same in both languages.
NOT_WORDS = {"PathoDesk", "px", "µm/px", "ASAP", "XML", "GeoJSON", "F1", "SHA-256"}


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_no_template_shows_text_outside_the_catalogue(template: Path) -> None:
    jinja = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
    parser = VisibleText()
    parser.feed(jinja.sub(" ", template.read_text()))
    words = [
        text
        for text in parser.found
        for piece in re.split(r"[\s·,()×]+", text)
        if re.search("[A-Za-z]{2,}", piece) and piece not in NOT_WORDS and not piece.startswith("#")
    ]
    assert words == [], f"{template.name}: wrap in {{{{ _('…') }}}}"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("de-DE,de;q=0.9,zh;q=0.5", "zh_CN"),  # German is not offered; Chinese was next
        ("zh", "zh_CN"),
        ("fr-FR", "en"),
        ("", "en"),
        ("en;q=0.1,zh-CN;q=0.9", "zh_CN"),  # quality, not order
        ("zh-CN;q=x,,;", "en"),  # malformed: never an error
    ],
)
def test_browser_language_decides_when_nobody_chose(header: str, expected: str) -> None:
    assert from_accept_language(header) == expected


def test_locale_codes_are_read_leniently_and_unknown_ones_refused() -> None:
    assert supported("zh-CN") == supported("zh_cn") == supported("zh") == "zh_CN"
    assert supported("en-GB") == "en" and supported("xx") is None and supported(None) is None


def test_server_messages_are_translated_and_counts_kept() -> None:
    assert translate("zh_CN", "unknown account or wrong password") == "账号不存在或密码错误"
    assert translate("zh_CN", "classifying tiles 12/340") == "正在分类图块 12/340"
    assert translate("en", "classifying tiles 12/340") == "classifying tiles 12/340"
    assert translate("zh_CN", "a message nobody translated") == "a message nobody translated"


def test_pages_follow_the_browser_language(app_client: TestClient, accounts: Accounts) -> None:
    page = app_client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert '<html lang="zh-CN">' in page and "<h1>登录</h1>" in page and "Log in</h1>" not in page
    page = app_client.get("/login", headers={"Accept-Language": "en-US"}).text
    assert '<html lang="en">' in page and "<h1>Log in</h1>" in page


def test_login_page_switch_is_remembered_and_reaches_the_account(
    app_client: TestClient, accounts: Accounts
) -> None:
    response = app_client.get("/login?lang=zh_CN", headers={"Accept-Language": "en"})
    assert "<h1>登录</h1>" in response.text and response.cookies.get(LOCALE_COOKIE) == "zh_CN"
    login(app_client, "expert-a")  # first login: the choice made before it becomes the account's
    app_client.cookies.clear()
    login(app_client, "expert-a")  # a new browser: the account brings its language back
    assert app_client.cookies.get(LOCALE_COOKIE) == "zh_CN"
    slides = app_client.get("/", headers={"Accept-Language": "en"}).text
    assert '<html lang="zh-CN">' in slides and "切片" in slides


def test_switch_for_a_signed_in_user(app_client: TestClient, accounts: Accounts) -> None:
    login(app_client, "expert-b")
    assert app_client.get("/api/v1/me").json()["locale"] == "en"
    refused = app_client.put("/api/v1/me/locale", json={"locale": "tlh"})
    assert refused.status_code == 422
    chosen = app_client.put("/api/v1/me/locale", json={"locale": "zh-CN"})
    assert chosen.status_code == 200 and chosen.json() == {"locale": "zh_CN"}
    assert app_client.get("/api/v1/me").json()["locale"] == "zh_CN"
    missing = app_client.get("/api/v1/slides/999999")
    assert missing.status_code == 404 and missing.json()["title"] == "未找到"
    page = app_client.get("/patients").text
    assert "<h1>患者（1）</h1>" in page and "新建患者" in page
    app_client.cookies.clear()
    failed = app_client.post("/api/v1/auth/login", json={"account": "expert-b", "password": PASSWORD + "x"})
    assert failed.status_code == 401
    assert failed.json()["detail"] == "unknown account or wrong password"  # no choice yet in this browser
    app_client.cookies.set(LOCALE_COOKIE, "zh_CN")
    failed = app_client.post("/api/v1/auth/login", json={"account": "expert-b", "password": PASSWORD + "x"})
    assert failed.json()["detail"] == "账号不存在或密码错误"


def test_the_browser_gets_its_strings_and_display_names(app_client: TestClient, accounts: Accounts) -> None:
    import json

    app_client.cookies.set(LOCALE_COOKIE, "zh_CN")
    page = app_client.get("/login").text
    embedded = re.search(r'<script type="application/json" id="i18n-catalogue">(.*?)</script>', page, re.S)
    assert embedded is not None
    data = json.loads(embedded.group(1))
    assert data["messages"]["All changes saved."] == "所有更改已保存。"
    assert "Slides" not in data["messages"]  # only what the browser code itself says
    assert data["terms"]["status"]["in_review"] == "审核中"
    assert data["terms"]["job"]["succeeded"] == "已完成"


def test_a_missing_page_is_a_page_and_the_api_stays_json(app_client: TestClient, accounts: Accounts) -> None:
    login(app_client, "expert-a")
    html = {"Accept": "text/html,application/xhtml+xml"}
    page = app_client.get("/patients/999999", headers=html)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert 'id="error-page" data-status="404"' in page.text and "patient 999999 does not exist" in page.text
    nowhere = app_client.get("/no/such/page", headers={**html, "Accept-Language": "zh-CN"})
    assert nowhere.status_code == 404 and "<h1>未找到</h1>" in nowhere.text
    assert "此地址没有页面" in nowhere.text
    api = app_client.get("/api/v1/patients/999999", headers=html)  # scripts always get problem details
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    bad = app_client.get("/?status=lost", headers=html)
    assert bad.status_code == 422 and "Invalid input" in bad.text


def test_errors_with_values_are_said_in_the_callers_language(
    app_client: TestClient, accounts: Accounts
) -> None:
    login(app_client, "expert-a")
    english = app_client.get("/api/v1/patients/999999")
    assert english.json()["detail"] == "patient 999999 does not exist"
    chinese = app_client.get("/api/v1/patients/999999", headers={"Accept-Language": "zh-CN"})
    assert chinese.json() | {"detail": None} == english.json() | {"detail": None, "title": "未找到"}
    assert chinese.json()["detail"] == "患者 999999 不存在"


def test_field_reasons_and_password_policy_in_chinese(app_client: TestClient, accounts: Accounts) -> None:
    login(app_client, "admin")
    chinese = {"Accept-Language": "zh-CN"}
    weak = app_client.post(
        f"/api/v1/users/{accounts.expert_a_id}/password", json={"password": "short"}, headers=chinese
    )
    assert weak.status_code == 422 and weak.json()["detail"] == "密码至少需要 10 个字符"
    english = app_client.post(f"/api/v1/users/{accounts.expert_a_id}/password", json={"password": "short"})
    assert english.json()["detail"] == "the password needs at least 10 characters"
    bad = app_client.post("/api/v1/patients", json={"patient_code": ""}, headers=chinese)
    assert bad.status_code == 422 and bad.json()["title"] == "输入无效"
    assert [e["msg"] for e in bad.json()["errors"]] == ["至少 1 个字符"]
    plain = app_client.post("/api/v1/patients", json={"patient_code": ""}).json()["errors"][0]["msg"]
    assert plain.startswith("String should have at least 1 character")  # pydantic's own words in English


def test_no_domain_error_is_built_from_an_f_string() -> None:
    """An f-string's text cannot be looked up in the catalogue: domain errors take their English
    text with named values instead (``NotFoundError("slide %(id)s …", id=…)``)."""
    import ast

    from pathodesk.i18n.extract import ERROR_CLASSES

    found = []
    for path in sorted((ROOT / "src" / "pathodesk").rglob("*.py")):
        if "cli" in path.parts:  # the command line speaks English (terminals, logs)
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ERROR_CLASSES
                and node.args
                and isinstance(node.args[0], ast.JoinedStr)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_codes_are_shown_by_their_display_names(app_client: TestClient, accounts: Accounts) -> None:
    """A walk through the Chinese pages found an exam offered as "E-A · lung · P-A", a
    disease type's code headed "姓名" (a person's name) and the unclassified type's class
    shown as "lesion"."""
    login(app_client, "admin")
    chinese = {"Accept-Language": "zh-CN"}
    assert "E-A · 肺 · P-A" in app_client.get("/upload", headers=chinese).text
    types = app_client.get("/admin/disease-types", headers=chinese).text
    assert "<th>代码</th>" in types and "<th>姓名</th>" not in types
    assert "病灶" in types
