"""Kafka protocol messages kafka-python 3.0.12 does not define, as its JSON schemas.

kafka-python builds its request/response classes from Kafka's message schemas (one JSON file per
message). UnregisterBroker (API key 64, KIP-500/KIP-855) has an API key there but no class; the
two files here describe its version 0 (the only one) in that format, and fleet.kafka.brokers
builds the classes from them on first use.
"""
