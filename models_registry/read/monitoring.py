"""Read counters of the registry, shared across processes through the cache.

Counting on every read must stay as cheap as a dict update, so each process
counts locally and adds its counts to the shared cache at most once per
refresh interval (when its snapshots check the catalog version) and whenever
the totals are read. With Redis every worker adds to the same counters; with
the local-memory cache (development) they are per process.

Counters restart at each rollout stage change (a new "period"), so the
fallback rate that gates ``rollout advance`` covers only the current stage.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache

logger = logging.getLogger(__name__)

READS_DATABASE = "reads_database"
READS_STATIC = "reads_static"
NOT_FOUND = "not_found"
FALLBACKS = "fallbacks"
REFRESH_FAILURES = "refresh_failures"  # polls of the catalog that failed or stalled
# Reads meant for the database (its rollout share), whether it served them or a fallback did.
READS_FOR_DATABASE = "reads_for_database"
# Usage records that could not be stored (database or Redis down): logged, never raised.
USAGE_RECORD_FAILURES = "usage_record_failures"
COUNTER_NAMES = (
    READS_DATABASE,
    READS_STATIC,
    NOT_FOUND,
    FALLBACKS,
    REFRESH_FAILURES,
    READS_FOR_DATABASE,
    USAGE_RECORD_FAILURES,
)

PERIOD_KEY = "models_registry:monitoring:period"

# Plain dict with every key present: the cheapest thing to bump on a hot path.
pending: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
_lock = threading.Lock()
WARN_EVERY_SECONDS = 60.0
_warned_at = float("-inf")


def count(name: str, amount: int = 1) -> None:
    """Count an event in this process (added to the shared totals on the next flush)."""
    pending[name] += amount


def _key(period: int, name: str) -> str:
    return f"models_registry:monitoring:{period}:{name}"


def _current_period() -> int:
    return int(cache.get(PERIOD_KEY) or 0)


def flush() -> None:
    """Add this process's pending counts to the shared counters. Never raises."""
    with _lock:
        to_add = {name: amount for name, amount in pending.items() if amount}
        if not to_add:
            return
        try:
            period = _current_period()
            for name, amount in to_add.items():
                key = _key(period, name)
                cache.add(key, 0, timeout=None)
                cache.incr(key, amount)
                pending[name] -= amount
        except Exception as exc:  # the cache being down must not break reads
            global _warned_at
            now = time.monotonic()
            if now - _warned_at >= WARN_EVERY_SECONDS:  # once a minute, not on every refresh
                _warned_at = now
                logger.warning("registry monitoring: counters kept in memory, cache unreachable (%s)", exc)


@dataclass(frozen=True, slots=True)
class Totals:
    period: int
    reads_database: int
    reads_static: int
    not_found: int
    fallbacks: int
    refresh_failures: int = 0
    reads_for_database: int = 0
    usage_record_failures: int = 0
    shared: bool = True  # False: the shared counters were unreachable; this process's counts only

    @property
    def reads(self) -> int:
        return self.reads_database + self.reads_static

    @property
    def fallback_rate(self) -> float:
        """Share of the reads meant for the database that a fallback served (0.0 when there were none).

        Over the database's share only: at a 1% stage, a database that failed every read must show
        100%, not 1% of all reads.
        """
        return self.fallbacks / self.reads_for_database if self.reads_for_database else 0.0


def totals() -> Totals:
    """The shared counters of the current period (this process's pending counts included)."""
    flush()
    try:
        period = _current_period()
        values = cache.get_many([_key(period, name) for name in COUNTER_NAMES])
    except Exception as exc:
        logger.warning("registry monitoring: shared counters unreachable (%s)", exc)
        return Totals(-1, *(pending[name] for name in COUNTER_NAMES), shared=False)
    return Totals(period, *(int(values.get(_key(period, name)) or 0) for name in COUNTER_NAMES))


STAGE_KEY = "models_registry:monitoring:stage"


def stage_of_period() -> tuple[str, int] | None:
    """The (flag, version) whose change started the current period, if the cache recorded it."""
    try:
        stage = cache.get(STAGE_KEY)
    except Exception:
        return None
    return tuple(stage) if stage else None


def start_new_period(stage: tuple[str, int] | None = None) -> None:
    """Restart the counters, e.g. when a rollout stage changes (``stage``: that flag and version).

    Never raises: if the cache is unreachable the old period goes on, and the
    rollout gate refuses to judge a stage whose period did not start.
    """
    flush()
    try:
        cache.add(PERIOD_KEY, 0, timeout=None)
        cache.incr(PERIOD_KEY)
        cache.set(STAGE_KEY, list(stage) if stage else None, timeout=None)
    except Exception as exc:
        logger.warning("registry monitoring: could not start a new period (%s)", exc)
    for name in pending:  # this process's counts belong to the old stage either way
        pending[name] = 0
