"""Serve the real ASGI app (``console.asgi:application``) with Daphne for browser tests.

Run by tests/plugins/browser.py as ``python -m tests.plugins.live_server --port-file F`` in
a subprocess whose environment points DATABASE_URL at pytest-django's test database. It
listens on a free port of 127.0.0.1 chosen by the kernel and writes that port to F once
it accepts connections. Static files are served by Django's ASGIStaticFilesHandler (from
the finders: no collectstatic), the way channels' ChannelsLiveServerTestCase does it;
WebSocket scopes go straight through to the app.
"""

# Daphne installs Twisted's asyncio reactor when daphne.server is imported: first.
import daphne.server  # isort:skip

import argparse
import logging
import os
import sys
from pathlib import Path


def build_application():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    import django
    from django.conf import settings

    from tests.plugins.services import TEST_PASSWORD_HASHERS

    django.setup()
    settings.PASSWORD_HASHERS = TEST_PASSWORD_HASHERS  # as in the test process
    from channels.routing import get_default_application
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    return ASGIStaticFilesHandler(get_default_application())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from daphne.access import AccessLogGenerator
    from daphne.endpoints import build_endpoint_description_strings
    from twisted.internet import reactor

    application = build_application()
    server = daphne.server.Server(
        application=application,
        endpoints=build_endpoint_description_strings(host=args.host, port=0),
        signal_handlers=True,  # SIGTERM/SIGINT stop the reactor cleanly
        action_logger=AccessLogGenerator(sys.stdout),
        application_close_timeout=5,
    )

    def report_port() -> None:
        if not server.listening_addresses:
            reactor.callLater(0.05, report_port)
            return
        port = server.listening_addresses[0][1]
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(port))
        tmp.replace(args.port_file)  # atomic: the parent never reads a half-written file
        print(f"live server listening on http://{args.host}:{port}/", flush=True)

    server.ready_callable = lambda: reactor.callLater(0, report_port)
    server.run()


if __name__ == "__main__":
    main()
