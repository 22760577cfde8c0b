"""Root conftest of the test suite.

tests.plugins.services is loaded earlier, with ``-p`` from addopts in pyproject.toml: it
must start PostgreSQL and Redis before pytest-django reads the settings.
Keep one plugin per line (several people append here).
"""

pytest_plugins = [
    "tests.plugins.browser",
    "tests.plugins.kafka",
    "tests.plugins.audit",
    "tests.plugins.price_book",
]
