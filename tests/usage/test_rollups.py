"""Usage rollups: the incremental upserts equal aggregates recomputed from the raw rows, under
random events and batches and under concurrent writers; the rebuild; the retention command."""

from __future__ import annotations

import os
import random
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from itertools import count
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models_registry.domain.usage_rollups import BUCKETS, LATENCY_BOUNDS_MS, SubjectKey, sum_batch
from models_registry.usage.models import UsageRecord, UsageRollup, UsageSubjectRollup
from models_registry.usage.rollups import add_to_rollups, rebuild_rollups

POSTGRES = connection.vendor == "postgresql"
# Three days back from today (UTC), inside the raw-row retention that rebuild_rollups checks.
BASE = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
SPAN = timedelta(days=2, hours=2)  # events over three UTC days and many hours

MODELS = [
    ("openai:gpt-5", "openai"),
    ("openai:gpt-5-mini", "openai"),
    ("anthropic:claude-sonnet-4-5", "anthropic"),
    ("google:gemini-2.5-pro", "google"),
]
_request_ids = count()

# --- The oracle: aggregates recomputed from raw rows, written without the code under test ----------


def _bucket_of(latency_ms: int) -> int:
    return next(
        (i for i, bound in enumerate(LATENCY_BOUNDS_MS) if latency_ms <= bound), len(LATENCY_BOUNDS_MS)
    )


def _new_rollup(provider: str) -> dict[str, Any]:
    return {
        "provider": provider,
        **dict.fromkeys(
            (
                "requests",
                "errors",
                "sticky",
                "fallbacks",
                "input_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "output_tokens",
                "reasoning_tokens",
                "latency_count",
            ),
            0,
        ),
        "cost": Decimal(0),
        "latency_histogram": [0] * BUCKETS,
    }


def recomputed_from_raw() -> tuple[dict, dict]:
    """Hourly and daily rollups, and daily subject totals, summed record by record."""
    rollups: dict[tuple, dict[str, Any]] = {}
    subjects: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "errors": 0, "tokens": 0, "cost": Decimal(0)}
    )
    for record in UsageRecord.objects.all():
        at = record.at.astimezone(UTC)
        hour = at.replace(minute=0, second=0, microsecond=0)
        day = hour.replace(hour=0)
        dimensions = (
            record.model_id,
            record.catalog_source,
            record.routed,
            record.router_tier,
            record.category,
        )
        for period, start in (("hour", hour), ("day", day)):
            row = rollups.setdefault((period, start, *dimensions), _new_rollup(record.provider))
            row["requests"] += 1
            row["errors"] += record.status == "error"
            row["sticky"] += record.sticky
            row["fallbacks"] += record.fallback
            for kind in ("input", "cached_input", "cache_write", "output", "reasoning"):
                row[f"{kind}_tokens"] += getattr(record, f"{kind}_tokens")
            row["cost"] += record.cost
            if record.latency_ms is not None:
                row["latency_count"] += 1
                row["latency_histogram"][_bucket_of(record.latency_ms)] += 1
        if record.subject_key:
            subject = subjects[(day.date(), record.subject_key)]
            subject["requests"] += 1
            subject["errors"] += record.status == "error"
            subject["tokens"] += record.input_tokens + record.output_tokens
            subject["cost"] += record.cost
    return rollups, dict(subjects)


def stored_rollups() -> tuple[dict, dict]:
    """The rollup rows as stored, in the oracle's shape (a duplicate key would fail the count)."""
    rows = list(UsageRollup.objects.values())
    rollups = {
        (
            row.pop("period"),
            row.pop("bucket_start").astimezone(UTC),
            row.pop("model_id"),
            row.pop("catalog_source"),
            row.pop("routed"),
            row.pop("router_tier"),
            row.pop("category"),
        ): row
        for row in rows
    }
    assert len(rollups) == len(rows)
    for row in rollups.values():
        del row["id"]
    subjects = {
        (row.pop("day"), row.pop("subject_key")): row
        for row in UsageSubjectRollup.objects.values(
            "day", "subject_key", "requests", "errors", "tokens", "cost"
        )
    }
    return rollups, subjects


def assert_rollups_match_raw_rows() -> None:
    expected, expected_subjects = recomputed_from_raw()
    rollups, subjects = stored_rollups()
    assert set(rollups) == set(expected), "missing or extra rollup rows"
    for key, row in expected.items():
        assert rollups[key] == row, key
    assert subjects == expected_subjects


# --- Random events ----------------------------------------------------------------------------------

# Exact hour and day boundaries, and a microsecond either side.
BOUNDARIES = [
    BASE + timedelta(hours=hours) + timedelta(microseconds=shift)
    for hours in (0, 1, 23, 24, 25, 48)
    for shift in (-1, 0, 1)
]
TIMES = st.one_of(
    st.integers(0, int(SPAN.total_seconds() * 1_000_000)).map(lambda us: BASE + timedelta(microseconds=us)),
    st.sampled_from(BOUNDARIES),
)
LATENCIES = st.one_of(
    st.none(),
    st.sampled_from([0, 1, *LATENCY_BOUNDS_MS, *(bound + 1 for bound in LATENCY_BOUNDS_MS)]),
    st.integers(0, 2_000_000),
)
# PostgreSQL's numeric is exact to the column's 24 digits. SQLite keeps decimals as doubles (15
# significant digits, for the raw rows as well), so there costs stay small enough for 12 places.
COSTS = st.one_of(
    st.decimals(0, 10**6 if POSTGRES else 1, places=12),
    st.sampled_from([Decimal(0), Decimal("1e-12"), Decimal("0.000000123457"), Decimal("0.1")]),
)
EVENTS = st.fixed_dictionaries(
    {
        "at": TIMES,
        "model": st.sampled_from(MODELS),
        "catalog_source": st.sampled_from(["static", "database"]),
        "routed": st.booleans(),
        "router_tier": st.sampled_from(["", "economy", "standard", "premium"]),
        "category": st.sampled_from(["", "code", "chat", "math"]),
        "sticky": st.booleans(),
        "fallback": st.booleans(),
        "subject_key": st.sampled_from(["", "", "alice", "bob", "3f9a" * 16]),
        "status": st.sampled_from(["ok", "ok", "error"]),
        "latency_ms": LATENCIES,
        "cost": COSTS,
        "tokens": st.tuples(*[st.integers(0, 3_000_000_000)] * 5),
    }
)


def make_record(
    *,
    at: datetime,
    model: tuple[str, str] = MODELS[0],
    tokens: tuple[int, ...] = (100, 20, 10, 50, 5),
    cost: Decimal = Decimal("0.001"),
    **fields: Any,
) -> UsageRecord:
    input_tokens, cached, cache_write, output, reasoning = tokens
    return UsageRecord(
        request_id=f"rollup-test-{next(_request_ids)}",
        at=at,
        model_id=model[0],
        provider=model[1],
        catalog_source=fields.pop("catalog_source", "static"),
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        cache_write_tokens=cache_write,
        output_tokens=output,
        reasoning_tokens=reasoning,
        cost=cost,
        **fields,
    )


def insert(batch: list[UsageRecord]) -> list[UsageRecord]:
    """What a write path does: insert the rows, then add them to the rollups, in one transaction."""
    with transaction.atomic():
        UsageRecord.objects.bulk_create(batch)
        add_to_rollups(batch)
    return batch


# --- The property ---------------------------------------------------------------------------------


@pytest.mark.django_db
@settings(
    max_examples=int(os.environ.get("ROLLUP_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(EVENTS, min_size=1, max_size=15), min_size=1, max_size=5))
def test_rollups_equal_aggregates_recomputed_from_raw_rows(batches):
    with transaction.atomic():  # each example starts from empty tables
        for events in batches:
            insert([make_record(**event) for event in events])

        assert_rollups_match_raw_rows()

        # The rebuild (SQL aggregates over the raw rows) is a second oracle, and idempotent.
        times = [event["at"] for events in batches for event in events]
        result = rebuild_rollups(min(times), max(times) + timedelta(microseconds=1))
        assert result.rollup_rows == UsageRollup.objects.count()
        assert_rollups_match_raw_rows()
        rebuild_rollups(min(times), max(times) + timedelta(microseconds=1))
        assert_rollups_match_raw_rows()
        transaction.set_rollback(True)


# --- The pure sums ------------------------------------------------------------------------------------


def test_a_batch_is_summed_per_hour_and_day_and_subject_in_one_order():
    at = datetime(2025, 3, 1, 23, 59, 59, 999_999)  # naive: UTC
    records = [
        make_record(at=at, subject_key="bob", latency_ms=10, status="error"),
        make_record(at=at + timedelta(microseconds=1), subject_key="", latency_ms=None),  # next day
        make_record(at=at - timedelta(minutes=1), subject_key="bob", latency_ms=11, cost=Decimal("1e-12")),
    ]
    sums = sum_batch(records)
    hours = [key for key in sums.buckets if key.period == "hour"]
    days = {key.bucket_start: bucket for key, bucket in sums.buckets.items() if key.period == "day"}
    assert len(hours) == 2 and set(days) == {
        datetime(2025, 3, 1, tzinfo=UTC),
        datetime(2025, 3, 2, tzinfo=UTC),
    }
    first = days[datetime(2025, 3, 1, tzinfo=UTC)]
    assert (first.requests, first.errors, first.latency_count) == (2, 1, 2)
    assert first.cost == Decimal("0.001000000001") and first.latency_histogram[:2] == [1, 1]
    assert list(sums.subjects) == [SubjectKey(datetime(2025, 3, 1).date(), "bob")]
    assert sums.subjects[SubjectKey(datetime(2025, 3, 1).date(), "bob")].tokens == 2 * 150
    assert [key for key, _ in sums.sorted_buckets()] == sorted(sums.buckets)


# --- The upsert ---------------------------------------------------------------------------------------


def batch_of(count: int, *, prefix: str) -> list[UsageRecord]:
    records = [
        make_record(at=BASE + timedelta(minutes=7 * n), subject_key=f"{prefix}{n % 50}", latency_ms=n * 40)
        for n in range(count)
    ]
    UsageRecord.objects.bulk_create(records)
    return records


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite splits by its parameter limit")
def test_a_batch_costs_the_same_statements_whatever_its_size():
    add_to_rollups(batch_of(300, prefix="warm"))  # the session's staging tables exist

    def statements(records: list[UsageRecord]) -> list[str]:
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            add_to_rollups(records)
        return [query["sql"].split(" ", 1)[0] for query in queries]

    few, many = statements(batch_of(300, prefix="a")), statements(batch_of(3000, prefix="b"))
    assert few == many
    # One upsert for the subjects' rows, one for the hourly and daily rows (each after its COPY
    # into a staging table on PostgreSQL).
    assert few.count("INSERT") == 2
    assert_rollups_match_raw_rows()


@pytest.mark.django_db
def test_the_values_of_unsaved_records_count_and_empty_subjects_have_no_row():
    add_to_rollups([make_record(at=BASE, cost=Decimal("0.000000000001"), latency_ms=None)])
    add_to_rollups([make_record(at=BASE + timedelta(minutes=59), cost=Decimal("2.5"), latency_ms=12)])
    hour = UsageRollup.objects.get(period="hour")
    assert (hour.requests, hour.cost, hour.latency_count) == (2, Decimal("2.500000000001"), 1)
    assert hour.latency_histogram[1] == 1 and sum(hour.latency_histogram) == 1
    assert hour.input_tokens == 200 and hour.provider == "openai"
    assert not UsageSubjectRollup.objects.exists()
    add_to_rollups([])  # nothing to add: no statement, no error


@pytest.mark.django_db
def test_a_stored_histogram_shorter_than_the_buckets_is_added_to():
    """The model's default histogram is ``[]``: a row written without one still adds up."""
    record = make_record(at=BASE, latency_ms=100_000)
    insert([record])
    UsageRollup.objects.update(latency_histogram=[])
    insert([make_record(at=BASE, latency_ms=100_000)])
    for row in UsageRollup.objects.all():
        assert (
            row.latency_histogram[LATENCY_BOUNDS_MS.index(100_000)] == 1 and sum(row.latency_histogram) == 1
        )


# --- The rebuild ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rebuild_repairs_a_damaged_range_and_leaves_other_days_alone():
    insert(
        [
            make_record(at=BASE + timedelta(hours=h), subject_key="alice", latency_ms=300)
            for h in range(0, 72, 5)
        ]
    )
    later = UsageRollup.objects.filter(bucket_start__gte=BASE + timedelta(days=2))
    untouched = sorted(later.values_list("id", flat=True))
    UsageRollup.objects.filter(bucket_start__lt=BASE + timedelta(days=1)).update(requests=999)
    UsageSubjectRollup.objects.filter(day=BASE.date()).delete()

    result = rebuild_rollups(BASE + timedelta(hours=3), BASE + timedelta(days=1, hours=1))

    assert result.days == 2  # whole UTC days: the first and the second
    assert_rollups_match_raw_rows()
    assert sorted(later.values_list("id", flat=True)) == untouched


@pytest.mark.django_db
def test_rebuild_refuses_a_range_whose_raw_rows_may_be_pruned(settings):
    settings.USAGE_RETENTION_DAYS = 2  # BASE is three days back
    with pytest.raises(ValueError, match="pruned"):
        rebuild_rollups(BASE, BASE + timedelta(days=1))
    insert([make_record(at=BASE)])
    UsageRollup.objects.all().delete()
    assert rebuild_rollups(BASE, BASE + timedelta(days=1), allow_pruned=True).rollup_rows == 2
    assert_rollups_match_raw_rows()


# --- Concurrent writers (PostgreSQL) ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not POSTGRES, reason="SQLite runs one writer at a time: no race to test")
def test_concurrent_writers_of_the_same_rows_lose_no_count():
    writers, rounds, per_batch = 6, 12, 40
    barrier = threading.Barrier(writers, timeout=60)
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(rounds):
                batch = [
                    make_record(
                        at=BASE + timedelta(minutes=rng.randrange(0, 3 * 60)),  # three shared hours
                        model=rng.choice(MODELS[:2]),
                        routed=rng.random() < 0.5,
                        subject_key=rng.choice(["alice", "bob", ""]),
                        status=rng.choice(["ok", "error"]),
                        latency_ms=rng.choice([None, 80, 1_200, 700_000]),
                        cost=Decimal(rng.randrange(10**15)) / 10**12,
                    )
                    for _ in range(per_batch)
                ]
                with transaction.atomic():
                    UsageRecord.objects.bulk_create(batch)
                    barrier.wait()  # every writer upserts the same rows at the same moment
                    add_to_rollups(batch)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors

    total = writers * rounds * per_batch
    assert UsageRecord.objects.count() == total
    assert sum(UsageRollup.objects.filter(period="day").values_list("requests", flat=True)) == total
    assert_rollups_match_raw_rows()


# --- Retention ---------------------------------------------------------------------------------------------


def _prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_usage", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def aged_usage(settings):
    """Records 5, 100 and 500 days old (with their rollups), under 90 / 400 days of retention."""
    settings.USAGE_RETENTION_DAYS = 90
    settings.USAGE_ROLLUP_RETENTION_DAYS = 400
    now = timezone.now()
    for age in (5, 100, 500):
        insert(
            [
                make_record(at=now - timedelta(days=age), subject_key="alice", cost=Decimal("1.25"))
                for _ in range(3)
            ]
        )
    return now


def _rollup_snapshot() -> set[tuple]:
    return set(UsageRollup.objects.values_list("period", "bucket_start", "requests", "cost"))


@pytest.mark.django_db
def test_prune_deletes_old_raw_rows_and_keeps_the_rollups(aged_usage):
    before = _rollup_snapshot()

    out = _prune("--batch-size", "2")  # several batches

    assert "Deleted 6 usage record(s) older than 90 day(s)" in out
    assert "Deleted 1 hourly rollup row(s) older than 400 day(s)" in out
    assert "Deleted 1 subject rollup row(s)" in out
    assert UsageRecord.objects.count() == 3
    assert all(record.at > aged_usage - timedelta(days=90) for record in UsageRecord.objects.all())
    # Every rollup is kept as it was, but the 500-day-old hour; the daily rows keep every record.
    gone = {row for row in before if row[0] == "hour" and row[1] < aged_usage - timedelta(days=400)}
    assert len(gone) == 1 and _rollup_snapshot() == before - gone
    daily = UsageRollup.objects.filter(period="day")
    assert sum(daily.values_list("requests", flat=True)) == 9
    assert sum(daily.values_list("cost", flat=True)) == Decimal("11.25")


@pytest.mark.django_db
def test_prune_dry_run_writes_nothing(aged_usage):
    before = _rollup_snapshot(), UsageRecord.objects.count(), UsageSubjectRollup.objects.count()

    out = _prune("--dry-run")

    assert "Would delete 6 usage record(s)" in out and "Would delete 1 hourly rollup row(s)" in out
    assert (_rollup_snapshot(), UsageRecord.objects.count(), UsageSubjectRollup.objects.count()) == before


@pytest.mark.django_db
def test_prune_days_overrides_the_setting_and_zero_rollup_retention_keeps_rollups(aged_usage, settings):
    settings.USAGE_ROLLUP_RETENTION_DAYS = 0
    before = _rollup_snapshot()

    out = _prune("--days", "1")

    assert "Deleted 9 usage record(s) older than 1 day(s)" in out
    assert not UsageRecord.objects.exists() and _rollup_snapshot() == before
    assert UsageSubjectRollup.objects.count() == 3


@pytest.mark.django_db
def test_prune_refuses_a_retention_under_a_day():
    with pytest.raises(Exception, match="at least 1"):
        _prune("--days", "0")
