"""`skiff`: the command line for a Skiff console (issue 18).

A client of the console's REST API (`/api/v1/`), plus direct produce/consume against a
cluster with one of its access keys. It imports nothing from the console's Django apps: it is
what a user installs on a laptop, and it must work against any console of a compatible version.
"""
