"""Managed Kafka Connect (issue 19): the plugin catalogue, the worker runtime, the REST client.

Services (fleet/services/connect_workers.py) are what other apps call; this package is the
machinery they use.
"""
