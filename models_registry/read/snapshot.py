"""Immutable in-memory snapshots that follow the shared catalog version.

A :class:`VersionedSnapshot` holds whatever its loader built (an index of the
catalog, the rollout flags, the router's config...). ``get()`` returns it
with no query at all; at most once per ``REGISTRY_REFRESH_SECONDS`` it reads
the catalog version (Redis or one database row) and rebuilds the value if the
version moved. A write committed in this process marks snapshots stale at
once.

If the version or the loader fails because the database (or Redis) is
unreachable, the last good value keeps being served with ``degraded`` set
(callers count those reads as fallbacks), and one warning is logged per
interval. Only a snapshot that never loaded raises :class:`SnapshotUnavailable`, for the caller to fall back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError, connections

from models_registry.read import catalog_version, monitoring

logger = logging.getLogger(__name__)

T = TypeVar("T")

_refresh_seconds: float = float(getattr(settings, "REGISTRY_REFRESH_SECONDS", 1.0))
_all_snapshots: list[VersionedSnapshot] = []


class SnapshotUnavailable(RuntimeError):
    """The snapshot has never loaded and its source is unreachable."""


def _store_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [DatabaseError, OSError]
    try:  # Redis errors do not derive from OSError
        import redis

        errors.append(redis.RedisError)
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    return tuple(errors)


STORE_ERRORS = _store_errors()


class VersionedSnapshot(Generic[T]):
    """A value built by ``loader`` and rebuilt when the catalog version changes."""

    def __init__(self, loader: Callable[[], T], *, name: str) -> None:
        self.loader = loader
        self.name = name
        self._value: T | None = None
        self._loaded = False
        self._version: int | None = None
        self._generation = -1
        self._checked_at = float("-inf")
        self._warned_at = float("-inf")
        self._lock = threading.Lock()
        # True while the source is unreachable and an older value is served.
        self.degraded = False
        _all_snapshots.append(self)

    def get(self) -> T:
        """The current value: no query unless the refresh interval has passed."""
        if (
            self._loaded
            and self._generation == catalog_version.local_generation
            and time.monotonic() - self._checked_at < _refresh_seconds
        ):
            return self._value  # type: ignore[return-value]
        return self._refresh()

    def invalidate(self) -> None:
        """Force a version check and rebuild on the next ``get()``."""
        self._version = None
        self._checked_at = float("-inf")

    def _refresh(self) -> T:
        with self._lock:
            now = time.monotonic()
            generation = catalog_version.local_generation
            if self._loaded and self._generation == generation and now - self._checked_at < _refresh_seconds:
                return self._value  # type: ignore[return-value]  # another thread refreshed it
            try:
                version = catalog_version.current_version()
                if not self._loaded or version != self._version or generation != self._generation:
                    self._value = self.loader()
                    self._loaded = True
                    self._version = version
                self._generation = generation
                self._checked_at = now
                self.degraded = False
            except STORE_ERRORS as exc:
                self._on_store_error(exc, now)
            monitoring.flush()
            return self._value  # type: ignore[return-value]

    def _on_store_error(self, exc: BaseException, now: float) -> None:
        self.degraded = True
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                # A dead connection is dropped so the next attempt reconnects.
                connection.close_if_unusable_or_obsolete()
        if now - self._warned_at >= _refresh_seconds:
            self._warned_at = now
            logger.warning(
                "registry snapshot %r: source unreachable (%s); serving %s",
                self.name,
                exc.__class__.__name__,
                "the last good snapshot" if self._loaded else "nothing yet",
            )
        if not self._loaded:
            raise SnapshotUnavailable(self.name) from exc
        # Serve the old value for one more interval before trying again.
        self._checked_at = now


def invalidate_all() -> None:
    """Make every snapshot reload on its next read (tests, settings changes)."""
    for snapshot in _all_snapshots:
        snapshot.invalidate()


def _on_setting_changed(*, setting: str, **kwargs) -> None:
    global _refresh_seconds
    if setting == "REGISTRY_REFRESH_SECONDS":
        _refresh_seconds = float(getattr(settings, "REGISTRY_REFRESH_SECONDS", 1.0))
    if setting in {"REGISTRY_REFRESH_SECONDS", "REDIS_URL", "CACHES", "DATABASES", "MODELS_REGISTRY_SOURCE"}:
        invalidate_all()


setting_changed.connect(_on_setting_changed)
