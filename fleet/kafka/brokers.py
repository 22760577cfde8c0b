"""Brokers and the KRaft controller quorum of a cell (issue 14): platform code only.

Which client does what (kafka-python 3.0.12, confluent-kafka 2.16):

- ``describe_brokers`` and ``fenced_broker_ids``: DescribeCluster v2 with
  ``include_fenced_brokers`` (KIP-1073), by kafka-python. librdkafka's describe_cluster lists only
  unfenced brokers and says nothing about fencing.
- ``describe_quorum``: DescribeQuorum (KIP-595/836) by kafka-python's
  ``describe_metadata_quorum``; confluent-kafka 2.16 has no DescribeQuorum. The leader answers for
  the ``__cluster_metadata`` partition: voters and observers with their log end offsets; the lag
  of a replica is the leader's log end offset minus its own.
- ``unregister_broker``: UnregisterBroker (API key 64, KIP-500; what ``kafka-cluster.sh
  unregister`` sends). Neither client has a call for it; kafka-python has the API key only, so
  the message is built from schemas in fleet/kafka/protocol/ and sent through kafka-python's own
  connection (SASL, TLS, version negotiation). A broker forwards it to the active controller.
  Kafka 4.3 accepts it for a running broker too and the broker then drops out of the cluster
  metadata, so callers stop the broker first (fleet.services.cells.retire_local_broker).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from fleet.kafka.connection import KafkaConnection, _import_kafka_python, _kafka_python_call, _send
from fleet.kafka.errors import KafkaGatewayError, _kafka_python_error_name, _map_error
from fleet.kafka.types import BrokerDescription


@dataclass(frozen=True)
class QuorumReplica:
    """One member of the metadata quorum: its log end offset and how far behind the leader."""

    node_id: int
    log_end_offset: int  # -1 when the leader does not know yet
    lag: int | None  # leader's log end offset minus this one; None when unknown
    last_caught_up_timestamp_ms: int | None


@dataclass(frozen=True)
class QuorumDescription:
    leader_id: int  # -1 while there is no leader
    leader_epoch: int
    high_watermark: int
    voters: tuple[QuorumReplica, ...]
    observers: tuple[QuorumReplica, ...]  # the broker-only nodes (and voters' brokers)

    @property
    def voter_ids(self) -> frozenset[int]:
        return frozenset(v.node_id for v in self.voters)

    @property
    def max_voter_lag(self) -> int | None:
        lags = [v.lag for v in self.voters if v.lag is not None]
        return max(lags) if lags else None


def _describe_cluster_raw(admin: Any) -> dict[str, Any]:
    return dict(admin.describe_cluster())


def describe_brokers(conn: KafkaConnection) -> list[BrokerDescription]:
    """Every registered broker, fenced ones included, with ``fenced`` and ``is_controller``.

    ``is_controller`` means "a voter of the controller quorum" (a combined node); the brokers
    added by add_broker are not voters.
    """
    context = "Describing the brokers"
    raw = _kafka_python_call(conn, context, _describe_cluster_raw)
    try:
        voters = describe_quorum(conn).voter_ids
    except KafkaGatewayError:  # the quorum is extra information, never a reason to fail
        voters = frozenset()
    return sorted(
        (
            BrokerDescription(
                node_id=int(b["broker_id"]),
                host=str(b["host"]),
                port=int(b["port"]),
                rack=b.get("rack"),
                fenced=bool(b.get("is_fenced", False)),
                is_controller=int(b["broker_id"]) in voters,
            )
            for b in raw.get("brokers", ())
        ),
        key=lambda b: b.node_id,
    )


def fenced_broker_ids(conn: KafkaConnection) -> set[int]:
    """Brokers registered but fenced (not heartbeating to the controller, or shutting down)."""
    raw = _kafka_python_call(conn, "Describing the brokers", _describe_cluster_raw)
    return {int(b["broker_id"]) for b in raw.get("brokers", ()) if b.get("is_fenced")}


def _replicas(states: Any, leader_end: int) -> tuple[QuorumReplica, ...]:
    out = []
    for s in states or ():
        end = int(s.get("log_end_offset", -1))
        caught_up = s.get("last_caught_up_timestamp", -1)
        out.append(
            QuorumReplica(
                node_id=int(s["replica_id"]),
                log_end_offset=end,
                lag=max(0, leader_end - end) if end >= 0 and leader_end >= 0 else None,
                last_caught_up_timestamp_ms=int(caught_up)
                if caught_up is not None and caught_up >= 0
                else None,
            )
        )
    return tuple(sorted(out, key=lambda r: r.node_id))


def describe_quorum(conn: KafkaConnection) -> QuorumDescription:
    """The metadata quorum: leader, voters and observers with log end offsets and lag."""
    context = "Describing the controller quorum"

    def call(admin: Any) -> dict[str, Any]:
        return dict(admin.describe_metadata_quorum())

    raw = _kafka_python_call(conn, context, call)
    partition = raw["topics"][0]["partitions"][0]
    if partition.get("error"):
        raise _map_error("UNKNOWN_SERVER_ERROR", str(partition["error"]), context)
    leader = int(partition["leader_id"])
    voters = partition.get("current_voters", ())
    leader_end = next(
        (int(v.get("log_end_offset", -1)) for v in voters if int(v["replica_id"]) == leader),
        int(partition.get("high_watermark", -1)),
    )
    return QuorumDescription(
        leader_id=leader,
        leader_epoch=int(partition.get("leader_epoch", -1)),
        high_watermark=int(partition.get("high_watermark", -1)),
        voters=_replicas(voters, leader_end),
        observers=_replicas(partition.get("observers", ()), leader_end),
    )


_UNREGISTER: tuple[type[Any], type[Any]] | None = None


def _unregister_classes() -> tuple[type[Any], type[Any]]:
    global _UNREGISTER  # built once: kafka-python registers response classes by API key
    if _UNREGISTER is None:
        _import_kafka_python()
        from kafka.protocol.api_message import ApiMessage

        from fleet.kafka import protocol

        with warnings.catch_warnings():  # importlib.resources.read_text, as in kafka-python
            warnings.simplefilter("ignore", DeprecationWarning)

            class UnregisterBrokerRequest(ApiMessage, load_json=protocol):  # type: ignore[call-arg]
                pass

            class UnregisterBrokerResponse(ApiMessage, load_json=protocol):  # type: ignore[call-arg]
                pass

        _UNREGISTER = (UnregisterBrokerRequest, UnregisterBrokerResponse)
    return _UNREGISTER


def unregister_broker(conn: KafkaConnection, *, node_id: int) -> None:
    """Remove a stopped broker's registration from the cluster metadata (UnregisterBroker).

    Idempotent: a broker that is not registered (already unregistered, or never was) is fine.
    """
    context = f"Unregistering broker {node_id}"
    request_cls, _ = _unregister_classes()

    def call(admin: Any) -> None:
        response = _send(admin, request_cls(broker_id=node_id))
        code = int(response.error_code)
        if code == 0:
            return
        name = _kafka_python_error_name(code)
        if name == "BROKER_ID_NOT_REGISTERED":
            return
        raise _map_error(name, response.error_message or name, context, cell=conn.cell_name)

    _kafka_python_call(conn, context, call)
