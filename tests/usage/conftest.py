"""Fixtures for the usage tests: the write path, a private Redis stream per test, a rollups spy."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
import redis

from models_registry.usage import rollups, services
from models_registry.usage.models import UsageRecord

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def direct_path(settings):
    """Each test starts on the direct path, with no Redis failure remembered from another test."""
    settings.USAGE_BUFFER = ""
    settings.USAGE_HASH_SUBJECTS = False
    services.reset_failure_state()
    yield
    services.reset_failure_state()


@pytest.fixture
def database_catalog(seeded, settings):
    """Everyone reads the database catalog (so an edit of a price reaches the pricing)."""
    settings.MODELS_REGISTRY_SOURCE = "database"
    return seeded


@dataclass
class RollupSpy:
    """The request ids that reached ``add_to_rollups``, call by call (the real function still runs)."""

    calls: list[list[str]]

    @property
    def request_ids(self) -> list[str]:
        return [request_id for call in self.calls for request_id in call]


@pytest.fixture
def rollup_spy(monkeypatch) -> RollupSpy:
    spy = RollupSpy(calls=[])
    real = rollups.add_to_rollups

    def add_to_rollups(records, **options):
        assert all(record.pk is not None for record in records), "only stored rows reach the rollups"
        spy.calls.append([record.request_id for record in records])
        return real(records, **options)

    monkeypatch.setattr(rollups, "add_to_rollups", add_to_rollups)
    return spy


@dataclass
class Stream:
    client: redis.Redis
    key: str
    url: str

    def entries(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        return self.client.xrange(self.key)

    def pending(self, group: str = "usage-ingest") -> int:
        try:
            return int(self.client.xpending(self.key, group)["pending"])
        except redis.ResponseError:  # no group yet
            return 0


def redis_url(settings) -> str:
    return settings.REDIS_URL or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


@pytest.fixture
def usage_stream(settings) -> Stream:
    """The Redis path on a stream of this test's own (deleted afterwards); skipped without Redis."""
    url = redis_url(settings)
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {url}: {exc}")
    key = f"test:usage:{uuid.uuid4().hex}"
    settings.REDIS_URL = url
    settings.USAGE_BUFFER = "redis"
    settings.USAGE_STREAM_KEY = key
    yield Stream(client=client, key=key, url=url)
    client.delete(key, f"{key}:unreadable")
    client.close()


def stored(request_id: str | None = None) -> list[UsageRecord]:
    rows = UsageRecord.objects.order_by("request_id")
    return list(rows.filter(request_id=request_id) if request_id else rows)
