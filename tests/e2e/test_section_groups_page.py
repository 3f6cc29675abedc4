"""Serial sections in Chromium (issue 15, items 1, 5, 6 and 8): build a group of two stains on
the exam page, register it and watch the percentage, draw a lesion on the reference and see
its outline on the other stain where that tissue lies, then pan the reference in the
side-by-side view and see the other stain follow to the same tissue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.registration.test_register import he_image, known_warp, moving_image, restained
from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import logged_in_page, open_editor, overlay_pixels, to_screen, viewer_origin
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer

__all__ = ["he_image"]


def test_a_lesion_drawn_on_one_stain_appears_on_the_other_and_views_move_together(
    browser: Browser, live_server: LiveServer, accounts: Accounts, he_image: np.ndarray, tmp_path: Path
) -> None:
    truth = known_warp(he_image.shape[:2])
    Image.fromarray(he_image).save(tmp_path / "he.png")
    Image.fromarray(restained(moving_image(he_image, truth))).save(tmp_path / "ki67.png")
    he = ingest(live_server.url, "expert-a", tmp_path / "he.png", accounts.exam_a_id)
    other = ingest(live_server.url, "expert-a", tmp_path / "ki67.png", accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")

    # the exam page: a group of the two slides, H&E the reference
    page.goto(f"{live_server.url}/exams/{accounts.exam_a_id}")
    form = page.locator("#section-group-form")
    form.locator("#group-name").fill("block A1")
    for slide_id, stain in ((he, "H&E"), (other, "Ki67")):
        row = form.locator(f"tr[data-slide-id='{slide_id}']")
        row.locator(".member").check()
        row.locator(".stain").fill(stain)
    form.locator(f"tr[data-slide-id='{he}'] .reference").check()
    form.locator("button[type=submit]").click()
    group = page.locator(".section-group").first
    expect(group).to_contain_text("block A1")
    expect(group).to_contain_text("not registered yet")
    # every text the status line shows, recorded by the page itself (sampling could miss one)
    # where the reload after success keeps it
    group.locator(".register-status").evaluate(
        """(status) => {
          const shown = [];
          new MutationObserver(() => {
            shown.push(status.textContent);
            sessionStorage.setItem('statusTexts', JSON.stringify(shown));
          }).observe(status, {childList: true, characterData: true, subtree: true});
        }"""
    )
    group.locator("[data-register-group]").click()
    expect(page.locator(".section-group").first).to_contain_text(
        "registered, estimated error", timeout=120_000
    )
    shown: list[str] = page.evaluate("() => JSON.parse(sessionStorage.getItem('statusTexts'))")
    assert any(text.endswith("— registering sections") for text in shown), shown  # the stage, not only %

    # draw a polygon on the reference (H&E) in its viewer
    open_editor(page, live_server, he)
    lesion = [[200.0, 260.0], [340.0, 250.0], [350.0, 400.0], [210.0, 410.0]]
    page.keyboard.press("g")
    screen = to_screen(page, lesion)
    for point in screen:
        page.mouse.click(*point)
    page.mouse.click(*screen[0])
    page.keyboard.press("h")
    page.click("#annotation-save")
    expect(page.locator("#annotation-rows tr")).to_have_count(1)

    # the other stain shows the outline where the tissue went (the known warp), marked as carried
    open_editor(page, live_server, other)
    expect(page.locator("#annotation-rows tr").first).to_contain_text("from the reference section")
    centre = truth.fixed_to_moving(np.asarray([[275.0, 330.0]]))[0]
    (x, y) = to_screen(page, [[float(centre[0]), float(centre[1])]])[0]
    ox, oy = viewer_origin(page)
    pixels = overlay_pixels(page)
    ratio = pixels.shape[1] / page.evaluate("() => document.getElementById('annotation-canvas').clientWidth")
    assert pixels[int((y - oy) * ratio), int((x - ox) * ratio), 3] > 20  # filled where the lesion lies
    far = truth.fixed_to_moving(np.asarray([[275.0, 600.0]]))[0]
    (fx, fy) = to_screen(page, [[float(far[0]), float(far[1])]])[0]
    assert pixels[int((fy - oy) * ratio), int((fx - ox) * ratio), 3] == 0  # and nowhere else
    page.screenshot(path=str(ARTIFACTS / "section-carried-outline.png"))

    # the side-by-side view: pan the reference, the other follows to the same tissue
    page.goto(f"{live_server.url}/exams/{accounts.exam_a_id}")
    page.locator(".section-group a").first.click()
    page.wait_for_selector("#section-viewers[data-ready='true']", state="attached")
    page.wait_for_function(
        "() => [...window.pathodeskSections.viewers.values()].every((e) => e.viewer.world.getItemCount() > 0)"
    )
    box = page.locator(f"#section-viewer-{he}").bounding_box()
    assert box is not None
    start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*start)
    page.mouse.wheel(0, -400)  # zoom in on the reference
    page.mouse.down()
    page.mouse.move(start[0] - 80, start[1] - 60, steps=8)
    page.mouse.up()
    page.wait_for_timeout(600)
    centres = page.evaluate(
        """([he, other]) => {
            const s = window.pathodeskSections.viewers;
            const at = (id) => {
                const e = s.get(id), c = e.viewer.viewport.getCenter(true);
                return [c.x * e.width, c.y * e.width, e.viewer.viewport.getZoom(true) / e.width];
            };
            return [at(he), at(other)];
        }""",
        [he, other],
    )
    reference_centre, other_centre = centres
    expected = truth.fixed_to_moving(np.asarray([reference_centre[:2]]))[0]
    assert np.hypot(*(np.asarray(other_centre[:2]) - expected)) < 4  # level-0 px: the same tissue
    assert abs(other_centre[2] / reference_centre[2] - 1 / 1.03) < 0.03  # same magnification on screen
    # the other stain in the reference's colours: its tiles come from the normalizing route
    page.select_option("#colour-mode", "normalized")
    page.wait_for_selector("#section-viewers[data-colours='normalized']", state="attached")
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some((e) => e.name.includes('/normalized_files/'))"
    )
    page.wait_for_function(
        f"() => window.pathodeskSections.viewers.get({other}).viewer.world.getItemAt(0).getFullyLoaded()"
    )
    tile_urls = page.evaluate(
        "() => performance.getEntriesByType('resource').map((e) => e.name)"
        ".filter((n) => n.includes('/normalized_files/'))"
    )
    assert tile_urls and all(f"/slides/{other}/normalized_files/" in url for url in tile_urls)
    page.select_option("#overlay-slide", str(other))
    page.wait_for_function(
        "() => window.pathodeskSections.viewers.values().next().value.viewer.world.getItemCount() === 2"
    )
    page.screenshot(path=str(ARTIFACTS / "section-group-view.png"))
    assert blocking(audit(page)) == []
