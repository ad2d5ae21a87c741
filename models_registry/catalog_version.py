"""The catalog version: a counter bumped whenever a write to the catalog commits.

Readers compare it with the version of their in-memory snapshot to know when
to reload. Writers call :func:`bump_on_commit` inside their transaction.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction

CACHE_KEY = "models_registry:catalog_version"


def current_version() -> int:
    """The latest committed catalog version (0 when nothing was ever written)."""
    return int(cache.get(CACHE_KEY) or 0)


def _bump() -> None:
    try:
        cache.incr(CACHE_KEY)
    except ValueError:  # key missing: start the counter
        cache.add(CACHE_KEY, 1)


def bump_on_commit() -> None:
    """Bump the version once the current transaction commits (immediately outside one)."""
    transaction.on_commit(_bump)
