"""One time budget for everything a request asks of the cells.

Every page and API call runs inside `fleet.kafka.connection.call_budget(SKIFF_KAFKA_TIMEOUT)`:
however many calls a view makes to a slow or stopped cell, together they give up after that
long, and the view answers with the gateway's `CellTimeout` (504, naming the cell) instead of
one timeout per call (a topic page makes four). WebSocket consumers, tasks and the sampler
keep their own per-call timeouts.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from fleet.kafka.connection import call_budget


class KafkaCallBudgetMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with call_budget(float(settings.SKIFF_KAFKA_TIMEOUT)):
            return self.get_response(request)
