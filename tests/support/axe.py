"""Accessibility audit of a page with axe-core (npm, the frontend's dev dependency), run in
the page through Playwright (an evaluated script is not subject to the page's CSP)."""

from __future__ import annotations

from functools import cache
from typing import Any

from playwright.sync_api import Page

from tests.support.paths import ROOT

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@cache
def _source() -> str:
    return AXE.read_text()


def audit(page: Page) -> list[dict[str, Any]]:
    """Violations of WCAG 2 A/AA rules on the page as it is now, each with its impact."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const result = await axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "best-practice"] });
          return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
          }));
        }"""
    )
    return found


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING]
