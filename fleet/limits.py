"""Service limits of a serverless cluster (reference/msk-serverless.md §Limits)."""

from decimal import Decimal

MB = 1_000_000

CLUSTER_INGRESS_BYTES_PER_SEC = 200 * MB
CLUSTER_EGRESS_BYTES_PER_SEC = 400 * MB
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_PARTITIONS = 2400
MAX_COMPACTED_PARTITIONS = 120
PARTITION_MUTATIONS_PER_WINDOW = 250
PARTITION_MUTATION_WINDOW_SECONDS = 300
MAX_CONSUMER_GROUPS = 500
MAX_TAGS = 50


# Share of one broker's request-handler (I/O) and network thread time a key may use per quota
# window, in percent (Kafka's request_percentage). Kafka cannot count requests per second, so
# MSK's 15,000 requests/s becomes "at most one thread's worth of time on each broker".
REQUEST_PERCENTAGE = 100.0


def access_key_quotas(broker_count: int) -> dict[str, float]:
    """Client quotas for one access key on a cell with `broker_count` brokers.

    Kafka enforces byte-rate quotas per broker, so the cluster limit is split evenly across
    the cell's brokers: a key writing to partitions led by every broker reaches the cluster
    limit, a key writing to one broker's partitions gets limit / brokers. The controller
    mutation rate (partitions created/deleted per second) is the 250-per-5-minutes limit as a
    rate, enforced by the controller.
    """
    brokers = max(broker_count, 1)
    return {
        "producer_byte_rate": float(CLUSTER_INGRESS_BYTES_PER_SEC // brokers),
        "consumer_byte_rate": float(CLUSTER_EGRESS_BYTES_PER_SEC // brokers),
        "request_percentage": REQUEST_PERCENTAGE,
        "controller_mutation_rate": float(
            Decimal(PARTITION_MUTATIONS_PER_WINDOW) / PARTITION_MUTATION_WINDOW_SECONDS
        ),
    }


def cell_replication_factor(brokers: int) -> int:
    """The replication factor of every tenant topic on a cell of `brokers` brokers."""
    return 3 if brokers >= 3 else 1


def max_partitions_per_request(*, brokers: int, partitions_per_broker: int) -> int:
    """The most partitions one CreateTopics/CreatePartitions request may ask for on a cell.

    Never more than the cluster limit, nor than the cell's whole partition budget
    (brokers x replicas per broker, at the cell's replication factor). Rendered for the
    brokers' topic policy as `skiff.policy.max.partitions.per.request`.
    """
    return min(MAX_PARTITIONS, brokers * partitions_per_broker // cell_replication_factor(brokers))
