"""The gateway's errors, and the one mapping from Kafka's error names to them."""

from __future__ import annotations

import concurrent.futures

from confluent_kafka import (
    KafkaError,
    KafkaException,
)

from console.errors import ApplicationError


class KafkaGatewayError(ApplicationError):
    """Base class. ``message`` is a sentence that can be shown to a user as is.

    ``kafka_error`` is the Kafka / librdkafka error name ("TOPIC_AUTHORIZATION_FAILED") and
    ``detail`` that name with the client library's own text: both are for logs and for the
    gateway's own decisions, never for the user. ``code`` is the stable code of the class.
    """

    status = 502
    code = "kafka_error"
    default_message = "The Kafka cell refused the request."

    def __init__(
        self,
        message: str,
        *,
        kafka_error: str | None = None,
        detail: str | None = None,
        code: str | None = None,
    ):
        if kafka_error and not (detail or "").startswith(kafka_error):
            detail = f"{kafka_error}: {detail}" if detail else kafka_error  # the logs name it
        super().__init__(message, code=code, detail=detail)
        self.kafka_error = kafka_error


class KafkaUnavailable(KafkaGatewayError):
    """The cell could not be reached or did not answer in time (retrying may help)."""

    status = 503
    code = "kafka_unavailable"


class CellTimeout(KafkaUnavailable):
    """A call ran out of time: the cell did not answer within the connection's timeout.

    The message names the cell and the timeout when they are known ("Cell 'cell-1' did not
    answer within 10 s while listing topics."); `named` fills them in where the connection is
    known (see `fleet.kafka.connection._admin`).
    """

    status = 504
    code = "cell_timeout"

    def __init__(
        self,
        context: str,
        *,
        cell: str = "",
        timeout: float | None = None,
        kafka_error: str | None = "_TIMED_OUT",
        detail: str | None = None,
    ):
        self.context = context
        self.cell = cell
        self.timeout = timeout
        who = f"Cell '{cell}'" if cell else "The Kafka cell"
        within = f"within {timeout:g} s" if timeout else "in time"
        doing = f" while {context[:1].lower()}{context[1:]}" if context else ""
        super().__init__(
            f"{who} did not answer {within}{doing}.", kafka_error=kafka_error, detail=detail
        )

    def named(self, cell: str, timeout: float | None) -> CellTimeout:
        """This timeout, naming the cell and the timeout it was given (if it did not yet)."""
        if (self.cell or not cell) and (self.timeout or not timeout):
            return self
        return CellTimeout(
            self.context,
            cell=self.cell or cell,
            timeout=self.timeout or timeout,
            kafka_error=self.kafka_error,
            detail=self.detail,
        )


class CellUnreachable(KafkaUnavailable):
    """The platform could not even try: the cell's credentials or address are unusable."""

    code = "cell_unreachable"

    def __init__(self, message: str, *, cell: str, kafka_error: str | None = None):
        super().__init__(message, kafka_error=kafka_error)
        self.cell = cell


class KafkaTlsError(KafkaUnavailable):
    """The TLS handshake failed, typically because the broker's certificate is not trusted."""

    code = "kafka_tls_failed"


class KafkaAuthenticationFailed(KafkaGatewayError):
    """The credentials were rejected.

    Every call the console makes uses the platform's own credential for the cell, so for a user
    this is the platform's fault (502), never theirs: the message says so without details.
    """

    status = 502
    code = "kafka_authentication_failed"


class KafkaAuthorizationFailed(KafkaGatewayError):
    """Authenticated, but an ACL does not allow the operation."""

    status = 403
    code = "kafka_not_authorized"


class TopicAlreadyExists(KafkaGatewayError):
    status = 409
    code = "topic_exists"


class UnknownTopic(KafkaGatewayError):
    status = 404
    code = "topic_not_found"


class UnknownUser(KafkaGatewayError):
    status = 404
    code = "user_not_found"


class InvalidKafkaRequest(KafkaGatewayError):
    """Kafka rejected the request's content (bad config value, partition count, name…)."""

    status = 400
    code = "kafka_invalid_request"


class MessageTooLarge(InvalidKafkaRequest):
    """A record (or batch) is over what the topic or the broker accepts (`max.message.bytes`,
    `message.max.bytes`); the caller names the limit that applies (413)."""

    status = 413
    code = "message_too_large"


class PolicyViolation(InvalidKafkaRequest):
    """The cell's own policies (topic create / alter config) refused the request."""

    code = "kafka_policy_violation"


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
    # A broker whose metadata is behind the leader's (right after a create or a move).
    "UNKNOWN_LEADER_EPOCH",
    "FENCED_LEADER_EPOCH",
    "OFFSET_NOT_AVAILABLE",
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


# librdkafka aborted the request because it dropped the broker's handle or connection.
_BROKER_GONE = {"_DESTROY_BROKER", "_DESTROY", "_NODE_UPDATE"}


# A record or request over the topic's or the broker's size limit.
_TOO_LARGE = {
    "MESSAGE_TOO_LARGE",
    "MSG_SIZE_TOO_LARGE",  # librdkafka's name for the broker's MESSAGE_TOO_LARGE
    "_MSG_SIZE_TOO_LARGE",
    "RECORD_LIST_TOO_LARGE",
}


# Names that mean "ran out of time": a 504 naming the cell and the timeout (CellTimeout).
_TIMEOUTS = {"_TIMED_OUT", "_TIMED_OUT_QUEUE", "_MSG_TIMED_OUT", "REQUEST_TIMED_OUT"}


def _map_error(
    name: str, detail: str, context: str, *, cell: str = "", timeout: float | None = None
) -> KafkaGatewayError:
    """Turn a Kafka/librdkafka error name into one of our exceptions with a readable message.

    The message is a sentence for the user; the error name and the library's text stay in
    ``kafka_error`` and ``detail`` (logs). ``cell`` and ``timeout`` are the connection's, when
    the caller knows them.
    """
    if name in _AUTHORIZATION:
        return KafkaAuthorizationFailed(
            f"{context}: {_AUTHORIZATION[name]}.", kafka_error=name, detail=detail
        )
    if name in _AUTHENTICATION:
        if cell:
            message = (
                f"{context}: authentication failed: cell '{cell}' refused the platform's own "
                "credentials. Nothing is wrong with your request; the platform team must "
                "renew the cell's credentials."
            )
        else:
            message = f"{context}: authentication failed (wrong user name or password)."
        return KafkaAuthenticationFailed(message, kafka_error=name, detail=detail)
    if name == "_SSL":
        return KafkaTlsError(
            f"{context}: the TLS handshake failed ({_short(detail)}).",
            kafka_error=name,
            detail=detail,
        )
    if name == "TOPIC_ALREADY_EXISTS":
        return TopicAlreadyExists(
            f"{context}: the topic already exists.", kafka_error=name, detail=detail
        )
    if name in _UNKNOWN_TOPIC:
        return UnknownTopic(
            f"{context}: the topic does not exist.", kafka_error=name, detail=detail
        )
    if name == "RESOURCE_NOT_FOUND":
        return UnknownUser(f"{context}: no such user.", kafka_error=name, detail=detail)
    if name in _TOO_LARGE:
        return MessageTooLarge(f"{context}: {_short(detail)}.", kafka_error=name, detail=detail)
    if name == "POLICY_VIOLATION":
        return PolicyViolation(f"{context}: {_short(detail)}.", kafka_error=name, detail=detail)
    if name in _TIMEOUTS:
        return CellTimeout(context, cell=cell, timeout=timeout, kafka_error=name, detail=detail)
    if name in _BROKER_GONE:
        # The client gave up on a broker mid-request (it stopped answering, or left the
        # metadata): the client's own words ("Broker handle destroyed") are for the logs only.
        where = f"cell '{cell}'" if cell else "the Kafka cell"
        return KafkaUnavailable(
            f"{context}: a broker of {where} stopped answering; try again in a moment.",
            kafka_error=name,
            detail=detail,
        )
    if name in _UNAVAILABLE:
        where = f"cell '{cell}'" if cell else "the Kafka cluster"
        return KafkaUnavailable(
            f"{context}: {where} is unavailable ({_short(detail)}).",
            kafka_error=name,
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
        return InvalidKafkaRequest(f"{context}: {_short(detail)}.", kafka_error=name, detail=detail)
    # An error we do not classify: a sentence for the user, the name and text for the logs.
    return KafkaGatewayError(
        f"{context}: Kafka refused the request. Try again; if it keeps failing, the platform "
        "team can find the reason in the console's logs.",
        kafka_error=name,
        detail=detail,
    )


def _short(detail: str) -> str:
    detail = detail.strip().rstrip(".")
    # librdkafka prefixes broker errors with "Broker: "; users don't care which side said it.
    return detail.removeprefix("Broker: ") or "no details"


def _from_kafka_error(
    err: KafkaError, context: str, *, cell: str = "", timeout: float | None = None
) -> KafkaGatewayError:
    return _map_error(err.name(), err.str(), context, cell=cell, timeout=timeout)


def _from_exception(
    exc: BaseException | KafkaError,
    context: str,
    *,
    cell: str = "",
    timeout: float | None = None,
) -> KafkaGatewayError:
    if isinstance(exc, CellTimeout):
        return exc.named(cell, timeout)
    if isinstance(exc, KafkaGatewayError):
        return exc
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return _from_kafka_error(exc.args[0], context, cell=cell, timeout=timeout)
    if isinstance(exc, KafkaError):  # some results list bare errors (ListConsumerGroupsResult)
        return _from_kafka_error(exc, context, cell=cell, timeout=timeout)
    if isinstance(exc, (concurrent.futures.TimeoutError, TimeoutError)):
        return CellTimeout(context, cell=cell, timeout=timeout, detail=repr(exc))
    if isinstance(exc, (ValueError, TypeError)):
        return InvalidKafkaRequest(
            f"{context}: {exc}.", kafka_error="_INVALID_ARG", detail=str(exc)
        )
    return KafkaGatewayError(
        f"{context}: the Kafka client failed unexpectedly. Try again; if it keeps failing, the "
        "platform team can find the reason in the console's logs.",
        detail=repr(exc),
    )


def _from_kafka_python(
    exc: Exception, context: str, *, cell: str = "", timeout: float | None = None
) -> KafkaGatewayError:
    from kafka import errors as kp_errors

    if isinstance(exc, kp_errors.BrokerResponseError):
        # kafka-python names its error classes after the protocol's error names.
        name = getattr(exc, "message", type(exc).__name__)
        return _map_error(name, str(exc), context, cell=cell, timeout=timeout)
    if isinstance(exc, kp_errors.KafkaTimeoutError):
        return CellTimeout(context, cell=cell, timeout=timeout, detail=str(exc))
    if isinstance(exc, kp_errors.RetriableError):  # connection failures
        where = f"cell '{cell}'" if cell else "the Kafka cluster"
        return KafkaUnavailable(f"{context}: {where} is unavailable.", detail=str(exc))
    return KafkaGatewayError(
        f"{context}: the Kafka client failed unexpectedly. Try again; if it keeps failing, the "
        "platform team can find the reason in the console's logs.",
        detail=repr(exc),
    )


def _kafka_python_error_name(code: int) -> str:
    from kafka import errors as kp_errors

    return str(getattr(kp_errors.for_code(code), "message", f"ERROR_{code}"))
