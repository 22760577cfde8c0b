"""Charts in Chromium, light and dark (issue 16, item 3 / acceptance 3).

Reads the uPlot instances themselves: the axis values they drew, and the colours they were
given. Axis values are present, times are 24-hour UTC (HH:MM, never AM/PM), money and rates
carry units, every canvas colour is a concrete CSS colour (rgb()/rgba(): a canvas rejects
the theme's light-dark(oklch(…)) and silently draws black), and the colours follow the theme.
The cost-per-day chart draws bars with one tick per day (MM-DD).
"""

from __future__ import annotations

import datetime as dt
import os
import re

from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from billing.periods import month_of
from billing.services.invoices import recompute_draft
from console.models import Team
from tests.billing.sources import GIB, billed_cluster, minute_row, partitions

EMAIL = "charts@example.com"
PASSWORD = "s3cure-Passw0rd!"
SHOTS = os.environ.get("SKIFF_CHART_SCREENSHOTS")  # a directory, to look at the charts

READ_CHART = """
(el) => {
  const entry = el.__skiffChart;
  if (!entry || !entry.plot) return null;
  const u = entry.plot;
  return {
    axes: u.axes.map((a) => (a._values || []).map(String)),
    strokes: u.axes.map((a) => (typeof a.stroke === "function" ? a.stroke(u, 0) : a.stroke)),
    grids: u.axes.map((a) => a.grid.stroke(u, 0)),
    colors: entry.colors,
    valid: [entry.colors.text, entry.colors.grid].every((c) => CSS.supports("color", c)),
    legendX: u.series[0].value(u, u.data[0][u.data[0].length - 1]),
    bars: u.series[1].paths !== undefined && entry.el.getAttribute("data-kind") === "daily-bars",
    ticks: u.data[0].length,
  };
}
"""

CONCRETE = re.compile(r"^rgba?\(\d{1,3}, \d{1,3}, \d{1,3}(, [01](\.\d+)?)?\)$")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")


def _check_colours(info: dict, where: str) -> None:
    assert info["valid"], f"{where}: not valid CSS colours: {info['colors']}"
    for name in ("text", "grid"):
        assert CONCRETE.match(info["colors"][name]), f"{where}: {name} = {info['colors'][name]}"
    for stroke in info["strokes"] + info["grids"]:
        assert CONCRETE.match(stroke), f"{where}: axis colour {stroke!r} is not rgb()"


def _luminance(rgb: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _read(page, chart) -> dict:
    page.wait_for_function(
        "(el) => el.__skiffChart && el.__skiffChart.plot && "
        "el.__skiffChart.plot.axes.every((a) => (a._values || []).length > 0)",
        arg=chart.element_handle(),
        timeout=10_000,
    )
    return chart.evaluate(READ_CHART)


def test_chart_axes_colours_and_times_in_light_and_dark(page, live_app):
    call_command("create_team_admin", "--email", EMAIL, "--password", PASSWORD, "--team", "ch")
    team = Team.objects.get(slug="ch")
    now = timezone.now().replace(second=0, microsecond=0)
    start = max(
        dt.datetime.combine(month_of(now), dt.time(), tzinfo=dt.UTC), now - dt.timedelta(days=3)
    )
    cluster = billed_cluster(start.strftime("%Y-%m-%d %H:%M"), team=team, name="orders")
    partitions(cluster, "payments", start.strftime("%Y-%m-%d %H:%M"), 6)
    for back in range(2, 12):  # the last minutes: the throughput page's seed
        minute = (now - dt.timedelta(minutes=back)).strftime("%Y-%m-%d %H:%M")
        minute_row(cluster, "payments", minute, bytes_in=7_000_000 + back * 9_000, messages=600)
    minute_row(cluster, "payments", start.strftime("%Y-%m-%d %H:%M"), bytes_in=3 * GIB)
    recompute_draft(team, month_of(now))

    page.goto("/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    page.evaluate("() => window.Skiff.setTheme('light')")

    page.get_by_role("link", name="orders").first.click()
    page.get_by_role("link", name="Throughput").click()
    chart = page.locator("#chart-live-bytes")
    light = _read(page, chart)
    x_values, y_values = light["axes"]
    assert x_values and y_values, light
    assert all(HHMM.match(v) for v in x_values), f"x axis not 24-hour UTC: {x_values}"
    assert all(re.search(r"(B|KiB|MiB|GiB)/s$", v) for v in y_values), y_values
    assert not any(re.search(r"[AP]M", v) for v in [*x_values, light["legendX"]])
    assert light["legendX"].endswith(" UTC"), light["legendX"]
    _check_colours(light, "throughput, light")
    if SHOTS:
        chart.screenshot(path=f"{SHOTS}/throughput-light.png")

    page.get_by_role("button", name="Toggle dark mode").click()
    page.wait_for_function(
        "(el) => el.__skiffChart.colors && document.documentElement.dataset.bsTheme === 'dark'",
        arg=chart.element_handle(),
    )
    dark = _read(page, chart)
    _check_colours(dark, "throughput, dark")
    if SHOTS:
        chart.screenshot(path=f"{SHOTS}/throughput-dark.png")
    assert dark["axes"][0] and dark["axes"][1], dark
    # Text is light on dark, dark on light: readable in both.
    assert _luminance(dark["colors"]["text"]) > 150 > _luminance(light["colors"]["text"]), (
        light["colors"],
        dark["colors"],
    )

    page.get_by_role("link", name="Billing").click()
    daily = page.locator("#chart-usage-daily")
    info = _read(page, daily)
    _check_colours(info, "usage, dark")
    if SHOTS:
        daily.screenshot(path=f"{SHOTS}/daily-dark.png")
    assert info["bars"], "the cost-per-day chart is not drawn as bars"
    assert all(re.match(r"^\d\d-\d\d$", v) for v in info["axes"][0]), info["axes"][0]
    assert all(v.startswith("$") for v in info["axes"][1]), info["axes"][1]
    assert re.match(r"^\d{4}-\d\d-\d\d \(UTC\)$", info["legendX"]), info["legendX"]

    page.get_by_role("button", name="Toggle dark mode").click()
    back_to_light = _read(page, daily)
    _check_colours(back_to_light, "usage, light")
    assert back_to_light["colors"]["text"] == light["colors"]["text"]
