"""The catalog version: how every process learns that a write committed.

The database is the truth, Redis makes the news fast:

- every write bumps the ``CatalogVersion`` row inside its own transaction, so
  the version commits (or rolls back) with the data it announces, whatever
  Redis is doing;
- with ``REDIS_URL`` set, the commit also bumps a counter in Redis, which
  readers poll every ``REGISTRY_REFRESH_SECONDS`` at no database cost, and
  they read the database row every ``REGISTRY_DB_CHECK_SECONDS`` besides, so a
  bump that never reached Redis (Redis down, a process killed between commit
  and bump) is caught within that bound;
- a process that cannot reach Redis reads the database row on every poll
  instead, so it never falls behind and never falls back to the static catalog
  while the database answers.

The writing process also marks its own snapshots stale on commit, so it sees
its own write at once.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Hashable

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from models_registry.read.models import CatalogVersion

CACHE_KEY = "models_registry:catalog_version"
logger = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 60.0

# Bumped in-process on every local commit; snapshots compare it on each read
# (an integer comparison) to see their own process's writes immediately.
_local_generation = itertools.count(1)
local_generation: int = 0

_database_seen: int | None = None
_database_checked_at = float("-inf")
_redis_warned_at = float("-inf")


def uses_redis() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


# What a Redis call raises when Redis is down or stalled (its errors do not derive from OSError).
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def database_version() -> int:
    """The version row as committed. May raise if the database is unreachable."""
    version = CatalogVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return version or 0


def _warn_redis(message: str, exc: BaseException) -> None:
    global _redis_warned_at
    now = time.monotonic()
    if now - _redis_warned_at >= WARN_EVERY_SECONDS:
        _redis_warned_at = now
        logger.warning("catalog version: %s (%s: %s)", message, exc.__class__.__name__, exc)


def current_version() -> Hashable:
    """A value that changes whenever a write has committed (compared, never ordered).

    Raises only if no store answers (the database, and Redis when configured).
    """
    global _database_seen, _database_checked_at
    if not uses_redis():
        return ("database", database_version())
    try:
        news = int(cache.get(CACHE_KEY) or 0)
    except REDIS_ERRORS as exc:
        _warn_redis("Redis unreachable, polling the database instead", exc)
        return ("database", database_version())
    now = time.monotonic()
    check_every = float(getattr(settings, "REGISTRY_DB_CHECK_SECONDS", 5.0))
    if _database_seen is None or now - _database_checked_at >= check_every:
        try:
            _database_seen = database_version()
            _database_checked_at = now
        except Exception:
            _database_checked_at = now
    return ("redis", news, _database_seen)


def bump_database_version() -> None:
    """Move the version row, inside the caller's transaction."""
    if not CatalogVersion.objects.filter(pk=1).update(version=F("version") + 1):
        CatalogVersion.objects.get_or_create(pk=1, defaults={"version": 1})


def bump_shared_version() -> None:
    """Announce a committed write on Redis (readers see it at their next poll). May raise."""
    cache.add(CACHE_KEY, 0, timeout=None)
    cache.incr(CACHE_KEY)


def mark_local_snapshots_stale() -> None:
    """Make every snapshot in this process reload on its next read."""
    global local_generation
    local_generation = next(_local_generation)


def _after_commit() -> None:
    mark_local_snapshots_stale()  # first: this process sees its write whatever happens next
    if uses_redis():
        try:
            bump_shared_version()
        except REDIS_ERRORS as exc:
            # The write is committed and the database row moved with it: the other
            # processes find it at their next database check.
            _warn_redis("Redis unreachable, the write reaches other processes by their database check", exc)


def bump_on_commit() -> None:
    """Record that the registry changed: the database row now, Redis when the transaction commits."""
    bump_database_version()
    transaction.on_commit(_after_commit)
