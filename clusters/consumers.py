"""WebSocket consumers, one per page kind. No Kafka and no heavy queries here.

Each consumer authenticates the session (AuthMiddlewareStack puts the user in the scope),
checks the user's membership in the cluster's team against the permission table before joining
the cluster's group, and then only relays what the sampler broadcasts. Another team's cluster,
an unknown one, or an anonymous user: the handshake is refused (HTTP 403), nothing leaks.
"""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from clusters.models import Cluster
from clusters.services.sampler import register_server_loop, throughput_group_name
from clusters.throughput import current_throughput, only_topic, throughput_subscription_allowed

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

    async def connect(self) -> None:
        register_server_loop(asyncio.get_running_loop())
        self.cluster_id = int(self.scope["url_route"]["kwargs"]["cluster_id"])
        self.user = self.scope.get("user")
        document = await database_sync_to_async(_subscribe)(self.user, self.cluster_id)
        if document is None:
            await self.close(code=4403)
            return
        self.checked_at = time.monotonic()
        self.group = throughput_group_name(self.cluster_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The last pushed document at once, so a page never waits a whole interval for numbers.
        await self.send_json(self.shape(document))

    async def _allowed(self) -> bool:
        return await database_sync_to_async(throughput_subscription_allowed)(
            self.user, self.cluster_id
        )

    async def disconnect(self, code) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def receive_json(self, content, **kwargs) -> None:
        """Clients only listen."""

    async def throughput_update(self, event) -> None:
        if time.monotonic() - self.checked_at > RECHECK_SECONDS:
            self.checked_at = time.monotonic()
            if not await self._allowed():
                await self.disconnect(4403)
                await self.close(code=4403)
                return
        await self.send_json(self.shape(event["document"]))

    def shape(self, document: dict) -> dict:
        return document


class TopicThroughputConsumer(ClusterThroughputConsumer):
    """`/ws/clusters/<id>/topics/<name>/throughput/`: one topic's share of the document."""

    async def connect(self) -> None:
        self.topic = self.scope["url_route"]["kwargs"]["topic"]
        await super().connect()

    def shape(self, document: dict) -> dict:
        return only_topic(document, self.topic)
