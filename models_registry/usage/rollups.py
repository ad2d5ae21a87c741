"""Hourly and daily rollups of usage records, kept up to date with every write of records.

Contract (both write paths call it, in the transaction that inserts the records):
``add_to_rollups(records)`` adds the given, newly inserted ``UsageRecord`` rows to the
``UsageRollup`` (hour and day) and ``UsageSubjectRollup`` rows, incrementally.

How the increments stay exact when several writers add to the same row at once: the batch is
summed in Python first (``domain.usage_rollups.sum_batch``), then every row gets its sums in one
multi-row ``INSERT ... ON CONFLICT (<the unique key>) DO UPDATE SET n = row.n + EXCLUDED.n``,
cost and latency histogram included (the histogram added bucket by bucket in SQL, see
``_histogram_sum``). On PostgreSQL an upsert that meets an existing row locks it and computes
the new values from its latest committed version (a concurrent writer of the same row waits
for the first to commit, then adds to its result), so no count is lost at READ COMMITTED; two
writers inserting the same new row at once end as one insert and one update. The rows of a
statement are sorted by key and the statements always come in the same order (subjects, then
buckets), so writers lock shared rows in one order and wait for each other instead of
deadlocking. SQLite runs one writer at a time, so the same statements are trivially safe there.

Statements per batch: one upsert for the subject rows, then one for the hourly and daily rows
together (none for subjects when no record has one), whatever the batch's size. A few rows (the
direct path's) go as one multi-row ``VALUES``; on PostgreSQL more go through ``COPY`` into a
staging table first (:mod:`.staging`: three more round trips, a constant); on SQLite the
``VALUES`` are split by its limit of parameters per statement.

``rebuild_rollups(start, end)`` recomputes whole UTC days of rollups from the raw rows with SQL
aggregates, independently of the incremental path: for repair, backfill, and as an oracle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Case, Count, Field, IntegerField, Min, Model, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncHour
from django.utils import timezone

from models_registry.domain.usage_rollups import (
    BUCKET_COUNTS,
    BUCKETS,
    DAY,
    ERROR_STATUS,
    HOUR,
    LATENCY_BOUNDS_MS,
    SUBJECT_COUNTS,
    TOKEN_KINDS,
    BatchSums,
    BucketKey,
    SubjectKey,
    day_start,
    empty_histogram,
    sum_batch,
)
from models_registry.usage import staging
from models_registry.usage.models import UsageRecord, UsageRollup, UsageSubjectRollup

# The unique constraints' fields (the upserts' conflict targets), in the order of the keys.
_BUCKET_KEY = BucketKey._fields
_SUBJECT_KEY = SubjectKey._fields
_DIMENSIONS = BucketKey._fields[2:]  # what a bucket is per, after its period and start
_FEW_ROWS = 20  # up to this many rows (the direct path's): one multi-row VALUES, one round trip


def add_to_rollups(
    records: Iterable[UsageRecord], *, using: str | None = None, sums: BatchSums | None = None
) -> None:
    """Add newly inserted records (saved or not: their field values count) to the hourly and
    daily rollups and to the daily subject totals, in the caller's transaction (on ``using``;
    by default the database the records were saved to, else the router's).

    ``sums``: ``sum_batch(records)``, when the caller summed them already (the ingester does it
    while the previous batch is being written)."""
    batch = list(records)
    if sums is None:
        sums = sum_batch(batch)
    if not sums.buckets:
        return
    if using is None:
        using = next((r._state.db for r in batch if r._state.db), None) or router.db_for_write(UsageRollup)
    # A row: its key's fields, then the sums (vars: provider, the counts, cost and histogram).
    bucket_rows = [{**key._asdict(), **vars(bucket)} for key, bucket in sums.sorted_buckets()]
    subject_rows = [{**key._asdict(), **vars(subject)} for key, subject in sums.sorted_subjects()]
    connection = connections[using]
    # savepoint=False: inside the caller's transaction this adds no statement; alone, it makes
    # the batch's upserts all-or-nothing.
    with transaction.atomic(using=connection.alias, savepoint=False):
        # Subjects first: the bucket rows are the hot ones (every writer adds to the current
        # hour's), so they are locked last, for the shortest time before the commit.
        _upsert(connection, UsageSubjectRollup, _SUBJECT_KEY, (), SUBJECT_COUNTS, subject_rows)
        _upsert(connection, UsageRollup, _BUCKET_KEY, ("provider",), BUCKET_COUNTS, bucket_rows)


def _upsert(
    connection: BaseDatabaseWrapper,
    model: type[Model],
    key: Sequence[str],
    insert_only: Sequence[str],
    counts: Sequence[str],
    rows: list[dict[str, Any]],
) -> None:
    """Insert each row, or add its counts, cost and histogram to the row of the same key."""
    if not rows:
        return
    vendor = connection.vendor
    if vendor not in {"postgresql", "sqlite"}:
        raise NotImplementedError(f"usage rollups need PostgreSQL or SQLite, not {vendor}")
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    histogram = ("latency_histogram",) if "latency_histogram" in rows[0] else ()
    names = [*key, *insert_only, *counts, "cost", *histogram]
    fields: list[Field] = [model._meta.get_field(name) for name in names]  # type: ignore[misc]
    column = {name: quote(field.column) for name, field in zip(names, fields, strict=True)}

    def added(name: str) -> str:
        return f"{table}.{column[name]} + EXCLUDED.{column[name]}"

    updates = [f"{column[name]} = {added(name)}" for name in counts]
    if vendor == "postgresql":
        updates.append(f"{column['cost']} = {added('cost')}")  # numeric: exact
    else:
        # SQLite keeps decimals as doubles: rounding each sum to the column's places keeps it the
        # double nearest the exact sum instead of letting float error build up over many batches.
        places = model._meta.get_field("cost").decimal_places  # type: ignore[union-attr]
        updates.append(f"{column['cost']} = ROUND({added('cost')}, {places})")
    if histogram:
        target = column["latency_histogram"]
        updates.append(f"{target} = {_histogram_sum(vendor, table, target)}")
    conflict = f"ON CONFLICT ({', '.join(column[name] for name in key)}) DO UPDATE SET {', '.join(updates)}"
    insert = f"INSERT INTO {table} ({', '.join(column.values())})"

    if vendor == "postgresql" and len(rows) > _FEW_ROWS:
        # COPY the rows into a staging table, then one upsert from it, in key order (the order in
        # which concurrent writers lock shared rows: the same for all).
        values = [
            [orjson.dumps(row[name]).decode() if name in histogram else row[name] for name in names]
            for row in rows
        ]
        with staging.cursor_on(connection) as cursor:
            staged = staging.copy_to_staging(cursor, connection, model, fields, values)
            order = ", ".join(column[name] for name in key)
            selected = staging.moved(connection, fields)
            staging.execute(
                cursor, connection, f"{insert} SELECT {selected} FROM {staged} ORDER BY {order} {conflict}"
            )
        return

    per_statement = max(1, (connection.features.max_query_params or 999) // len(names))
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [
                field.get_db_prep_save(row[name], connection)
                for row in chunk
                for name, field in zip(names, fields, strict=True)
            ]
            cursor.execute(f"{insert} VALUES {', '.join([row_sql] * len(chunk))} {conflict}", params)


def _histogram_sum(vendor: str, table: str, column: str) -> str:
    """SQL for the bucket-wise sum of the stored histogram and the batch's, evaluated on the
    locked row like the other sums (a missing bucket counts 0: a stored ``[]`` is empty).

    Spelled out bucket by bucket (44 terms, under PostgreSQL's 100 arguments per function) so
    the order of the result is the order of the buckets on both databases."""
    if vendor == "postgresql":
        item = "COALESCE(({source}.{column} ->> {index})::bigint, 0)"
        build = "jsonb_build_array"
    else:
        item = "COALESCE(json_extract({source}.{column}, '$[{index}]'), 0)"
        build = "json_array"
    terms = (
        item.format(source=table, column=column, index=index)
        + " + "
        + item.format(source="EXCLUDED", column=column, index=index)
        for index in range(BUCKETS)
    )
    return f"{build}({', '.join(terms)})"


# --- Rebuilding from the raw rows -------------------------------------------------------------


@dataclass(frozen=True)
class RebuildResult:
    days: int
    rollup_rows: int
    subject_rows: int


def rebuild_rollups(start: datetime, end: datetime, *, allow_pruned: bool = False) -> RebuildResult:
    """Recompute the rollups of every UTC day that meets ``[start, end)`` from the raw rows:
    delete that day's hourly, daily and subject rows, then aggregate its records again.
    Idempotent. Each day is its own transaction, during which writers of rollups wait.

    Refuses a range that begins before the raw-row retention cutoff (``USAGE_RETENTION_DAYS``):
    ``prune_usage`` may have deleted those records, and rebuilding would then erase the only
    aggregates left of them. ``allow_pruned=True`` (e.g. a backfill of a restored copy) overrides."""
    if end <= start:
        return RebuildResult(0, 0, 0)
    first, last = day_start(start), day_start(end - timedelta(microseconds=1))
    cutoff = timezone.now() - timedelta(days=int(getattr(settings, "USAGE_RETENTION_DAYS", 90)))
    if first < cutoff and not allow_pruned:
        raise ValueError(
            f"cannot rebuild from {first:%Y-%m-%d}: raw usage records before {cutoff:%Y-%m-%d %H:%M} UTC "
            "may have been pruned (pass allow_pruned=True if they are all there)"
        )
    days = rollup_rows = subject_rows = 0
    day = first
    while day <= last:
        rollups, subjects = _rebuild_day(day)
        days, rollup_rows, subject_rows = days + 1, rollup_rows + rollups, subject_rows + subjects
        day += timedelta(days=1)
    return RebuildResult(days, rollup_rows, subject_rows)


def _rebuild_day(day: datetime) -> tuple[int, int]:
    alias = router.db_for_write(UsageRollup)
    connection = connections[alias]
    following = day + timedelta(days=1)
    with transaction.atomic(using=alias):
        if connection.vendor == "postgresql":
            # Writers of rollups wait until this day is rebuilt (readers do not): a batch that
            # committed before is in the raw rows read below; one still open adds itself after.
            # Same table order as add_to_rollups, so the two never deadlock.
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {quote(UsageSubjectRollup._meta.db_table)}, "
                    f"{quote(UsageRollup._meta.db_table)} IN EXCLUSIVE MODE"
                )
        UsageRollup.objects.using(alias).filter(bucket_start__gte=day, bucket_start__lt=following).delete()
        UsageSubjectRollup.objects.using(alias).filter(day=day.date()).delete()
        records = UsageRecord.objects.using(alias).filter(at__gte=day, at__lt=following).order_by()
        rollups = [*_aggregate(records, HOUR, day), *_aggregate(records, DAY, day)]
        subjects = _aggregate_subjects(records, day.date())
        UsageRollup.objects.using(alias).bulk_create(rollups, batch_size=1000)
        UsageSubjectRollup.objects.using(alias).bulk_create(subjects, batch_size=1000)
    return len(rollups), len(subjects)


def _aggregate(records: QuerySet[UsageRecord], period: str, day: datetime) -> list[UsageRollup]:
    """One period's rollup rows of a day's records, by SQL aggregates (histograms by a CASE)."""
    grouping = ("bucket", *_DIMENSIONS) if period == HOUR else _DIMENSIONS
    if period == HOUR:
        records = records.annotate(bucket=TruncHour("at", tzinfo=UTC))
    sums = records.values(*grouping).annotate(
        provider_=Min("provider"),
        requests=Count("id"),
        errors=Count("id", filter=Q(status=ERROR_STATUS)),
        sticky_=Count("id", filter=Q(sticky=True)),
        fallbacks=Count("id", filter=Q(fallback=True)),
        **{f"{kind}_": Sum(kind) for kind in TOKEN_KINDS},
        cost_=Sum("cost"),
        latency_count=Count("latency_ms"),
    )
    bucket_of = Case(
        *(When(latency_ms__lte=bound, then=Value(index)) for index, bound in enumerate(LATENCY_BOUNDS_MS)),
        default=Value(len(LATENCY_BOUNDS_MS)),
        output_field=IntegerField(),
    )
    histograms: dict[tuple, list[int]] = {}
    latencies = records.filter(latency_ms__isnull=False).annotate(latency_bucket=bucket_of)
    for row in latencies.values(*grouping, "latency_bucket").annotate(count=Count("id")):
        histogram = histograms.setdefault(tuple(row[name] for name in grouping), empty_histogram())
        histogram[row["latency_bucket"]] += row["count"]
    rows = []
    for row in sums:
        group = tuple(row[name] for name in grouping)
        rows.append(
            UsageRollup(
                period=period,
                bucket_start=row["bucket"] if period == HOUR else day,
                **{name: row[name] for name in _DIMENSIONS},
                provider=row["provider_"],
                requests=row["requests"],
                errors=row["errors"],
                sticky=row["sticky_"],
                fallbacks=row["fallbacks"],
                **{kind: row[f"{kind}_"] for kind in TOKEN_KINDS},
                cost=row["cost_"],
                latency_count=row["latency_count"],
                latency_histogram=histograms.get(group, empty_histogram()),
            )
        )
    return rows


def _aggregate_subjects(records: QuerySet[UsageRecord], day: date) -> list[UsageSubjectRollup]:
    sums = (
        records.exclude(subject_key="")
        .values("subject_key")
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=Q(status=ERROR_STATUS)),
            input_=Sum("input_tokens"),
            output_=Sum("output_tokens"),
            cost_=Sum("cost"),
        )
    )
    return [
        UsageSubjectRollup(
            day=day,
            subject_key=row["subject_key"],
            requests=row["requests"],
            errors=row["errors"],
            tokens=row["input_"] + row["output_"],
            cost=row["cost_"],
        )
        for row in sums
    ]
