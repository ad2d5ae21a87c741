"""Latency histograms of usage rollups: fixed bucket bounds, so any sum of rollups has exact
bucket counts and its percentiles are exact to a bucket. Pure Python, no ORM.

A histogram is a list of ``len(LATENCY_BOUNDS_MS) + 1`` counts: bucket ``i`` counts latencies
``<= LATENCY_BOUNDS_MS[i]`` (and above the previous bound); the last bucket counts the rest.

Also the pure half of ``models_registry.usage.rollups``: a batch of usage records summed per
rollup bucket (hour and day, per dimensions) and per subject and day, before the database adds
each sum to its row in one upsert.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

# Milliseconds, roughly 25% apart from 10 ms to 10 minutes: a percentile is within a quarter.
LATENCY_BOUNDS_MS: tuple[int, ...] = (
    10, 15, 20, 25, 30, 40, 50, 60, 75, 100, 125, 150, 200, 250, 300, 400, 500, 600, 750,
    1_000, 1_250, 1_500, 2_000, 2_500, 3_000, 4_000, 5_000, 6_000, 7_500, 10_000, 12_500, 15_000,
    20_000, 25_000, 30_000, 40_000, 50_000, 60_000, 75_000, 100_000, 150_000, 300_000, 600_000,
)  # fmt: skip
BUCKETS = len(LATENCY_BOUNDS_MS) + 1


def latency_bucket(latency_ms: int) -> int:
    """The histogram bucket of one latency."""
    return bisect_left(LATENCY_BOUNDS_MS, latency_ms)


def empty_histogram() -> list[int]:
    return [0] * BUCKETS


def merge_histograms(histograms: Iterable[Sequence[int]]) -> list[int]:
    """The bucket-wise sum (a stored histogram may be shorter: missing buckets count 0)."""
    total = empty_histogram()
    for histogram in histograms:
        for index, count in enumerate(histogram):
            total[index] += count
    return total


def percentile_ms(histogram: Sequence[int], fraction: float) -> int | None:
    """The upper bound of the bucket holding the ``fraction`` quantile (0.5: p50), or ``None``
    when the histogram is empty. Above the last bound: the last bound."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = max(1, -(-int(total * fraction * 1_000_000) // 1_000_000))  # ceil without floats drifting
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return LATENCY_BOUNDS_MS[min(index, len(LATENCY_BOUNDS_MS) - 1)]
    return LATENCY_BOUNDS_MS[-1]


def hour_start(moment: datetime) -> datetime:
    """The start of the UTC hour holding ``moment`` (an aware datetime)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    """The start of the UTC day holding ``moment``, as a datetime."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _utc(moment: datetime) -> datetime:
    # Stored datetimes are aware (USE_TZ); a naive one can only mean UTC here.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _decimal(value: Decimal | int | str) -> Decimal:
    return value if type(value) is Decimal else Decimal(value)


# --- Sums of a batch of records, per rollup bucket -------------------------------------------

HOUR, DAY = "hour", "day"
ERROR_STATUS = "error"
TOKEN_KINDS: tuple[str, ...] = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
# The integer columns of a rollup row that a batch adds to (cost and histogram aside).
BUCKET_COUNTS: tuple[str, ...] = ("requests", "errors", "sticky", "fallbacks", *TOKEN_KINDS, "latency_count")
SUBJECT_COUNTS: tuple[str, ...] = ("requests", "errors", "tokens")


class UsageFacts(Protocol):
    """What a rollup reads of a usage record (a ``UsageRecord``, saved or not)."""

    at: datetime
    model_id: str
    provider: str
    catalog_source: str
    subject_key: str
    routed: bool
    router_tier: str
    category: str
    sticky: bool
    fallback: bool
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost: Decimal
    latency_ms: int | None
    status: str


class BucketKey(NamedTuple):
    """One rollup row: exactly the fields of its unique constraint (the provider follows from
    the model id, so it is carried in the sums, not the key)."""

    period: str
    bucket_start: datetime
    model_id: str
    catalog_source: str
    routed: bool
    router_tier: str
    category: str


class SubjectKey(NamedTuple):
    day: date
    subject_key: str


@dataclass
class BucketSums:
    provider: str
    requests: int = 0
    errors: int = 0
    sticky: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)
    latency_count: int = 0
    latency_histogram: list[int] = field(default_factory=empty_histogram)

    def add(self, record: UsageFacts) -> None:
        # Spelled out, not a loop over TOKEN_KINDS: this runs for every record written.
        self.requests += 1
        self.errors += int(record.status == ERROR_STATUS)
        self.sticky += int(bool(record.sticky))
        self.fallbacks += int(bool(record.fallback))
        self.input_tokens += int(record.input_tokens or 0)
        self.cached_input_tokens += int(record.cached_input_tokens or 0)
        self.cache_write_tokens += int(record.cache_write_tokens or 0)
        self.output_tokens += int(record.output_tokens or 0)
        self.reasoning_tokens += int(record.reasoning_tokens or 0)
        self.cost += _decimal(record.cost)
        if record.latency_ms is not None:
            self.latency_count += 1
            add_latency(self.latency_histogram, record.latency_ms)

    def merge(self, other: BucketSums) -> None:
        """Add another bucket's sums (the provider is kept)."""
        for name in BUCKET_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.cost += other.cost
        for index, latencies in enumerate(other.latency_histogram):
            if latencies:
                add_latency_count(self.latency_histogram, index, latencies)


@dataclass
class SubjectSums:
    requests: int = 0
    errors: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)

    def add(self, record: UsageFacts) -> None:
        self.requests += 1
        self.errors += int(record.status == ERROR_STATUS)
        self.tokens += int(record.input_tokens or 0) + int(record.output_tokens or 0)
        self.cost += _decimal(record.cost)


@dataclass
class BatchSums:
    """A batch of records summed per rollup row; the keys sorted (see ``sorted_buckets``)."""

    buckets: dict[BucketKey, BucketSums] = field(default_factory=dict)
    subjects: dict[SubjectKey, SubjectSums] = field(default_factory=dict)

    def sorted_buckets(self) -> list[tuple[BucketKey, BucketSums]]:
        # One order for every writer: concurrent upserts lock shared rows in the same order,
        # so they wait for each other instead of deadlocking.
        return sorted(self.buckets.items())

    def sorted_subjects(self) -> list[tuple[SubjectKey, SubjectSums]]:
        return sorted(self.subjects.items())


def add_latency(histogram: list[int], latency_ms: int) -> None:
    """Count one latency in ``histogram`` (in place; a shorter one is extended)."""
    add_latency_count(histogram, latency_bucket(latency_ms), 1)


def add_latency_count(histogram: list[int], index: int, count: int) -> None:
    """Add ``count`` latencies to bucket ``index`` of ``histogram`` (in place)."""
    if len(histogram) <= index:
        histogram.extend([0] * (index + 1 - len(histogram)))
    histogram[index] += count


def bucket_keys(record: UsageFacts) -> tuple[BucketKey, BucketKey]:
    """The hourly and the daily rollup row a record adds to."""
    hour = _hour_key(record)
    return hour, _day_key(hour)


def _hour_key(record: UsageFacts) -> BucketKey:
    return BucketKey(
        HOUR,
        hour_start(_utc(record.at)),
        str(record.model_id),
        str(record.catalog_source),
        bool(record.routed),
        str(record.router_tier or ""),
        str(record.category or ""),
    )


def _day_key(hour: BucketKey) -> BucketKey:
    return hour._replace(period=DAY, bucket_start=hour.bucket_start.replace(hour=0))


def sum_batch(records: Iterable[UsageFacts]) -> BatchSums:
    """The sums a batch of records adds to each rollup row: hourly and daily per dimensions, and
    daily per subject (records without a subject key count in no subject row)."""
    sums = BatchSums()
    hours: dict[BucketKey, BucketSums] = {}
    for record in records:
        hour = _hour_key(record)
        bucket = hours.get(hour)
        if bucket is None:
            bucket = hours[hour] = BucketSums(provider=str(record.provider))
        bucket.add(record)
        if record.subject_key:
            subject_key = SubjectKey(hour.bucket_start.date(), str(record.subject_key))
            subject = sums.subjects.get(subject_key)
            if subject is None:
                subject = sums.subjects[subject_key] = SubjectSums()
            subject.add(record)
    # A day's row is the sum of its hours' rows: each record is added once, not twice.
    for hour, bucket in hours.items():
        day = _day_key(hour)
        if day in sums.buckets:
            sums.buckets[day].merge(bucket)
        else:
            sums.buckets[day] = replace(bucket, latency_histogram=list(bucket.latency_histogram))
    sums.buckets.update(hours)
    return sums
