"""The annotation editor in Chromium (issue 4, item 7; SPEC A8–A11): real mouse events draw
every shape at two zoom levels; after saving and reloading each lies where it was drawn."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect
from shapely.geometry import LineString, Point

from tests.support.accounts import Accounts
from tests.support.browser import REFUSED, Screen, logged_in_page, open_editor, overlay_pixels, to_screen
from tests.support.http import PASSWORD, ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer


def drag(page: Page, path: list[Screen]) -> None:
    page.mouse.move(*path[0])
    page.mouse.down()
    for point in path[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


def draw_every_shape(page: Page, cx: float, cy: float) -> dict[str, list[Screen]]:
    """Rectangle, polygon, circle and pencil around (cx, cy), in page pixels."""
    drawn: dict[str, list[Screen]] = {}
    page.keyboard.press("r")
    drawn["rectangle"] = [(cx - 200, cy - 150), (cx - 100, cy - 80)]
    drag(page, drawn["rectangle"])
    page.keyboard.press("g")
    drawn["polygon"] = [(cx + 50, cy - 150), (cx + 160, cy - 140), (cx + 120, cy - 60)]
    for point in drawn["polygon"]:
        page.mouse.click(*point)
    page.mouse.click(*drawn["polygon"][0])  # clicking the first vertex closes it
    page.keyboard.press("c")
    drawn["circle"] = [(cx - 140, cy + 80), (cx - 90, cy + 80)]  # centre, then a point on the rim
    drag(page, drawn["circle"])
    page.keyboard.press("p")
    drawn["pencil"] = [
        (cx + 60 + 50 * math.cos(a), cy + 90 + 35 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 40)
    ]
    drag(page, drawn["pencil"])
    page.keyboard.press("h")
    return drawn


def api_annotations(server: LiveServer, slide_id: int) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD})
        body = client.get(f"/api/v1/slides/{slide_id}/annotations").json()
        found: list[dict[str, Any]] = body["annotations"]
        return found


def assert_landed(page: Page, stored: dict[str, dict[str, Any]], drawn: dict[str, list[Screen]]) -> None:
    """Each saved outline, mapped back to the screen, within 2 px of where the mouse drew it."""
    for kind, points in drawn.items():
        ring = stored[kind]["geometry"]["coordinates"][0]
        screen = to_screen(page, ring)
        if kind == "rectangle":
            xs, ys = [p[0] for p in screen], [p[1] for p in screen]
            (ax, ay), (bx, by) = points
            assert abs(min(xs) - ax) <= 2 and abs(max(xs) - bx) <= 2, (kind, xs, points)
            assert abs(min(ys) - ay) <= 2 and abs(max(ys) - by) <= 2, (kind, ys, points)
        elif kind == "polygon":
            assert len(screen) == 4  # three vertices and the closing one
            for (x, y), (px, py) in zip(screen[:3], points, strict=True):
                assert math.hypot(x - px, y - py) <= 2, (kind, screen, points)
        elif kind == "circle":
            (cx, cy), rim = points
            radius = math.hypot(rim[0] - cx, rim[1] - cy)
            assert all(abs(math.hypot(x - cx, y - cy) - radius) <= 2 for x, y in screen), kind
        else:  # the pencil stroke, simplified on release by at most 1.5 screen px
            outline = LineString(screen)
            assert all(outline.distance(Point(p)) <= 2 for p in points), kind


def by_shape(annotations: list[dict[str, Any]], keys: list[int]) -> dict[str, dict[str, Any]]:
    names = {"freehand": "pencil", "ellipse": "circle"}
    return {names.get(a["shape"], a["shape"]): a for a in annotations if a["id"] in keys}


def test_draw_every_shape_at_two_zooms_save_reload_relabel_delete_undo(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    open_editor(page, live_server, slide_id)
    box = page.locator("#viewer").bounding_box()
    assert box is not None
    centre = (round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2))  # whole pixels

    home = draw_every_shape(page, *centre)
    expect(page.locator("#annotation-rows tr")).to_have_count(4)
    expect(page.locator("#annotation-save")).to_have_text("Save (4)")
    # the outline is drawn in the class colour where the mouse went (lung_n is the first class)
    pixels = overlay_pixels(page)
    ratio = pixels.shape[1] / page.evaluate("() => document.getElementById('annotation-canvas').clientWidth")
    (ax, ay), (bx, by) = home["rectangle"]
    row, col = int((ay - box["y"]) * ratio), int(((ax + bx) / 2 - box["x"]) * ratio)
    window = pixels[row - 3 : row + 4, col - 3 : col + 4].reshape(-1, 4)
    edge = window[window[:, 3].argmax()]
    assert edge[3] > 200 and edge[1] > edge[0] and edge[1] > edge[2], edge  # green stroke of lung_n
    inside = pixels[int(((ay + by) / 2 - box["y"]) * ratio), col]
    assert 20 < inside[3] < 120, inside  # a translucent fill: the tissue stays visible

    page.evaluate("() => window.pathodeskViewer.viewport.zoomBy(3)")
    page.wait_for_timeout(1500)
    bounds = page.evaluate(
        "() => { const b = window.pathodeskViewer.viewport.getBounds();"
        " return [b.x, b.y, b.width, b.height]; }"
    )
    page.select_option("#annotation-label", "lung_aca")
    zoomed = draw_every_shape(page, centre[0], centre[1] + 40)
    expect(page.locator("#annotation-save")).to_have_text("Save (8)")
    page.screenshot(path=str(ARTIFACTS / "annotation-editor-drawn.png"))
    page.click("#annotation-save")
    expect(page.locator("#annotation-save")).to_have_text("Saved")

    saved = api_annotations(live_server, slide_id)
    assert len(saved) == 8
    first_four = [a["id"] for a in saved[:4]]
    last_four = [a["id"] for a in saved[4:]]
    assert {a["label"] for a in saved[:4]} == {"lung_n"} and {a["label"] for a in saved[4:]} == {"lung_aca"}

    page.reload()
    open_editor(page, live_server, slide_id)
    assert_landed(page, by_shape(saved, first_four), home)
    page.evaluate(
        "(b) => { const v = window.pathodeskViewer, r = v.viewport.getBounds();"
        " [r.x, r.y, r.width, r.height] = b; v.viewport.fitBounds(r, true); }",
        bounds,
    )
    page.wait_for_timeout(800)
    assert_landed(page, by_shape(saved, last_four), zoomed)

    # relabel from the list
    row = page.locator(f"#annotation-rows tr[data-id='{saved[4]['id']}']")
    row.locator("select.relabel").select_option("lung_scc")
    expect(page.locator("#annotation-save")).to_have_text("Save (1)")
    page.keyboard.press("Control+s")
    expect(page.locator("#annotation-save")).to_have_text("Saved")
    assert {a["id"]: a["label"] for a in api_annotations(live_server, slide_id)}[saved[4]["id"]] == "lung_scc"

    # select the zoomed rectangle by clicking inside it, delete: gone from list and canvas
    rectangle = by_shape(saved, last_four)["rectangle"]
    x0, y0, x1, y1 = rectangle["bbox"]
    (inside,) = to_screen(page, [[(x0 + x1) / 2, (y0 + y1) / 2]])
    page.keyboard.press("v")
    page.mouse.click(*inside)
    expect(page.locator("#annotation-rows tr.selected")).to_have_attribute("data-id", str(rectangle["id"]))
    page.keyboard.press("Delete")
    expect(page.locator(f"#annotation-rows tr[data-id='{rectangle['id']}']")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "annotation-editor-deleted.png"))
    page.keyboard.press("Control+z")  # undo brings it back
    expect(page.locator(f"#annotation-rows tr[data-id='{rectangle['id']}']")).to_have_count(1)
    page.keyboard.press("Control+Shift+z")  # redo deletes it again
    expect(page.locator(f"#annotation-rows tr[data-id='{rectangle['id']}']")).to_have_count(0)

    # leaving with unsaved changes asks first (the browser shows its "Leave site?" prompt)
    leaving = (
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    assert page.evaluate(leaving) is True
    page.click("#annotation-save")
    expect(page.locator("#annotation-save")).to_have_text("Saved")
    assert rectangle["id"] not in {a["id"] for a in api_annotations(live_server, slide_id)}
    assert page.evaluate(leaving) is False
    page.close()


@pytest.mark.console_errors_expected(REFUSED)  # refusals provoked on purpose
def test_conflicting_saves_and_sign_off_in_the_browser(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        token = client.post("/api/v1/auth/login", json={"account": "expert-a", "password": PASSWORD}).json()
        ring = [[600, 600], [900, 600], [900, 900], [600, 900], [600, 600]]
        square = {"type": "Polygon", "coordinates": [ring]}
        made = client.post(
            f"/api/v1/slides/{slide_id}/annotations",
            json={"label": "lung_aca", "geometry": square, "source": "ai", "probability": 0.87},
            headers={"X-CSRF-Token": token["csrf_token"]},
        ).json()
    expert = logged_in_page(browser, live_server, "expert-a")
    admin = logged_in_page(browser, live_server, "admin")
    for page in (expert, admin):
        open_editor(page, live_server, slide_id)
        expect(page.locator(f"#annotation-rows tr[data-id='{made['id']}']")).to_contain_text("0.87")
    # clicking a row flies to the annotation: it fills the middle of the view
    expert.locator(f"#annotation-rows tr[data-id='{made['id']}'] td").nth(2).click()
    expert.wait_for_timeout(1500)
    (x0, y0), (x1, y1) = to_screen(expert, [[600, 600], [900, 900]])
    box = expert.locator("#viewer").bounding_box()
    assert box is not None
    assert abs((x0 + x1) / 2 - (box["x"] + box["width"] / 2)) < 40
    assert abs((y0 + y1) / 2 - (box["y"] + box["height"] / 2)) < 40
    assert (y1 - y0) > 0.3 * box["height"]  # zoomed in on it
    expert.locator(f"#annotation-rows tr[data-id='{made['id']}'] select.relabel").select_option("lung_scc")
    admin.locator(f"#annotation-rows tr[data-id='{made['id']}'] select.relabel").select_option("lung_n")
    expert.click("#annotation-save")
    expect(expert.locator("#annotation-save")).to_have_text("Saved")
    # one column says who drew it and who corrected it
    drawn_by = expert.locator(f"#annotation-rows tr[data-id='{made['id']}'] td").last
    expect(drawn_by).to_have_text("AI, edited by Expert A")  # by name, not account
    expect(expert.locator("#annotation-list thead th")).to_have_text(
        ["shown", "class", "area", "perimeter", "p", "drawn by"]
    )
    admin.click("#annotation-save")
    expect(admin.locator("#annotation-message")).to_contain_text("Someone else changed an annotation")
    expect(admin.locator("#annotation-save")).to_have_text("Save (1)")  # nothing of theirs is lost
    admin.screenshot(path=str(ARTIFACTS / "annotation-conflict.png"))

    expert.select_option("#review-verdict", "approved")
    expert.fill("#review-opinion", "Squamous cell carcinoma, moderately differentiated.")
    expert.click("#review-submit")
    expect(expert.locator("#review-status")).to_have_text("reviewed, round 1")
    expect(expert.locator("#review-rounds li")).to_contain_text("approved by Expert A, ")  # name, then when
    expect(expert.locator("#review-rounds li")).to_contain_text(str(datetime.now().year))
    expert.screenshot(path=str(ARTIFACTS / "annotation-review.png"))

    admin.goto(f"{live_server.url}/")
    expect(admin.locator(f"[data-slide-id='{slide_id}'] [data-status]")).to_have_text("reviewed")
    with admin.expect_download() as download_info:
        admin.click("#download-reviewed")
    import zipfile

    archive = zipfile.ZipFile(download_info.value.path())
    assert f"slide-{slide_id}/round-1.xml" in archive.namelist()
    assert b'PartOfGroup="lung_scc"' in archive.read(f"slide-{slide_id}/round-1.xml")
    expert.close()
    admin.close()


def test_an_asap_file_imported_from_the_panel(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path], tmp_path: Path
) -> None:
    """The panel's import: the outline appears in the list, and the picker, in the page's own
    words, says which file was chosen and then that none is."""
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    outline = tmp_path / "from-asap.xml"
    outline.write_text(
        '<ASAP_Annotations><Annotations><Annotation Name="focus" Type="Polygon" PartOfGroup="lung_aca">'
        '<Coordinates><Coordinate Order="0" X="600" Y="600"/><Coordinate Order="1" X="900" Y="600"/>'
        '<Coordinate Order="2" X="900" Y="900"/><Coordinate Order="3" X="600" Y="900"/></Coordinates>'
        "</Annotation></Annotations></ASAP_Annotations>"
    )
    page = logged_in_page(browser, live_server, "expert-a")
    open_editor(page, live_server, slide_id)
    chosen = page.locator(".annotation-files .file-names")
    expect(chosen).to_have_text("No file chosen")
    page.set_input_files("#annotation-import", str(outline))
    expect(page.locator("#annotation-rows tr")).to_have_count(1)
    expect(page.locator("#annotation-rows tr select.relabel")).to_have_value("lung_aca")
    expect(chosen).to_have_text("No file chosen")  # taken in: the picker is free again
