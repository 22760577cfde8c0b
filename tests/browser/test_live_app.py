"""The browser harness itself: the live app serves static files, and in-process channel
layer calls work inside a browser test."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from tests.plugins.browser import outside_playwright_loop


def test_stylesheets_of_the_login_page_load(page, live_app):
    page.goto("/login/")
    hrefs = page.locator("link[rel=stylesheet]").evaluate_all("els => els.map(e => e.href)")
    assert hrefs, "the login page links no stylesheet"
    for href in hrefs:
        response = page.request.get(href)
        assert response.status == 200, f"{href}: HTTP {response.status}"
        assert response.headers["content-type"].startswith("text/css"), href


def test_channel_layer_round_trip_inside_a_browser_test(page, live_app):
    page.goto("/login/")
    layer = get_channel_layer()

    async def round_trip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "harness.ping"})
        return await layer.receive(channel)

    with outside_playwright_loop():
        assert async_to_sync(round_trip)() == {"type": "harness.ping"}
    page.goto("/login/")  # Playwright still works afterwards
