"""Finding one's way on a slide (issue 21, item 5): magnification presets, rotation with the
outlines turning along, the cursor in µm, class names on the slide, counts of all and in
view, the shortcuts list; larger vertex handles."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.support.accounts import Accounts
from tests.support.browser import logged_in_page, open_editor, overlay_pixels, to_screen, viewer_origin
from tests.support.http import ingest, login
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer

SQUARE = [[900, 1200], [1300, 1200], [1300, 1500], [900, 1500], [900, 1200]]  # level-0 px


def test_presets_rotation_cursor_labels_and_shortcuts(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "expert-a")
        made = client.post(
            f"/api/v1/slides/{slide_id}/annotations",
            json={"label": "lung_aca", "geometry": {"type": "Polygon", "coordinates": [SQUARE]}},
        )
        assert made.status_code == 201, made.text
    page = logged_in_page(browser, live_server, "expert-a")
    open_editor(page, live_server, slide_id)
    magnification = page.locator("#magnification")

    page.keyboard.press("2")  # 10x: a 0.499 µm/px slide at 0.499 screen px per slide px
    expect(magnification).to_have_text(re.compile(r"≈ 10\.0×"))
    page.click("[data-magnification='40']")
    expect(magnification).to_have_text(re.compile(r"≈ 40\.0×"))
    page.keyboard.press("0")  # the whole slide again
    expect(page.locator("#annotation-count")).to_contain_text("1 in view of 1")
    assert page.evaluate("() => window.pathodeskAnnotations.canvas.labels.size") == 1  # class on the slide

    # sizes in the unit a pathologist reads: 29,880 µm² is 0.03 mm²; 699 µm stays in µm
    expect(page.locator("#annotation-rows tr td:nth-child(3)")).to_have_text("0.03 mm²")
    expect(page.locator("#annotation-rows tr td:nth-child(4)")).to_have_text("699 µm")
    cut = page.evaluate(
        "() => [...document.querySelectorAll('#annotation-list th, #annotation-rows td')]"
        ".filter(cell => !cell.querySelector('input, select') && cell.scrollWidth > cell.clientWidth)"
        ".map(cell => cell.textContent)"
    )
    assert cut == [], cut  # at the panel's default width every heading and value is whole
    page.click("#annotation-rows tr td:nth-child(3)")  # select it from the list
    expect(page.locator("#annotation-details")).to_be_visible()
    page.fill("#annotation-name", "Focus A")
    page.fill("#annotation-comment", "近似腺样结构")
    page.locator("#annotation-comment").blur()
    expect(page.locator("#annotation-save")).to_have_text("Save (1)")
    page.click("#annotation-save")
    expect(page.locator("#annotation-save")).to_have_text("Saved")
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "expert-a")
        (saved,) = client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    assert (saved["name"], saved["comment"]) == ("Focus A", "近似腺样结构")
    page.keyboard.press("0")

    page.click("[data-rotate='90']")
    page.wait_for_function("() => window.pathodeskViewer.viewport.getRotation() === 90")
    page.wait_for_timeout(1200)  # the rotation animates
    (cx, cy) = to_screen(page, [[1100, 1350]])[0]  # the square's centre, where the slide now shows it
    (ox, oy) = viewer_origin(page)
    pixels = overlay_pixels(page)
    ratio = pixels.shape[1] / page.evaluate("() => document.getElementById('annotation-canvas').clientWidth")
    assert pixels[int((cy - oy) * ratio), int((cx - ox) * ratio), 3] > 20  # the outline turned with it
    page.screenshot(path=str(ARTIFACTS / "viewer-rotated.png"))

    page.mouse.move(cx, cy)
    expect(page.locator("#cursor-position")).to_have_text(re.compile(r"^x 5\d\d µm, y 6\d\d µm$"))

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Zoom to 5×, 10×, 20×, 40×")
    page.screenshot(path=str(ARTIFACTS / "viewer-shortcuts.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    assert page.evaluate("() => window.pathodeskAnnotations.canvas.scope.settings.handleSize") == 9
    page.close()


def test_point_count_ruler_brush_and_eraser(
    browser: Browser, live_server: LiveServer, accounts: Accounts, samples: dict[str, Path]
) -> None:
    slide_id = ingest(live_server.url, "expert-a", samples["svs"], accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    open_editor(page, live_server, slide_id)
    page.keyboard.press("2")  # 10x: about 0.5 screen px per slide px
    page.wait_for_timeout(800)
    box = page.locator("#viewer").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    zoom = page.evaluate("() => window.pathodeskAnnotations.canvas.zoom")

    page.keyboard.press("k")  # count three cells
    for dx in (-60, 0, 60):
        page.mouse.click(cx + dx, cy - 120)
    expect(page.locator("#annotation-count")).to_contain_text("3 in view of 3; points: benign lung tissue 3")

    page.keyboard.press("m")  # measure 200 screen px
    page.mouse.move(cx - 100, cy + 150)
    page.mouse.down()
    page.mouse.move(cx + 100, cy + 150, steps=8)
    page.mouse.up()
    length_um = 200 / zoom * 0.499
    status = page.locator("#tool-status").inner_text()
    measured = float(status.split(":")[1].replace("µm", "").replace(",", "").strip())
    assert abs(measured - length_um) < 0.02 * length_um, (status, length_um)

    page.keyboard.press("b")  # paint a band, then erase across its middle
    page.mouse.move(cx - 120, cy)
    page.mouse.down()
    page.mouse.move(cx + 120, cy, steps=20)
    page.mouse.up()
    painted = page.evaluate(
        "() => [...window.pathodeskAnnotations.store.records.values()].find(r => r.shape === 'freehand')"
    )
    assert painted is not None and painted["geometry"]["type"] == "Polygon"
    page.keyboard.press("e")
    page.mouse.move(cx, cy - 60)
    page.mouse.down()
    page.mouse.move(cx, cy + 60, steps=12)
    page.mouse.up()
    erased = page.evaluate("(key) => window.pathodeskAnnotations.store.records.get(key)", painted["key"])
    assert (
        erased["geometry"]["type"] == "MultiPolygon" and erased["area_px"] < painted["area_px"]
    )  # cut in two
    page.screenshot(path=str(ARTIFACTS / "viewer-tools.png"))
    page.keyboard.press("Control+s")
    expect(page.locator("#annotation-save")).to_have_text("Saved")
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "expert-a")
        stored = client.get(f"/api/v1/slides/{slide_id}/annotations").json()["annotations"]
    assert sorted(a["shape"] for a in stored) == [
        "freehand",
        "point",
        "point",
        "point",
    ]  # the ruler kept nothing
    page.close()
