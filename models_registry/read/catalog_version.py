"""The snapshot versions: how every process learns that a write committed, per area.

Each snapshot area (``catalog``: providers and models; ``rollout``: the flags;
``router``: the router's config and profiles; ...) has its own version, so a
profile save does not make any process rebuild the catalog. An area is a plain
string: the audited table says which area it belongs to (``snapshot_area``),
the snapshot says which area it follows.

The database is the truth, Redis makes the news fast:

- every write bumps its area's ``SnapshotVersion`` row inside its own transaction, so
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

import contextlib
import itertools
import logging
import time
from collections.abc import Hashable, Iterable

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Subquery

from models_registry.read.models import SnapshotVersion

CATALOG = "catalog"  # providers and models: what registry reads are served from
CACHE_KEY = "models_registry:catalog_version"  # Redis key prefix; one key per area
logger = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 60.0

# Bumped in-process on every local commit; snapshots compare it on each read
# (an integer comparison) to see their own process's writes immediately. Which areas
# moved is kept per area, so a snapshot of another area only notes the new number.
_local_generation = itertools.count(1)
local_generation: int = 0
area_generations: dict[str, int] = {}

_database_seen: dict[str, int] = {}
_database_checked_at: dict[str, float] = {}
_redis_warned_at = float("-inf")


def uses_redis() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


# What a Redis call raises when Redis is down or stalled (its errors do not derive from OSError).
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def _cache_key(area: str) -> str:
    return f"{CACHE_KEY}:{area}"


def database_version(area: str = CATALOG) -> int:
    """The area's version row as committed. May raise if the database is unreachable."""
    version = SnapshotVersion.objects.filter(pk=area).values_list("version", flat=True).first()
    return version or 0


def _warn_redis(message: str, exc: BaseException) -> None:
    global _redis_warned_at
    now = time.monotonic()
    if now - _redis_warned_at >= WARN_EVERY_SECONDS:
        _redis_warned_at = now
        logger.warning("catalog version: %s (%s: %s)", message, exc.__class__.__name__, exc)


def current_version(area: str = CATALOG) -> Hashable:
    """A value that changes whenever a write to ``area`` has committed (compared, never ordered).

    Raises only if no store answers (the database, and Redis when configured).
    """
    if not uses_redis():
        return ("database", database_version(area))
    try:
        news = int(cache.get(_cache_key(area)) or 0)
    except REDIS_ERRORS as exc:
        _warn_redis("Redis unreachable, polling the database instead", exc)
        return ("database", database_version(area))
    now = time.monotonic()
    check_every = float(getattr(settings, "REGISTRY_DB_CHECK_SECONDS", 5.0))
    if area not in _database_seen or now - _database_checked_at.get(area, float("-inf")) >= check_every:
        with contextlib.suppress(Exception):  # Redis answered; the next check retries the database
            _database_seen[area] = database_version(area)
        _database_checked_at[area] = now
    return ("redis", news, _database_seen.get(area))


def bump_database_version(area: str = CATALOG) -> None:
    """Move the area's version row, inside the caller's transaction.

    The row stays locked until the transaction ends, so versions are handed out in
    commit order: rows stamped with a version (:func:`version_expression`) are all
    visible once it is.
    """
    if not SnapshotVersion.objects.filter(pk=area).update(version=F("version") + 1):
        SnapshotVersion.objects.get_or_create(pk=area, defaults={"version": 1})


def version_expression(area: str = CATALOG) -> Subquery:
    """The area's version as the database has it, for stamping rows in the same UPDATE."""
    return Subquery(SnapshotVersion.objects.filter(pk=area).values("version")[:1])


def bump_shared_version(areas: Iterable[str] = (CATALOG,)) -> None:
    """Announce a committed write on Redis (readers see it at their next poll). May raise."""
    for area in areas:
        cache.add(_cache_key(area), 0, timeout=None)
        cache.incr(_cache_key(area))


def mark_local_snapshots_stale(areas: Iterable[str] | None = None) -> None:
    """Make this process's snapshots of ``areas`` (default: all) reload on their next read."""
    global local_generation
    generation = next(_local_generation)
    # The areas first, the generation last: a reader of another thread that sees the new generation
    # must also see which areas moved, or it would note the generation and keep the old value.
    if areas is None:
        area_generations["*"] = generation  # every area counts as moved from this generation on
    else:
        for area in areas:
            area_generations[area] = generation
    local_generation = generation


def area_generation(area: str) -> int:
    """The local generation at which ``area`` last moved in this process (0: never)."""
    return max(area_generations.get(area, 0), area_generations.get("*", 0))


def _after_commit(areas: tuple[str, ...]) -> None:
    mark_local_snapshots_stale(areas)  # first: this process sees its write whatever happens next
    if uses_redis():
        try:
            bump_shared_version(areas)
        except REDIS_ERRORS as exc:
            # The write is committed and the database row moved with it: the other
            # processes find it at their next database check.
            _warn_redis("Redis unreachable, the write reaches other processes by their database check", exc)


def bump_on_commit(areas: Iterable[str] = (CATALOG,)) -> None:
    """Record that ``areas`` changed: their database rows now, Redis when the transaction commits."""
    areas = tuple(sorted(set(areas)))  # always locked in the same order: no deadlock between writers
    for area in areas:
        bump_database_version(area)
    transaction.on_commit(lambda: _after_commit(areas))
