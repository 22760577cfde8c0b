"""What every page of a click-through journey must satisfy (issue 16, acceptance 1, 4 and 6).

`Journey` watches one page: a console error, an uncaught script error or a 4xx/5xx response
that the step did not announce (`journey.expect_status(...)`) is a problem. `journey.check()`
at each page asserts that nothing went wrong since the last check, that the content is no
wider than the viewport (at the journey's width, and at 390 px, a phone, when the journey
runs wider), and that axe-core finds no serious or critical accessibility violation.

axe-core comes from the npm registry (scripts/install-test-deps.sh puts it in
var/test-deps/); it is evaluated through the DevTools protocol, so the console's strict
Content-Security-Policy stays on during the journey.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

ROOT_DIR = Path(__file__).resolve().parents[2]
AXE_VERSION = "4.11.0"
AXE_JS = Path(
    os.environ.get(
        "SKIFF_AXE_JS",
        ROOT_DIR
        / "var"
        / "test-deps"
        / f"axe-core-{AXE_VERSION}"
        / "node_modules"
        / "axe-core"
        / "axe.min.js",
    )
)
PHONE = {"width": 390, "height": 844}
# Static files and the socket may be cancelled by a navigation; that is not a failure.
_IGNORED_URLS = re.compile(r"/favicon\.ico$")

_RUN_AXE = """
async () => {
  const result = await window.axe.run(document, {
    resultTypes: ["violations"],
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) =>
        n.target.join(" ") + " :: " + (n.failureSummary || "").split("\\n").slice(0, 3).join(" ")),
    }));
}
"""

_WIDTH = """
() => Math.max(document.documentElement.scrollWidth, document.body ? document.body.scrollWidth : 0)
"""

_TWO_FRAMES = """
() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))
"""

_WIDEST = """
(limit) => {
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  return Array.from(document.querySelectorAll("body *"))
    .filter((el) => el.getBoundingClientRect().right > limit + 1 && !clipped(el))
    .slice(0, 6)
    .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
         (typeof el.className === "string" && el.className.trim()
           ? "." + el.className.trim().split(/\\s+/).join(".") : "") +
         " right=" + Math.round(el.getBoundingClientRect().right));
}
"""


def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(
            f"axe-core not found at {AXE_JS}: run `bash scripts/install-test-deps.sh` "
            "(installs it from the npm registry), or set SKIFF_AXE_JS.",
            pytrace=False,
        )
    return AXE_JS.read_text()


class Journey:
    """Watches a page through a journey; `check()` at every page."""

    def __init__(self, page: Page, *, name: str, axe: bool = True, phone_check: bool = True):
        self.page = page
        self.name = name
        self.axe = axe
        self.phone_check = phone_check
        self.problems: list[str] = []
        self.expected: list[tuple[int, re.Pattern]] = []
        self.pages_checked: list[str] = []
        self.widths: dict[str, int] = {}
        self._axe_source = axe_source() if axe else ""
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("response", self._on_response)

    # --- watching -------------------------------------------------------------------------

    def _on_console(self, msg) -> None:
        if msg.type == "error":
            self.problems.append(f"console error on {self.page.url}: {msg.text}")

    def _on_response(self, response) -> None:
        if response.status < 400 or _IGNORED_URLS.search(response.url):
            return
        for status, pattern in self.expected:
            if status == response.status and pattern.search(response.url):
                return
        self.problems.append(f"HTTP {response.status} for {response.request.method} {response.url}")

    @contextlib.contextmanager
    def expect_status(self, status: int, url_pattern: str):
        """A step that expects an error answer (e.g. a 400 beside a form)."""
        entry = (status, re.compile(url_pattern))
        self.expected.append(entry)
        try:
            yield
        finally:
            self.expected.remove(entry)

    # --- checking ---------------------------------------------------------------------------

    def check(self, label: str) -> None:
        """Everything a page of the journey must satisfy; `label` names it in failures."""
        page = self.page
        page.wait_for_load_state("load")
        where = f"{self.name} · {label} ({page.url})"
        viewport = page.viewport_size or {"width": 1280, "height": 800}
        width = page.evaluate(_WIDTH)
        assert width <= viewport["width"], (
            f"{where}: content is {width} px wide in a {viewport['width']} px viewport: "
            f"{page.evaluate(_WIDEST, viewport['width'])}"
        )
        if self.phone_check and viewport["width"] > PHONE["width"]:
            page.set_viewport_size(PHONE)
            try:
                # Resize observers (the charts redraw at their new width) run before the next
                # paint: measure once two frames have passed, as a person would see the page.
                page.evaluate(_TWO_FRAMES)
                phone = page.evaluate(_WIDTH)
                widest = page.evaluate(_WIDEST, PHONE["width"]) if phone > PHONE["width"] else []
            finally:
                page.set_viewport_size(viewport)
            assert phone <= PHONE["width"], (
                f"{where}: content is {phone} px wide at 390 px (a phone): {widest}"
            )
            self.widths[label] = phone
        if self.axe:
            if not page.evaluate("() => !!window.axe"):
                page.evaluate(self._axe_source)
            violations = page.evaluate(_RUN_AXE)
            assert not violations, f"{where}: axe-core, serious or critical:\n" + "\n".join(
                f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
                for v in violations
            )
        assert not self.problems, f"{where}:\n" + "\n".join(self.problems)
        self.pages_checked.append(label)

    # --- navigation -------------------------------------------------------------------------

    def nav(self, name: str) -> None:
        """Click an entry of the left navigation; on a narrow screen, open it first."""
        page = self.page
        toggle = page.get_by_role("button", name="Menu")
        if toggle.is_visible():
            if toggle.get_attribute("aria-expanded") != "true":
                toggle.click()
            expect(toggle).to_have_attribute("aria-expanded", "true")
        menu = page.get_by_role("complementary", name="Main navigation")
        link = menu.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        link.click()
