"""The one gateway between Skiff and Kafka brokers, organised by subject.

The only package that imports a Kafka client library: confluent-kafka (librdkafka) for almost
everything, kafka-python for the admin calls librdkafka lacks (client quotas, log dirs). Callers
get plain functions with timeouts, Skiff's own dataclasses (`types`) and Skiff's own errors
(`errors`, in the application's one error family), never a client-library type.

- Tenant-facing services use `tenant.ClusterGateway(cluster)`: short names only, and nothing
  outside the cluster's prefix can be named or seen.
- Platform code uses `platform.platform_superuser(cell)`; an import contract limits who may.
- `connection`, `topics`, `configs`, `groups`, `acls`, `scram`, `quotas`, `logdirs`, `records`
  hold the operations themselves; `records` has the one produce and the one fetch path.
"""
