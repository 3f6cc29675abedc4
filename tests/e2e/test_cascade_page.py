"""Cascade grading in Chromium (issue 14, item 7): on a mosaic slide whose lesion is known,
choose the cascade in the viewer, watch it run, then see the low-power candidate box drawn
around the lesion in the colour of its grade, the fine outline over the lesion, the slide
grade, and how much of the tissue was read at high power."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from playwright.sync_api import Browser, expect

from pathodesk.analysis.mosaic import split_images, write_mosaic
from pathodesk.ml.registry import SHIPPED_DIR
from tests.support.accounts import Accounts
from tests.support.axe import audit, blocking
from tests.support.browser import logged_in_page, open_editor, overlay_pixels, to_screen, viewer_origin
from tests.support.http import ingest
from tests.support.paths import ARTIFACTS
from tests.support.server import LiveServer


def test_cascade_from_the_viewer_shows_boxes_outlines_and_grade(
    browser: Browser, live_server: LiveServer, accounts: Accounts, shared_data: Path, tmp_path: Path
) -> None:
    images = split_images(shared_data / "lc25000-lung-224", SHIPPED_DIR / "lung" / "splits.csv")
    truth = write_mosaic(
        tmp_path / "cascade.tiff", images, "lung_n", "lung_scc", grid=24, seed=2, tumour_fraction=0.1
    )
    assert truth.tumour is not None
    slide_id = ingest(live_server.url, "expert-a", truth.path, accounts.exam_a_id)
    page = logged_in_page(browser, live_server, "expert-a")
    open_editor(page, live_server, slide_id)

    expect(page.locator("#weak-cascade-warning")).to_have_count(0)  # lung's cascade is not weak
    page.select_option("#analyze-mode", "cascade")
    expect(page.locator("#analyze-overlap")).to_be_hidden()  # the tiles mode's option only
    page.click("#analyze-start")
    expect(page.locator("#analyze-status")).to_have_text("finished 100 %", timeout=120_000)
    expect(page.locator("#slide-grade")).to_contain_text("malignant")
    expect(page.locator("#cascade-share")).to_contain_text("of the tissue read at high power")
    expect(page.locator("#analysis-summary")).to_contain_text("lung squamous cell carcinoma")
    share = page.evaluate(
        f"() => fetch('/api/v1/slides/{slide_id}/analysis').then((r) => r.json())"
        ".then((s) => [s.tiles_read, s.tiles_exhaustive])"
    )
    assert 0 < share[0] < share[1] / 2  # most of the tissue was never read at high power

    # the candidate box surrounds the lesion, drawn in the malignant colour (red)
    boxes = page.locator(".candidate-box")
    expect(boxes.first).to_be_visible()
    box = boxes.first.bounding_box()
    assert box is not None
    x0, y0, x1, y1 = truth.tumour.bounds
    (left, top), (right, bottom) = to_screen(page, [[x0, y0], [x1, y1]])
    assert box["x"] <= left + 2 and box["y"] <= top + 2
    assert box["x"] + box["width"] >= right - 2 and box["y"] + box["height"] >= bottom - 2
    colour = boxes.first.evaluate("(el) => getComputedStyle(el).borderTopColor")
    red, green, _ = (int(v) for v in colour[colour.index("(") + 1 : -1].split(",")[:3])
    assert red > 150 and green < 60, colour
    assert boxes.first.get_attribute("data-grade") == "malignant"

    # the fine outline is drawn over the lesion and listed with its class
    expect(page.locator("#annotation-rows tr").first).to_contain_text("AI")
    centre = truth.tumour.representative_point()
    (x, y) = to_screen(page, [[centre.x, centre.y]])[0]
    ox, oy = viewer_origin(page)
    pixels = overlay_pixels(page)
    ratio = pixels.shape[1] / page.evaluate("() => document.getElementById('annotation-canvas').clientWidth")
    assert pixels[int((y - oy) * ratio), int((x - ox) * ratio), 3] > 20
    page.screenshot(path=str(ARTIFACTS / "cascade-viewer.png"))
    assert blocking(audit(page)) == []

    # the boxes can be hidden, and come back after a reload with the kept analysis
    page.uncheck("#cascade-boxes-toggle")
    expect(boxes).to_have_count(0)
    page.reload()
    open_editor(page, live_server, slide_id)
    expect(page.locator(".candidate-box").first).to_be_visible()
    legend = page.locator("#cascade-legend li")
    expect(legend).to_have_text(["benign", "malignant"])
    swatches = np.array(
        [
            [int(v) for v in c[c.index("(") + 1 : -1].split(",")[:3]]
            for c in legend.locator(".swatch").evaluate_all(
                "(els) => els.map((el) => getComputedStyle(el).borderTopColor)"
            )
        ]
    )
    assert swatches[0, 1] > swatches[0, 0] and swatches[1, 0] > swatches[1, 1]  # green, then red

    # the case report gives the slide's grade and each outline's
    page.goto(f"{live_server.url}/exams/{accounts.exam_a_id}/report")
    expect(page.locator(".report-ai")).to_contain_text("Slide grade: malignant.")
    expect(page.locator('.report-findings tr[data-number="1"]')).to_contain_text(
        "lung squamous cell carcinoma · malignant"
    )
    page.close()
