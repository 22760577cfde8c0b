"""The gateway's errors, and the one mapping from Kafka's error names to them."""

from __future__ import annotations

import concurrent.futures

from confluent_kafka import (
    KafkaError,
    KafkaException,
)


class KafkaGatewayError(Exception):
    """Base class. ``message`` is a sentence that can be shown to a user as is."""

    def __init__(self, message: str, *, code: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code  # Kafka / librdkafka error name, e.g. "TOPIC_AUTHORIZATION_FAILED"
        self.detail = detail  # the client library's own text, for logs


class KafkaUnavailable(KafkaGatewayError):
    """The cell could not be reached or did not answer in time (retrying may help)."""


class CellUnreachable(KafkaUnavailable):
    """The platform could not even try: the cell's credentials or address are unusable."""

    def __init__(self, message: str, *, cell: str, code: str | None = None):
        super().__init__(message, code=code)
        self.cell = cell


class KafkaTlsError(KafkaUnavailable):
    """The TLS handshake failed, typically because the broker's certificate is not trusted."""


class KafkaAuthenticationFailed(KafkaGatewayError):
    """The credentials were rejected."""


class KafkaAuthorizationFailed(KafkaGatewayError):
    """Authenticated, but an ACL does not allow the operation."""


class TopicAlreadyExists(KafkaGatewayError):
    pass


class UnknownTopic(KafkaGatewayError):
    pass


class UnknownUser(KafkaGatewayError):
    pass


class InvalidKafkaRequest(KafkaGatewayError):
    """Kafka rejected the request's content (bad config value, partition count, name…)."""


class PolicyViolation(InvalidKafkaRequest):
    pass


_AUTHORIZATION = {
    "TOPIC_AUTHORIZATION_FAILED": "not authorized to access this topic",
    "GROUP_AUTHORIZATION_FAILED": "not authorized to use this consumer group",
    "CLUSTER_AUTHORIZATION_FAILED": "not authorized for this cluster operation",
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": "not authorized to use this transactional id",
    "DELEGATION_TOKEN_AUTHORIZATION_FAILED": "not authorized to use delegation tokens",
}


_AUTHENTICATION = {"SASL_AUTHENTICATION_FAILED", "_AUTHENTICATION", "ILLEGAL_SASL_STATE"}


_UNAVAILABLE = {
    "_TRANSPORT",
    "_ALL_BROKERS_DOWN",
    "_TIMED_OUT",
    "_TIMED_OUT_QUEUE",
    "_MSG_TIMED_OUT",
    "_RESOLVE",
    "_WAIT_COORD",
    "REQUEST_TIMED_OUT",
    "BROKER_NOT_AVAILABLE",
    "LEADER_NOT_AVAILABLE",
    "NOT_LEADER_OR_FOLLOWER",
    "NOT_CONTROLLER",
    "NOT_COORDINATOR",
    "COORDINATOR_NOT_AVAILABLE",
    "COORDINATOR_LOAD_IN_PROGRESS",
    "NOT_ENOUGH_REPLICAS",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    "NETWORK_EXCEPTION",
    "THROTTLING_QUOTA_EXCEEDED",
}


_UNKNOWN_TOPIC = {
    "UNKNOWN_TOPIC_OR_PART",
    "_UNKNOWN_TOPIC",
    "_UNKNOWN_PARTITION",
    "UNKNOWN_TOPIC_ID",
}


def _map_error(name: str, detail: str, context: str) -> KafkaGatewayError:
    """Turn a Kafka/librdkafka error name into one of our exceptions with a readable message."""
    if name in _AUTHORIZATION:
        return KafkaAuthorizationFailed(
            f"{context}: {_AUTHORIZATION[name]}.", code=name, detail=detail
        )
    if name in _AUTHENTICATION:
        return KafkaAuthenticationFailed(
            f"{context}: authentication failed (wrong user name or password).",
            code=name,
            detail=detail,
        )
    if name == "_SSL":
        return KafkaTlsError(
            f"{context}: the TLS handshake failed ({_short(detail)}).", code=name, detail=detail
        )
    if name == "TOPIC_ALREADY_EXISTS":
        return TopicAlreadyExists(f"{context}: the topic already exists.", code=name, detail=detail)
    if name in _UNKNOWN_TOPIC:
        return UnknownTopic(f"{context}: the topic does not exist.", code=name, detail=detail)
    if name == "RESOURCE_NOT_FOUND":
        return UnknownUser(f"{context}: no such user.", code=name, detail=detail)
    if name == "POLICY_VIOLATION":
        return PolicyViolation(f"{context}: {_short(detail)}.", code=name, detail=detail)
    if name in _UNAVAILABLE:
        return KafkaUnavailable(
            f"{context}: the Kafka cluster is unavailable ({_short(detail)}).",
            code=name,
            detail=detail,
        )
    if name.startswith("INVALID_") or name in {
        "_INVALID_ARG",
        "TOPIC_EXCEPTION",  # librdkafka's name for INVALID_TOPIC_EXCEPTION (bad topic name)
        "UNSUPPORTED_VERSION",
        "UNSUPPORTED_SASL_MECHANISM",
        "MESSAGE_TOO_LARGE",
        "RECORD_LIST_TOO_LARGE",
        "UNACCEPTABLE_CREDENTIAL",
        "DUPLICATE_RESOURCE",
    }:
        return InvalidKafkaRequest(f"{context}: {_short(detail)}.", code=name, detail=detail)
    return KafkaGatewayError(f"{context}: {_short(detail)} ({name}).", code=name, detail=detail)


def _short(detail: str) -> str:
    detail = detail.strip().rstrip(".")
    # librdkafka prefixes broker errors with "Broker: "; users don't care which side said it.
    return detail.removeprefix("Broker: ") or "no details"


def _from_kafka_error(err: KafkaError, context: str) -> KafkaGatewayError:
    return _map_error(err.name(), err.str(), context)


def _from_exception(exc: BaseException, context: str) -> KafkaGatewayError:
    if isinstance(exc, KafkaGatewayError):
        return exc
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return _from_kafka_error(exc.args[0], context)
    if isinstance(exc, (concurrent.futures.TimeoutError, TimeoutError)):
        return KafkaUnavailable(f"{context}: no answer from Kafka in time.", code="_TIMED_OUT")
    if isinstance(exc, (ValueError, TypeError)):
        return InvalidKafkaRequest(f"{context}: {exc}.", code="_INVALID_ARG", detail=str(exc))
    return KafkaGatewayError(f"{context}: {exc}.", detail=repr(exc))


def _from_kafka_python(exc: Exception, context: str) -> KafkaGatewayError:
    from kafka import errors as kp_errors

    if isinstance(exc, kp_errors.BrokerResponseError):
        # kafka-python names its error classes after the protocol's error names.
        return _map_error(getattr(exc, "message", type(exc).__name__), str(exc), context)
    if isinstance(exc, kp_errors.RetriableError):  # timeouts, connection failures
        return KafkaUnavailable(f"{context}: the Kafka cluster is unavailable.", detail=str(exc))
    return KafkaGatewayError(f"{context}: {exc}.", detail=repr(exc))


def _kafka_python_error_name(code: int) -> str:
    from kafka import errors as kp_errors

    return str(getattr(kp_errors.for_code(code), "message", f"ERROR_{code}"))
