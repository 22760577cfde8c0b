"""A server process's startup objects, kept out of Python's full garbage collections.

A console process tracks about 190,000 objects once it has started: Django, DRF, Channels,
both Kafka clients, the URL conf and every view. They live as long as the process, yet each
full collection walks all of them, holding the interpreter lock. Requests, provisionings and
DRF serializers leave cyclic garbage behind (a serializer and its fields point at each other),
so under load a full collection comes every few seconds: during 20 cluster creates at once
(issue 20, goal 4) two of them came every three rounds, and each stopped the whole process,
every request, provisioning and WebSocket push in it, for 87 to 117 ms.

`gc.freeze()` moves every object alive at that moment into a generation that collections never
walk, so a full collection walks only what was made since: 11 to 13 ms instead, for the same
garbage found. Reference counting frees frozen objects as before. The one cost, documented with
`gc.freeze`, is that a frozen object which later becomes part of a garbage cycle is never
freed; objects made while a server starts are modules, classes and settings, not that kind.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Load what requests and tasks will need (the URL conf, kafka-python), then freeze the
    heap; the number of frozen objects.

    For a server process once it has started (the console's ASGI application, a Celery worker
    process), never for a test process, where the objects alive at that moment include the
    tests' fixtures (settings.SKIFF_FREEZE_STARTUP_HEAP).
    """
    from django.urls import get_resolver

    from fleet.kafka.connection import preload_kafka_python

    get_resolver().url_patterns  # noqa: B018 (imports the URL conf, so every view, now)
    preload_kafka_python(wait=True)  # provisioning and key secrets go through it
    gc.collect()  # garbage already made is freed, not frozen
    gc.freeze()
    return gc.get_freeze_count()
