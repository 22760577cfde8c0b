"""Everything that talks to, or runs, Apache Kafka.

- ``gateway``: the only module that imports a Kafka client library.
- ``launcher``: runs local cells of KRaft brokers from the Maven-resolved classpath.
- ``runtime``: resolves that classpath; ``certs``: the platform CA and node certificates.
"""
