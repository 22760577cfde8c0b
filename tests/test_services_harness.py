"""The harness is real: PostgreSQL, Redis and the Redis channel layer answer."""

import os

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_database_is_postgresql():
    assert connection.vendor == "postgresql"
    assert connection.settings_dict["NAME"].startswith("test_")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        (version,) = cursor.fetchone()
    assert int(version) >= 140000


def test_redis_answers_ping():
    client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_settings_use_the_harness_services():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    redis_url = os.environ["REDIS_URL"]
    assert redis_url == settings.CELERY_BROKER_URL
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert str(settings.SKIFF_HOME) == os.environ["SKIFF_HOME"]
    assert not str(settings.SKIFF_HOME).startswith(os.path.expanduser("~/.skiff"))


def test_channel_layer_group_round_trip_through_redis():
    layer = get_channel_layer()
    assert type(layer).__module__ == "channels_redis.core"

    async def round_trip():
        channel = await layer.new_channel()
        await layer.group_add("harness-check", channel)
        try:
            await layer.group_send("harness-check", {"type": "harness.ping", "n": 42})
            return await layer.receive(channel)
        finally:
            await layer.group_discard("harness-check", channel)
            await layer.flush()

    assert async_to_sync(round_trip)() == {"type": "harness.ping", "n": 42}


def test_django_async_safety_checks_stay_on_outside_browser_tests():
    # Browser tests switch them off for themselves only (tests/plugins/browser.py).
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ
