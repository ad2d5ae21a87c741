"""The Redis path's ingester (``manage.py ingest_usage``): at-least-once from the stream, exactly once
in the table, whatever point it is killed at."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from models_registry import registry
from models_registry.usage import stream
from models_registry.usage.ingest import CRASH_AFTER_READ, CRASH_BEFORE_ACK, CRASH_EXIT_CODE, default_consumer
from models_registry.usage.models import UsageRecord, UsageRollup
from models_registry.usage.services import insert_records

from .conftest import Stream

ROOT = Path(__file__).resolve().parents[2]
GROUP = stream.GROUP


def buffer(count: int, *, prefix: str = "req", start: int = 0) -> list[str]:
    """``count`` model calls recorded on the Redis path; their request ids."""
    ids = []
    for n in range(start, start + count):
        request_id = f"{prefix}-{n:05d}"
        returned = registry.record_usage(
            "openai:gpt-5",
            {"input_tokens": 1_000 + n, "output_tokens": 100},
            usage_format="generic",
            request_id=request_id,
            subject=n % 7,
            latency_ms=100 + n,
        )
        assert returned is not None
        ids.append(request_id)
    return ids


def ingest(*args: str) -> str:
    out = StringIO()
    call_command("ingest_usage", "--once", *args, stdout=out)
    return out.getvalue()


def stored_ids() -> list[str]:
    return list(UsageRecord.objects.order_by("request_id").values_list("request_id", flat=True))


# --- in process (any backend) ----------------------------------------------------------------------


@pytest.mark.django_db
def test_ingest_once_writes_the_buffered_records_and_acknowledges_them(usage_stream, rollup_spy):
    ids = buffer(5)
    assert stored_ids() == []

    output = ingest("--batch", "2")

    assert stored_ids() == ids
    assert "5 inserted" in output and "3 batches" in output
    assert sorted(rollup_spy.request_ids) == ids
    assert usage_stream.pending() == 0
    first = UsageRecord.objects.get(request_id="req-00003")
    assert (first.input_tokens, first.subject_key, first.latency_ms) == (1_003, "3", 103)
    assert first.cost == registry.calculate_cost("openai:gpt-5", input_tokens=1_003, output_tokens=100)
    assert ingest().count("0 inserted") == 1  # nothing new: nothing written


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_batches_are_stored_by_writer_threads_while_the_next_is_read(
    usage_stream, rollup_spy
):
    """On PostgreSQL two writers store batches at once (their own connections and transactions),
    adding to the same hour's rollup rows: the rollups must still equal the raw rows."""
    from tests.usage.test_rollups import assert_rollups_match_raw_rows

    ids = buffer(25)

    output = ingest("--batch", "4", "--writers", "2")

    assert stored_ids() == ids
    assert "25 inserted" in output and "7 batches" in output
    assert sorted(rollup_spy.request_ids) == ids and len(rollup_spy.calls) == 7
    assert usage_stream.pending() == 0
    assert_rollups_match_raw_rows()


@pytest.mark.django_db
def test_a_large_batch_stores_every_field_as_recorded(rollup_spy):
    """Batches of more than a few rows take PostgreSQL's array insert: every field must round-trip."""
    at = datetime(2026, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
    records = [
        stream.new_record(
            {
                "request_id": f"big-{n:03d}",
                "at": at + timedelta(minutes=n),
                "model_id": "openai:gpt-5",
                "provider": "openai",
                "catalog_source": "database" if n % 2 else "static",
                "subject_key": f"s{n % 3}" if n % 4 else "",
                "conversation_id": "c" * (n % 5),
                "routed": n % 3 == 0,
                "decision_id": n + 1 if n % 3 == 0 else None,
                "router_tier": "premium" if n % 3 == 0 else "",
                "category": "coding" if n % 3 == 0 else "",
                "sticky": n % 6 == 0,
                "fallback": n % 9 == 0,
                "input_tokens": 1_000 + n,
                "cached_input_tokens": n,
                "cache_write_tokens": n % 7,
                "output_tokens": 10 * n,
                "reasoning_tokens": n // 2,
                "cost": Decimal("0.000000000001") * (n + 1) + Decimal("0.5"),  # 12 places, exact
                "cost_breakdown": [
                    {"kind": "input", "tokens": n, "price": "2.5", "per": 1_000_000, "cost": "0.1"}
                ],
                "price_effective_from": at - timedelta(days=n) if n % 2 else None,
                "service_tier": "batch" if n % 5 == 0 else "",
                "latency_ms": None if n % 4 == 0 else 2_147_483_647 - n,
                "status": "error" if n % 8 == 0 else "ok",
                "error_type": "timeout" if n % 8 == 0 else "",
            }
        )
        for n in range(60)
    ]
    expected = {
        record.request_id: {f.attname: getattr(record, f.attname) for f in UsageRecord._meta.concrete_fields}
        for record in records
    }

    inserted = insert_records(records)

    assert len(inserted) == 60 and len(rollup_spy.request_ids) == 60
    for row in UsageRecord.objects.all():
        stored = {f.attname: getattr(row, f.attname) for f in UsageRecord._meta.concrete_fields}
        want = expected[row.request_id]
        for name in ("id", "recorded_at"):
            del stored[name], want[name]
        assert stored == want, row.request_id
    assert insert_records(records) == []  # all stored already: nothing new, nothing rolled up
    assert len(rollup_spy.request_ids) == 60


@pytest.mark.django_db
def test_a_record_buffered_twice_and_an_entry_replayed_are_stored_once(usage_stream, rollup_spy):
    buffer(1, prefix="twice")
    buffer(1, prefix="twice")  # the chat app retried its record
    ingest()
    [(_, fields)] = usage_stream.entries()[-1:]
    usage_stream.client.xadd(usage_stream.key, fields)  # the same entry again (a replay)

    output = ingest()

    assert stored_ids() == ["twice-00000"]
    assert "1 already stored" in output
    assert rollup_spy.request_ids == ["twice-00000"]


@pytest.mark.django_db
def test_entries_a_killed_ingester_read_but_never_acknowledged_are_ingested_on_restart(
    usage_stream, rollup_spy
):
    ids = buffer(10)
    call_command("ingest_usage", "--once", "--batch", "100", stdout=StringIO())  # creates the group
    more = buffer(10, start=10)
    # An ingester of this host read four entries, then was killed: no insert, no XACK.
    usage_stream.client.xreadgroup(GROUP, default_consumer(), {usage_stream.key: ">"}, count=4)
    assert usage_stream.pending() == 4

    output = ingest("--batch", "3")

    assert stored_ids() == ids + more
    assert "4 reclaimed" in output
    assert usage_stream.pending() == 0
    assert sorted(rollup_spy.request_ids) == ids + more


@pytest.mark.django_db
def test_entries_trimmed_before_any_ingester_read_them_are_logged_and_counted_as_lost(
    usage_stream, settings, caplog
):
    """USAGE_STREAM_MAXLEN bounds Redis's memory; when the ingesters fall behind it, Redis drops
    the oldest entries without a word. What is lost must be said and counted, not vanish."""
    settings.USAGE_STREAM_MAXLEN = 50  # trimmed by whole nodes of 100 entries: about 100 kept
    buffer(300)
    output = ingest("--batch", "1000")
    kept = len(stored_ids())
    assert 50 <= kept < 300
    assert f"{300 - kept} trimmed" in output
    assert f"{300 - kept} entries were trimmed" in caplog.text

    ingest("--batch", "10")  # the stream is caught up: nothing more to report
    buffer(10, start=300)
    assert "0 trimmed" in ingest("--batch", "1000")
    # The ingester falls behind again, past what it had read: the gap is counted, once.
    before = len(stored_ids())
    buffer(400, start=1_000)
    output = ingest("--batch", "1000")
    gained = len(stored_ids()) - before
    assert 0 < gained < 400 and f"{400 - gained} trimmed" in output
    assert "0 trimmed" in ingest()


@pytest.mark.django_db
def test_entries_left_pending_by_another_consumer_are_claimed_once_idle(usage_stream):
    ids = buffer(6)
    ingest()  # the group exists; all six are stored
    more = buffer(6, start=6)
    usage_stream.client.xreadgroup(GROUP, "a-host-that-died", {usage_stream.key: ">"}, count=6)

    assert "0 inserted" in ingest("--claim-idle-ms", "600000")  # not idle long enough: left alone
    output = ingest("--claim-idle-ms", "0")

    assert stored_ids() == ids + more
    assert "6 reclaimed" in output
    assert usage_stream.pending() == 0


@pytest.mark.django_db
def test_a_batch_stored_but_not_acknowledged_is_not_stored_or_rolled_up_twice(usage_stream, rollup_spy):
    ids = buffer(8)
    ingest("--batch", "100")  # creates the group, stores the eight
    more = buffer(4, start=8)
    # An ingester read four entries and committed them, and was killed before its XACK.
    [(_, entries)] = usage_stream.client.xreadgroup(
        GROUP, default_consumer(), {usage_stream.key: ">"}, count=4
    )
    insert_records([stream.decode(fields[stream.FIELD]) for _, fields in entries])
    assert usage_stream.pending() == 4

    output = ingest()

    assert "4 already stored" in output and "0 inserted" in output
    assert stored_ids() == ids + more
    assert sorted(rollup_spy.request_ids) == ids + more  # each record once
    assert usage_stream.pending() == 0


@pytest.mark.django_db
def test_an_unreadable_entry_is_set_aside_and_does_not_block_the_others(usage_stream):
    buffer(2)
    usage_stream.client.xadd(usage_stream.key, {stream.FIELD: b'{"v": 99, "request_id": "from-the-future"}'})
    usage_stream.client.xadd(usage_stream.key, {stream.FIELD: b"not json"})
    buffer(1, start=2)

    output = ingest()

    assert stored_ids() == ["req-00000", "req-00001", "req-00002"]
    assert "2 malformed" in output
    assert usage_stream.pending() == 0
    dead = usage_stream.client.xrange(f"{usage_stream.key}:unreadable")
    assert [fields[stream.FIELD] for _, fields in dead] == [
        b'{"v": 99, "request_id": "from-the-future"}',
        b"not json",
    ]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not bound a numeric column")
def test_a_record_the_database_refuses_is_set_aside_alone(usage_stream):
    buffer(2)
    [(_, fields)] = usage_stream.entries()[-1:]
    refused = stream.decode(fields[stream.FIELD])
    refused.request_id, refused.cost = "too-costly", Decimal("1e15")  # beyond the column's 24 digits
    usage_stream.client.xadd(usage_stream.key, {stream.FIELD: stream.encode(refused)})
    buffer(1, start=2)

    output = ingest()

    assert stored_ids() == ["req-00000", "req-00001", "req-00002"]
    assert "1 malformed" in output and "3 inserted" in output
    [(_, dead)] = usage_stream.client.xrange(f"{usage_stream.key}:unreadable")
    assert b"refused by the database" in dead[b"error"]
    assert stream.decode(dead[stream.FIELD]).request_id == "too-costly"


def test_the_stream_carries_every_field_of_a_record():
    """A field added to UsageRecord must be added to the stream's format too (or it is lost there)."""
    not_carried = {"id", "recorded_at"}  # the database's, set when the row is inserted
    record = stream.new_record(
        {
            field.attname: _sample_value(field)
            for field in UsageRecord._meta.concrete_fields
            if field.attname not in not_carried
        }
    )
    decoded = stream.decode(stream.encode(record))
    for field in UsageRecord._meta.concrete_fields:
        if field.attname not in not_carried:
            assert getattr(decoded, field.attname) == getattr(record, field.attname), field.attname


def _sample_value(field):
    """A value of the field's type that is not its default."""
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return datetime(2026, 4, 5, 6, 7, 8, 9, tzinfo=UTC)
    if kind == "DecimalField":
        return Decimal("1.000000000001")
    if kind == "JSONField":
        return [{"kind": "input", "tokens": 3, "price": "2.5", "per": 1_000_000, "cost": "0.0000075"}]
    if kind == "BooleanField":
        return True
    if kind in {"BigIntegerField", "PositiveIntegerField", "IntegerField"}:
        return 7
    if field.choices:
        return field.choices[-1][0]
    return "x" * min(5, field.max_length)


GOOD_ENTRY = {
    "v": 1, "request_id": "r", "at": "2026-01-01T00:00:00+00:00", "cost": "0.1", "lines": [],
    "model_id": "openai:gpt-5", "provider": "openai", "catalog_source": "static",
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "format 2"),
        ({"prompt": "hello"}, "unknown fields: prompt"),
        ({"at": "2026-01-01T00:00:00"}, "not an aware time"),
        ({"cost": "NaN"}, "not an amount"),
        ({"cost": "-1"}, "not an amount"),
        ({"input_tokens": -5}, "input_tokens is out of range"),
        ({"input_tokens": True}, "input_tokens must be of type int"),
        ({"status": "maybe"}, "status 'maybe'"),
        ({"model_id": "m" * 151}, "too long"),
        ({"request_id": ""}, "request_id must be a string of 1 to 200"),
        ({"lines": [["input", 1, "2.5"]]}, "not a usage record"),
        # Its hour in UTC is before year 1: summing it would crash the ingester on every restart.
        ({"at": "0001-01-01T01:00:00+05:00"}, "out of range"),
        ({"model_id": "openai:\u0000"}, "NUL"),
    ],
)
def test_a_stray_entry_is_refused_before_it_reaches_the_database(change, message):
    import json

    assert stream.decode(json.dumps(GOOD_ENTRY)).request_id == "r"
    with pytest.raises(ValueError, match=message):
        stream.decode(json.dumps({**GOOD_ENTRY, **change}))


def test_ingest_refuses_to_start_without_redis(settings):
    from django.core.management.base import CommandError

    settings.REDIS_URL = ""
    with pytest.raises(CommandError, match="REDIS_URL is not set"):
        call_command("ingest_usage", "--once")


# --- a real ingester process, killed (PostgreSQL: the process shares the test database) ------------

on_a_database_server = pytest.mark.django_db(transaction=True)  # committed: the process must see it
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a second process needs a shared database"
)


def ingester(stream_: Stream, *args: str, crash: dict[str, str] | None = None) -> subprocess.Popen:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", CRASH_AFTER_READ, CRASH_BEFORE_ACK}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",  # production settings, not the suite's
        SECRET_KEY="usage-ingester",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=stream_.url,
        CACHE_KEY_PREFIX=f"{stream_.key}:cache",
        USAGE_STREAM_KEY=stream_.key,
        USAGE_BUFFER="redis",
        **(crash or {}),
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "ingest_usage", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finished(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def rolled_up_requests() -> int:
    return UsageRollup.objects.filter(period="day").aggregate(total=Sum("requests"))["total"] or 0


@pytest.mark.parametrize(
    ("crash", "replayed_at_least"),
    [
        pytest.param(CRASH_AFTER_READ, 0, id="killed-after-reading-a-batch"),
        pytest.param(CRASH_BEFORE_ACK, 50, id="killed-after-committing-before-acknowledging"),
    ],
)
@on_a_database_server
@needs_postgresql
def test_an_ingester_killed_mid_batch_loses_nothing_and_doubles_nothing(
    usage_stream, crash, replayed_at_least
):
    ids = buffer(200)

    code, output = finished(ingester(usage_stream, "--once", "--batch", "50", crash={crash: "2"}))
    assert code == CRASH_EXIT_CODE, output
    stored_before = len(stored_ids())
    left_pending = usage_stream.pending()
    if crash == CRASH_AFTER_READ:  # the batches before it stored and acknowledged; it read, no more
        assert (stored_before, left_pending) == (50, 50)
    else:  # batch 2 committed, unacknowledged; the other writer may have stored batch 1 or 3 meanwhile
        assert stored_before in (50, 100, 150) and 50 <= left_pending <= 200

    code, output = finished(ingester(usage_stream, "--once", "--batch", "50"))
    assert code == 0, output
    assert stored_ids() == ids  # every record, once
    read, inserted, already = (
        int(re.search(rf"(\d+) {what}", output).group(1))
        for what in ("entries read", "inserted", "already stored")
    )
    assert inserted == 200 - stored_before and already == read - inserted >= replayed_at_least
    assert f"{left_pending} reclaimed" in output
    assert usage_stream.pending() == 0
    assert rolled_up_requests() == 200  # the replayed batch did not reach the rollups twice


@on_a_database_server
@needs_postgresql
def test_a_running_ingester_writes_as_records_arrive_and_stops_cleanly_on_sigterm(usage_stream):
    process = ingester(usage_stream, "--block-ms", "200")
    try:
        ids = buffer(30)
        deadline = time.monotonic() + 30
        while len(stored_ids()) < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stored_ids() == ids
        process.send_signal(signal.SIGTERM)
        code, output = finished(process, timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert code == 0, output
    assert "done (stopped by a signal)" in output and "30 inserted" in output
    assert usage_stream.pending() == 0
