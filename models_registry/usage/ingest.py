"""The ingester of the Redis path: reads the usage stream in batches and stores them.

At-least-once from Redis, exactly-once in the table:

1. a consumer group (:data:`.stream.GROUP`) hands each entry to one consumer, which keeps it
   in its pending list until it acknowledges it (XACK);
2. a batch is inserted idempotently by ``request_id``, with the rollups of the rows it
   really inserted, in one transaction (:func:`.services.insert_records`), and only then
   acknowledged;
3. on start, a consumer first re-reads its own pending entries (read by an earlier run of
   it that was killed before its XACK), then claims the entries other consumers left pending
   longer than ``claim_idle_ms`` (an ingester that died on another host), and does so again
   every ``claim_every_seconds``.

A crash anywhere replays at most the batches in hand (those being stored, and the next one
read meanwhile); the idempotent insert skips what was already stored, so nothing is lost and
nothing is counted twice. An entry that cannot be read, or that the database refuses, is
logged, counted, copied to the ``<stream>:unreadable`` stream and acknowledged (one bad entry
must not block the stream); an entry trimmed (``USAGE_STREAM_MAXLEN``) before it was ingested
is logged and counted as lost.

Throughput: one process stores ``writers`` batches at once (threads, each with its own
connection and transaction) while it reads and decodes the next. More ingesters
(``--consumer`` names of their own) share the stream through the group.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis
from django.db import DatabaseError, DataError, IntegrityError, connection, connections

from models_registry.read.catalog_version import REDIS_ERRORS
from models_registry.usage import stream
from models_registry.usage.models import UsageRecord
from models_registry.usage.services import Batch, insert_records, prepare_batch

logger = logging.getLogger(__name__)

# Test hooks: end the process abruptly (os._exit: no cleanup, no XACK) right after reading
# the N-th batch, or after committing it but before acknowledging it.
CRASH_AFTER_READ = "USAGE_INGEST_CRASH_AFTER_READ"
CRASH_BEFORE_ACK = "USAGE_INGEST_CRASH_BEFORE_ACK"
CRASH_EXIT_CODE = 17
DEAD_LETTER_MAXLEN = 100_000

Entry = tuple[bytes, dict[bytes, bytes] | None]


@dataclass
class IngestStats:
    """What a run did, for the log and the command's output."""

    batches: int = 0
    read: int = 0
    inserted: int = 0
    duplicates: int = 0  # already stored: a replayed entry or a retried record
    malformed: int = 0
    trimmed: int = 0  # entries trimmed from the stream before they were ingested (lost)
    reclaimed: int = 0  # entries re-read from this consumer's pending list or claimed from others
    failures: int = 0  # batches the database refused (retried)
    seconds: float = field(default=0.0, repr=False)

    def summary(self) -> str:
        rate = self.inserted / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.batches} batches, {self.read} entries read, {self.inserted} inserted, "
            f"{self.duplicates} already stored, {self.reclaimed} reclaimed, {self.malformed} malformed, "
            f"{self.trimmed} trimmed, {self.failures} failed batches, {rate:,.0f} rows/s"
        )


def default_consumer() -> str:
    """This host's consumer name: a restarted ingester finds the entries its killed run read."""
    return socket.gethostname() or "ingester"


@contextlib.contextmanager
def _batch_friendly_gc() -> Iterator[None]:
    """Fewer cyclic collections while batches of thousands of records come and go.

    With the default thresholds, each batch set off dozens of collections that scanned every
    object alive (Django's and the batch in flight): a quarter of the ingester's time
    (measured, bench/usage_bench.py). The records hold no cycles; reference counting frees
    them. Restored on the way out."""
    thresholds = gc.get_threshold()
    gc.freeze()  # what start-up loaded stays: no collection scans it again
    gc.set_threshold(10_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry_id(value: bytes | str) -> tuple[int, int]:
    milliseconds, _, sequence = _text(value).partition("-")
    return int(milliseconds), int(sequence or 0)


def _crash_point(name: str, batch_number: int) -> None:
    value = os.environ.get(name, "")
    if value.isdigit() and int(value) == batch_number:
        os._exit(CRASH_EXIT_CODE)


class Ingester:
    """One consumer of the usage stream's group."""

    def __init__(
        self,
        *,
        stream_key: str | None = None,
        group: str = stream.GROUP,
        consumer: str | None = None,
        batch: int = 5000,
        block_ms: int = 2000,
        claim_idle_ms: int = 60_000,
        claim_every_seconds: float = 30.0,
        client: redis.Redis | None = None,
        writers: int = 2,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        if writers < 1:
            raise ValueError("writers must be at least 1")
        self.writers = writers
        self.key = stream_key or stream.stream_key()
        self.dead_key = f"{self.key}:unreadable"
        self.group = group
        self.consumer = consumer or default_consumer()
        self.batch = batch
        self.block_ms = max(0, block_ms)
        self.claim_idle_ms = max(0, claim_idle_ms)
        self.claim_every_seconds = claim_every_seconds
        # Reads block up to block_ms: the socket must wait longer than that.
        self.redis = client or stream.client(socket_timeout=self.block_ms / 1000 + 5)
        self.stats = IngestStats()
        self._stats_lock = threading.Lock()  # the writer threads count too
        self._claim_cursor = "0-0"
        self._claimed_at = float("-inf")
        self._trimmed_seen: tuple[tuple[int, int], int] = ((0, 0), 0)

    # --- Redis --------------------------------------------------------------------------------

    def ensure_group(self) -> None:
        """Create the group at the stream's start (entries added before any ingester ran count)."""
        try:
            self.redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self, start: str, *, block: bool) -> list[Entry]:
        reply = self.redis.xreadgroup(
            self.group,
            self.consumer,
            {self.key: start},
            count=self.batch,
            block=self.block_ms if block and self.block_ms else None,
        )
        if not reply:
            return []
        _, entries = reply[0]
        return list(entries)

    def _count_trimmed_unread(self) -> None:
        """Log and count entries trimmed (``USAGE_STREAM_MAXLEN``) before any ingester read them.

        Redis trims without telling: the sign is a stream whose first entry comes after the
        group's last delivered one. Then everything left is unread, and the group's lag (entries
        added since) minus what is left is what was lost. Reported once per gap."""
        info = self.redis.xinfo_stream(self.key)
        if not info.get("length"):
            return
        group = next((g for g in self.redis.xinfo_groups(self.key) if _text(g["name"]) == self.group), None)
        if group is None:
            return
        delivered = _entry_id(group["last-delivered-id"])
        if _entry_id(info["first-entry"][0]) <= delivered:
            return  # the trim stopped at what was read already
        if group.get("entries-read") is None:  # nothing read yet: trimmed before any ingester ran
            lost = int(info.get("entries-added") or 0) - int(info["length"])
        else:
            lost = int(group.get("lag") or 0) - int(info["length"])
        seen_at, seen = self._trimmed_seen
        new = lost - seen if seen_at == delivered else lost
        self._trimmed_seen = (delivered, lost)
        if new > 0:
            self.stats.trimmed += new
            logger.error(
                "ingest_usage: %d entries were trimmed from %s before any ingester read them "
                "(USAGE_STREAM_MAXLEN is too small for the ingesters' pace, or none was running)",
                new,
                self.key,
            )

    def _claim(self) -> list[Entry]:
        """Entries other consumers left pending longer than ``claim_idle_ms``, now ours."""
        self._count_trimmed_unread()
        self._claimed_at = time.monotonic()
        reply = self.redis.xautoclaim(
            self.key,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id=self._claim_cursor,
            count=self.batch,
        )
        self._claim_cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if len(reply) > 2 and reply[2]:  # Redis 7: pending entries trimmed away, dropped from the list
            self.stats.trimmed += len(reply[2])
            logger.error(
                "ingest_usage: %d pending entries were trimmed before they were ingested", len(reply[2])
            )
        return list(reply[1])

    # --- one batch ----------------------------------------------------------------------------

    def _set_aside(self, entry_id: bytes, raw: bytes, error: str) -> None:
        """Copy an entry that cannot be stored to the ``:unreadable`` stream (records hold no message
        text), out of the way of the others, for a human to look at and re-add."""
        with self._stats_lock:
            self.stats.malformed += 1
        logger.error("ingest_usage: entry %s set aside in %s: %s", entry_id, self.dead_key, error)
        self.redis.xadd(
            self.dead_key,
            {b"id": entry_id, stream.FIELD: raw, b"error": error},
            maxlen=DEAD_LETTER_MAXLEN,
            approximate=True,
        )

    def prepare(self, entries: list[Entry]) -> tuple[list[tuple[bytes, UsageRecord]], list[bytes]]:
        """The entries' records (with their entry ids) and every entry id to acknowledge."""
        records: list[tuple[bytes, UsageRecord]] = []
        ids: list[bytes] = []
        for entry_id, fields in entries:
            ids.append(entry_id)
            self.stats.read += 1
            raw = (fields or {}).get(stream.FIELD)
            if raw is None:  # trimmed (MAXLEN) while pending: its data is gone
                self.stats.trimmed += 1
                logger.error(
                    "ingest_usage: entry %s was trimmed from the stream before it was ingested", entry_id
                )
                continue
            try:
                records.append((entry_id, stream.decode(raw)))
            except ValueError as exc:
                self._set_aside(entry_id, raw, str(exc))
        return records, ids

    def store(
        self,
        records: list[tuple[bytes, UsageRecord]],
        ids: list[bytes],
        batch_number: int,
        batch: Batch | None = None,
    ) -> None:
        """Insert the batch (and its rollups) in one transaction, then acknowledge it.

        Raises, acknowledging nothing, when the database fails; a record the database refuses
        (a constraint, a value out of range) is set aside alone instead of failing its batch
        again and again. ``batch``: the records prepared (:func:`.services.prepare_batch`) ahead.
        """
        if records:
            refused = 0
            try:
                inserted = len(insert_records(batch or [record for _, record in records]))
            except (DataError, IntegrityError):
                inserted, refused = self._store_one_by_one(records)
            with self._stats_lock:
                self.stats.inserted += inserted
                self.stats.duplicates += len(records) - inserted - refused
        _crash_point(CRASH_BEFORE_ACK, batch_number)
        if ids:
            self.redis.xack(self.key, self.group, *ids)
        logger.debug("ingest_usage: batch %d: %d entries, %d records", batch_number, len(ids), len(records))

    def _store_one_by_one(self, records: list[tuple[bytes, UsageRecord]]) -> tuple[int, int]:
        """(inserted, set aside): each record in its own transaction."""
        inserted = refused = 0
        for entry_id, record in records:
            try:
                inserted += len(insert_records([record]))
            except (DataError, IntegrityError) as exc:
                refused += 1
                self._set_aside(entry_id, stream.encode(record), f"refused by the database: {exc}")
        return inserted, refused

    # --- the loop -----------------------------------------------------------------------------

    def _claim_due(self, state: dict[str, Any]) -> bool:
        return state["claiming"] or time.monotonic() - self._claimed_at >= self.claim_every_seconds

    def _next_batch(self, state: dict[str, Any], *, block: bool) -> list[Entry]:
        if state["own_pending"]:
            # From after the last one read, not from "0" again: a batch still being stored is
            # still pending, and must not be read twice.
            entries = self._read(state["pending_after"], block=False)
            if entries:
                self.stats.reclaimed += len(entries)
                state["pending_after"] = entries[-1][0]
                return entries
            state["own_pending"] = False
        if self._claim_due(state):
            entries = self._claim()
            state["claiming"] = self._claim_cursor != "0-0"  # more to scan: go on next time
            if entries:
                self.stats.reclaimed += len(entries)
                return entries
        return self._read(">", block=block)

    def run(
        self,
        *,
        once: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
        report: Callable[[str], None] | None = None,
        report_every_seconds: float = 10.0,
    ) -> IngestStats:
        """Ingest until ``should_stop()`` (checked between batches), or, with ``once``, until the
        stream has nothing more to give. A database or Redis failure is retried with a growing
        pause (``once``: raised); the unacknowledged batches are read again from the pending list.

        Pipelined: while ``writers`` threads store the last batches, each in its own transaction
        on its own connection, this one reads, decodes and sums the next (the database's time
        and ours overlap; a batch is acknowledged once stored, at most ``writers`` in flight).
        Not inside a caller's transaction (a test's): there every batch is stored in it, here.
        """
        with _batch_friendly_gc():
            return self._run(once, should_stop, report, report_every_seconds)

    def _run(
        self,
        once: bool,
        should_stop: Callable[[], bool],
        report: Callable[[str], None] | None,
        report_every_seconds: float,
    ) -> IngestStats:
        started = time.monotonic()
        reported = started
        backoff = 0.5
        self.ensure_group()
        state: dict[str, Any] = {"own_pending": True, "pending_after": "0", "claiming": True}
        # One single-thread executor per writer, so each keeps its own connection; batch n goes to
        # writer n % writers, whose previous batch (the oldest in flight) is settled first.
        lanes: list[ThreadPoolExecutor] = []
        if not connection.in_atomic_block:
            # SQLite writes one transaction at a time: a second writer would only wait for locks.
            writers = 1 if connection.vendor == "sqlite" else self.writers
            lanes = [
                ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ingest-usage-writer-{n}")
                for n in range(writers)
            ]
        in_flight: deque[Future[None]] = deque()

        def settle(keep: int = 0) -> None:
            while len(in_flight) > keep:
                in_flight.popleft().result()  # the stored batch's failure, raised here

        try:
            while not should_stop():
                try:
                    if in_flight and self._claim_due(state):
                        settle()  # a claim must not take over our own batches in flight
                    entries = self._next_batch(state, block=not once and not in_flight)
                    if not entries:
                        settle()
                        if once:
                            break
                        continue
                    self.stats.batches += 1
                    batch_number = self.stats.batches
                    if os.environ.get(CRASH_AFTER_READ, "") == str(batch_number):
                        settle()  # the batches before it are stored and acknowledged; this one is not
                        _crash_point(CRASH_AFTER_READ, batch_number)
                    records, ids = self.prepare(entries)
                    batch = prepare_batch(record for _, record in records)  # while the last are written
                    if not lanes:
                        self.store(records, ids, batch_number, batch)
                    else:
                        settle(keep=len(lanes) - 1)
                        lane = lanes[batch_number % len(lanes)]
                        in_flight.append(lane.submit(self.store, records, ids, batch_number, batch))
                    backoff = 0.5
                except (DatabaseError, *REDIS_ERRORS) as exc:
                    self.stats.failures += 1
                    while in_flight:  # a read failed while batches were being stored
                        with contextlib.suppress(Exception):
                            in_flight.popleft().result()
                    if once:
                        raise
                    logger.warning(
                        "ingest_usage: %s: %s; retrying in %.1f s", type(exc).__name__, exc, backoff
                    )
                    self._reconnect(lanes)
                    # What was read and not acknowledged is still ours: read it again, from the start.
                    state.update(own_pending=True, pending_after="0")
                    deadline = time.monotonic() + backoff
                    while time.monotonic() < deadline and not should_stop():
                        time.sleep(0.1)
                    backoff = min(backoff * 2, 30.0)
                now = time.monotonic()
                if report is not None and now - reported >= report_every_seconds:
                    reported = now
                    self.stats.seconds = now - started
                    report(self.stats.summary())
            settle()  # stopped: finish the batches in flight
        finally:
            self.stats.seconds = time.monotonic() - started
            while in_flight:
                with contextlib.suppress(Exception):  # already failing: let the first error out
                    in_flight.popleft().result()
            for lane in lanes:
                lane.submit(connections.close_all).result()  # the writer thread's connection
                lane.shutdown()
        return self.stats

    def _reconnect(self, lanes: list[ThreadPoolExecutor]) -> None:
        """Drop the storing threads' broken connections: the next batches open new ones."""

        def close() -> None:
            if not connection.in_atomic_block:
                connection.close()

        if not lanes:
            close()
        for lane in lanes:
            with contextlib.suppress(Exception):
                lane.submit(close).result()
