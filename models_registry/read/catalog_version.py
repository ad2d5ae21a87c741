"""The catalog version: a counter bumped whenever a write to the registry commits.

Every process keeps immutable snapshots of the catalog (see
:mod:`models_registry.read.snapshot`) and compares this counter with the version
its snapshots were built from, at most once per ``REGISTRY_REFRESH_SECONDS``.

Where the counter lives:

- with ``REDIS_URL`` set, in Redis (the default cache), so polling it costs no
  database query;
- otherwise in the ``CatalogVersion`` table (one primary-key read per poll).

Writers call :func:`bump_on_commit` inside their transaction. The writing
process also marks its own snapshots stale on commit, so it sees its own
write at once instead of after the next poll.
"""

from __future__ import annotations

import itertools
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

CACHE_KEY = "models_registry:catalog_version"
logger = logging.getLogger(__name__)

# Bumped in-process on every local commit; snapshots compare it on each read
# (an integer comparison) to see their own process's writes immediately.
_local_generation = itertools.count(1)
local_generation: int = 0
# Set when a committed write could not bump the Redis version; the next poll retries.
_bump_owed = False


def uses_redis() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def current_version() -> int:
    """The latest committed catalog version. May raise if the store is unreachable."""
    global _bump_owed
    if uses_redis():
        if _bump_owed:  # a commit of ours could not announce itself: do it now
            bump_shared_version()
            _bump_owed = False
        return int(cache.get(CACHE_KEY) or 0)
    from models_registry.read.models import CatalogVersion

    version = CatalogVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return version or 0


def bump_shared_version() -> None:
    """Move the shared version, as any committed write (in any process) does."""
    if uses_redis():
        cache.add(CACHE_KEY, 0, timeout=None)
        cache.incr(CACHE_KEY)
        return
    from models_registry.read.models import CatalogVersion

    if not CatalogVersion.objects.filter(pk=1).update(version=F("version") + 1):
        CatalogVersion.objects.get_or_create(pk=1, defaults={"version": 1})


def mark_local_snapshots_stale() -> None:
    """Make every snapshot in this process reload on its next read."""
    global local_generation
    local_generation = next(_local_generation)


def _after_commit() -> None:
    global _bump_owed
    mark_local_snapshots_stale()  # first: this process sees its write whatever happens next
    if uses_redis():
        try:
            bump_shared_version()
        except Exception:  # the data is committed; tell the others as soon as Redis answers
            _bump_owed = True
            logger.warning("catalog version: Redis bump failed; will retry on the next poll", exc_info=True)


def bump_on_commit() -> None:
    """Record that the registry changed, effective when the current transaction commits.

    Without Redis the database counter is bumped inside the transaction, so it
    commits (or rolls back) together with the data it announces.
    """
    if not uses_redis():
        bump_shared_version()
    transaction.on_commit(_after_commit)
