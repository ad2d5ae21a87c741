"""Immutable in-memory snapshots that follow the shared catalog version.

A :class:`VersionedSnapshot` holds whatever its loader built (an index of the
catalog, the rollout flags, the router's config...) and follows one snapshot
area's version. ``get()`` returns it with no query at all; at most once per
``REGISTRY_REFRESH_SECONDS`` it reads its area's version (Redis or one
database row) and rebuilds the value if the version moved, from the previous
value when it has a ``refresh`` function (only the rows written since), else
whole. A write committed in this process marks its area's snapshots stale at
once; a write to another area costs them nothing.

If the version or the loader fails (or stalls) because the database is
unreachable, the last good value keeps being served with ``degraded`` set
(callers count those reads as fallbacks), one warning is logged per interval,
and the retries back off. Only a snapshot that never loaded raises
:class:`SnapshotUnavailable`, for the caller to fall back.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent import futures
from typing import Generic, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError, connections

from models_registry.read import catalog_version, monitoring

logger = logging.getLogger(__name__)

T = TypeVar("T")

_refresh_seconds: float = float(getattr(settings, "REGISTRY_REFRESH_SECONDS", 1.0))
_first_load_timeout: float = float(getattr(settings, "REGISTRY_FIRST_LOAD_TIMEOUT_SECONDS", 5.0))
_all_snapshots: list[VersionedSnapshot] = []
MAX_BACKOFF_SECONDS = 10.0


class _PollThread:
    """One daemon thread per process that runs the polls in turn and keeps its database connection.

    A daemon, unlike an executor's thread: a poll stuck on a stalled database
    must not hold up the process's exit.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="registry-poll", daemon=True).start()

    def submit(self, function: Callable[..., None], *args: object) -> futures.Future:
        future: futures.Future = futures.Future()
        self._jobs.put((future, function, args))
        return future

    def _run(self) -> None:
        while True:
            future, function, args = self._jobs.get()
            try:
                future.set_result(function(*args))
            except BaseException as exc:
                logger.exception("registry poll failed")
                future.set_exception(exc)


_poll_thread: _PollThread | None = None


def _poller() -> _PollThread:
    """The process's poll thread (created after a fork, so each worker has its own)."""
    global _poll_thread
    if _poll_thread is None or _poll_thread.pid != os.getpid():
        _poll_thread = _PollThread()
    return _poll_thread


def _background_polls() -> bool:
    """``REGISTRY_BACKGROUND_REFRESH``: periodic polls off the reader's thread (off in the test suite,
    whose data lives in one uncommitted transaction that other threads cannot see)."""
    return bool(getattr(settings, "REGISTRY_BACKGROUND_REFRESH", True))


class SnapshotUnavailable(RuntimeError):
    """The snapshot has never loaded and its source is unreachable."""


# What an unreachable source raises: the database's errors, socket errors, Redis's errors.
STORE_ERRORS = (DatabaseError, *catalog_version.REDIS_ERRORS)


class VersionedSnapshot(Generic[T]):
    """A value built by ``loader`` and rebuilt when the catalog version changes.

    Readers never wait for a refresh: a periodic poll runs in a thread of its
    own and installs its result when the source answers, while every reader
    keeps the current value (a stalled database cannot stall reads). A poll
    still unanswered at the next interval counts as a failure; after a failure
    the next try waits twice as long, up to ``MAX_BACKOFF_SECONDS``. The first
    load is waited for at most ``REGISTRY_FIRST_LOAD_TIMEOUT_SECONDS``; a write
    committed in this process is loaded in the reader's own thread at once
    (read your own writes).
    """

    def __init__(
        self,
        loader: Callable[[], T],
        *,
        name: str,
        area: str = catalog_version.CATALOG,
        refresh: Callable[[T], T] | None = None,
        background: bool = True,
    ) -> None:
        self.loader = loader
        self.refresh = refresh  # previous value -> new value, reading only what changed
        self.name = name
        self.area = area
        # False: polls and loads run in the reader's thread, for a slow loader (a report) that must
        # not hold up the process's one poll thread, which the read path's snapshots share.
        self.background = background
        self._area_generation = -1  # the area's local generation the value was loaded at
        self._reload_whole = False  # set by invalidate(): the next load ignores the previous value
        self._value: T | None = None
        self._loaded = False
        self._version: Hashable | None = None
        self._generation = -1
        self._checked_at = float("-inf")
        self._wait = _refresh_seconds  # until the next poll; grows while the source fails
        self._failures = 0
        self._warned_at = float("-inf")
        self._lock = threading.Lock()
        self._worker: futures.Future | None = None
        # True while the source is unreachable and an older value is served.
        self.degraded = False
        _all_snapshots.append(self)

    def get(self) -> T:
        """The current value: no query unless the refresh interval has passed."""
        if (
            self._loaded
            and self._generation == catalog_version.local_generation
            and time.monotonic() - self._checked_at < self._wait
        ):
            return self._value  # type: ignore[return-value]
        return self._refresh()

    def invalidate(self) -> None:
        """Force a version check and rebuild on the next ``get()``, in the reader's thread."""
        self._version = None
        self._checked_at = float("-inf")
        self._generation = -1
        self._area_generation = -1
        self._reload_whole = True

    def _refresh(self) -> T:
        if not self._loaded and self._failures and time.monotonic() - self._checked_at < self._wait:
            # Never loaded and the last try failed: no new try before the back-off ends
            # (a database refusing connections is not hammered by every read).
            raise SnapshotUnavailable(self.name)
        # Only the first load makes readers wait; afterwards a busy lock means
        # another thread is refreshing, and the current value is served meanwhile.
        if not self._lock.acquire(blocking=not self._loaded):
            return self._value  # type: ignore[return-value]
        try:
            now = time.monotonic()
            generation = catalog_version.local_generation
            area_generation = catalog_version.area_generation(self.area)
            area_moved = area_generation != self._area_generation
            if self._loaded and not area_moved and now - self._checked_at < self._wait:
                # Another thread refreshed it, or a write of this process to another area.
                self._generation = generation
                return self._value  # type: ignore[return-value]
            if self._loaded and self._failures and now - self._checked_at < self._wait:
                return self._value  # type: ignore[return-value]  # backing off: no reader waits on a dead source
            if self.background and _background_polls() and (not self._loaded or not area_moved):
                self._poll_in_background(now, generation, area_generation)
            else:  # a write of this process: here and now (read your own writes)
                self._poll(now, generation, area_generation)
                monitoring.flush()
        finally:
            self._lock.release()
        if not self._loaded:
            raise SnapshotUnavailable(self.name)
        return self._value  # type: ignore[return-value]

    def _poll(self, now: float, generation: int, area_generation: int) -> None:
        try:
            version = catalog_version.current_version(self.area)
            if not self._loaded or version != self._version or area_generation != self._area_generation:
                if self._loaded and self.refresh is not None and not self._reload_whole:
                    self._value = self.refresh(self._value)  # type: ignore[arg-type]
                else:
                    self._value = self.loader()
                    self._reload_whole = False
                self._loaded = True
                self._version = version
            self._generation = generation
            self._area_generation = area_generation
            self._checked_at = now
            self._failures = 0
            self._wait = _refresh_seconds
            self.degraded = False
        except STORE_ERRORS as exc:
            self._on_store_error(exc, now)
        except Exception as exc:
            logger.exception("registry snapshot %r: loading failed", self.name)
            self._note_failure(now, f"loading failed ({exc.__class__.__name__})")

    def _poll_in_background(self, now: float, generation: int, area_generation: int) -> None:
        if self._worker is not None and not self._worker.done():
            self._on_stall(now)  # the previous poll is still waiting for an answer
            return
        self._worker = _poller().submit(self._background_poll, now, generation, area_generation)
        if not self._loaded:  # nothing to serve yet: wait for the first load, within a bound
            futures.wait([self._worker], timeout=_first_load_timeout)
            if not self._worker.done():
                self._on_stall(now)
        else:  # readers keep the current value; the poll installs its result when it answers
            self._checked_at = now

    def _background_poll(self, now: float, generation: int, area_generation: int) -> None:
        # The poll thread keeps its connection between polls, within CONN_MAX_AGE, as a
        # request thread does: closed when too old or broken.
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        self._poll(now, generation, area_generation)
        monitoring.flush()  # the read counters travel with the poll, off the reader's thread

    def _on_stall(self, now: float) -> None:
        self._note_failure(now, "a poll of the source is still waiting for an answer")

    def _on_store_error(self, exc: BaseException, now: float) -> None:
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                # A dead connection is dropped so the next attempt reconnects.
                connection.close_if_unusable_or_obsolete()
        self._note_failure(now, f"source unreachable ({exc.__class__.__name__})")

    def _note_failure(self, now: float, what: str) -> None:
        self.degraded = True
        monitoring.count(monitoring.REFRESH_FAILURES)
        self._failures += 1
        # Back off: the next attempt waits twice as long each time, up to the cap.
        self._wait = min(_refresh_seconds * 2 ** min(self._failures, 16), MAX_BACKOFF_SECONDS)
        self._checked_at = now
        if now - self._warned_at >= max(_refresh_seconds, 1.0):
            self._warned_at = now
            logger.warning(
                "registry snapshot %r: %s; serving %s; next try in %.1fs",
                self.name,
                what,
                "the last good snapshot" if self._loaded else "nothing yet",
                self._wait,
            )


def _after_fork_in_child() -> None:
    # A forked worker inherits no poll thread and no running poll: start afresh.
    global _poll_thread
    _poll_thread = None
    for snapshot in _all_snapshots:
        snapshot._worker = None
        snapshot._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def close_poll_connection(timeout: float = 5.0) -> None:
    """Close the poll thread's database connection (before dropping that database, say)."""
    poller = _poll_thread
    if poller is not None and poller.pid == os.getpid():
        poller.submit(connections.close_all).result(timeout=timeout)


def invalidate_all() -> None:
    """Make every snapshot reload on its next read (tests, settings changes)."""
    for snapshot in _all_snapshots:
        snapshot.invalidate()


def _on_setting_changed(*, setting: str, **kwargs) -> None:
    global _refresh_seconds, _first_load_timeout
    if setting == "REGISTRY_REFRESH_SECONDS":
        _refresh_seconds = float(getattr(settings, "REGISTRY_REFRESH_SECONDS", 1.0))
        for snapshot in _all_snapshots:
            snapshot._wait = _refresh_seconds
    if setting == "REGISTRY_FIRST_LOAD_TIMEOUT_SECONDS":
        _first_load_timeout = float(getattr(settings, "REGISTRY_FIRST_LOAD_TIMEOUT_SECONDS", 5.0))
    if setting in {"REGISTRY_REFRESH_SECONDS", "REDIS_URL", "CACHES", "DATABASES", "MODELS_REGISTRY_SOURCE"}:
        invalidate_all()


setting_changed.connect(_on_setting_changed)
