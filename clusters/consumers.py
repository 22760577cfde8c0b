"""WebSocket consumers, one per page kind. No Kafka and no heavy queries here.

Each consumer authenticates the session (AuthMiddlewareStack puts the user in the scope),
checks the user's membership in the cluster's team against the permission table before joining
the cluster's group (and again every `RECHECK_SECONDS`, on a timer), and otherwise only relays
what the sampler broadcasts. Another team's cluster,
an unknown one, or an anonymous user: the handshake is refused (HTTP 403), nothing leaks.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from clusters.models import Cluster
from clusters.throughput import current_throughput, only_topic, throughput_subscription_allowed
from fleet.services.sampler import register_server_loop, throughput_group_name

logger = logging.getLogger(__name__)

# A member removed from the team stops receiving within this many seconds.
RECHECK_SECONDS = 60.0


def _subscribe(user, cluster_id: int) -> dict | None:
    """The document to send first, or None when the user may not subscribe (one thread hop)."""
    if not throughput_subscription_allowed(user, cluster_id):
        return None
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    return current_throughput(cluster) if cluster is not None else None


class ClusterThroughputConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/clusters/<id>/throughput/`: the cluster's live document after every scrape."""

    group: str | None = None
    _recheck_task: asyncio.Task | None = None

    async def connect(self) -> None:
        register_server_loop(asyncio.get_running_loop())
        self.cluster_id = int(self.scope["url_route"]["kwargs"]["cluster_id"])
        self.user = self.scope.get("user")
        document = await database_sync_to_async(_subscribe)(self.user, self.cluster_id)
        if document is None:
            await self.close(code=4403)
            return
        self.group = throughput_group_name(self.cluster_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The last pushed document at once, so a page never waits a whole interval for numbers.
        await self.send_json(self.shape(document))
        self._recheck_task = asyncio.create_task(self._recheck_membership())

    async def _recheck_membership(self) -> None:
        """Close the socket once the user may no longer see the cluster, checked every period.

        On a timer of its own rather than on pushes: a push never waits for the database, and
        the checks of sockets that joined together (many users reloading, a server restart) are
        spread over the period (the first at a random point of it), not bunched on push instants.
        """
        delay = RECHECK_SECONDS * random.random()  # noqa: S311 (spreads load; not a secret)
        while True:
            await asyncio.sleep(delay)
            delay = RECHECK_SECONDS
            try:
                allowed = await database_sync_to_async(throughput_subscription_allowed)(
                    self.user, self.cluster_id
                )
            except Exception:  # no answer is no permission: the page reconnects and asks again
                logger.exception("rechecking a throughput subscription failed")
                await self._leave()
                await self.close(code=1011)
                return
            if not allowed:
                await self._leave()
                await self.close(code=4403)
                return

    async def _leave(self) -> None:
        if self.group is not None:
            group, self.group = self.group, None
            await self.channel_layer.group_discard(group, self.channel_name)

    async def disconnect(self, code) -> None:
        task = self._recheck_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        await self._leave()

    async def receive_json(self, content, **kwargs) -> None:
        """Clients only listen."""

    async def dispatch(self, message) -> None:
        # Channels closes stale database connections before every handler: a hop to the one
        # thread for sync code per socket and per push, so with hundreds of sockets the last
        # one waited for hundreds of hops. Pushes do not touch the database.
        if message["type"] == "throughput.update":
            await self.throughput_update(message)
        else:
            await super().dispatch(message)

    async def throughput_update(self, event) -> None:
        if self.group is not None:  # not once the recheck has refused it
            await self.send(text_data=self.shape_text(event["text"]))

    def shape(self, document: dict) -> dict:
        return document

    def shape_text(self, text: str) -> str:
        """The pushed JSON as this socket sends it: the whole document as encoded once."""
        return text


class TopicThroughputConsumer(ClusterThroughputConsumer):
    """`/ws/clusters/<id>/topics/<name>/throughput/`: one topic's share of the document."""

    async def connect(self) -> None:
        self.topic = self.scope["url_route"]["kwargs"]["topic"]
        await super().connect()

    def shape(self, document: dict) -> dict:
        return only_topic(document, self.topic)

    def shape_text(self, text: str) -> str:
        return _topic_share_text(text, self.topic)


@functools.lru_cache(maxsize=16)
def _pushed_document(text: str) -> tuple[dict, dict[str, str]]:
    """A pushed text parsed once, and a cache of each topic's share of it as encoded once.

    Every topic socket of a cluster receives the same text per push (the very same object with
    the in-memory layer, an equal copy with Redis): parsing it per socket cost about a
    millisecond each at 1,000 topics, so hundreds of topic pages held the event loop for most of
    a second per push. Keyed by the text, so the pushes of several clusters can interleave.
    """
    return json.loads(text), {}


def _topic_share_text(text: str, topic: str) -> str:
    document, shares = _pushed_document(text)
    share = shares.get(topic)
    if share is None:  # the first socket of this topic in this push; the others reuse it
        share = shares[topic] = json.dumps(only_topic(document, topic), separators=(",", ":"))
    return share
