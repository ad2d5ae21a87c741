"""The usage dashboard's figures, read from the rollups only (never the raw records).

Every function takes a :class:`DateRange` of UTC dates, ``[start, end)``: ranges of at most
two days read the hourly rollups, longer ones the daily rollups. Sums are computed by the
database (``values`` + ``annotate(Sum)``, latency histograms bucket by bucket), a fixed number of
queries whatever the range's size; the per-group histograms are merged in Python (per model,
per provider, overall), and percentiles read from the merged histogram (exact to a bucket).
Money stays an exact ``Decimal`` throughout.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db import router as db_router
from django.db.models import IntegerField, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from models_registry.domain.usage_rollups import BUCKETS, merge_histograms, percentile_ms
from models_registry.usage.models import UsageRollup, UsageSubjectRollup

HOURLY_MAX_DAYS = 2  # up to this many days: hourly buckets (at most 48 points), then daily
MAX_RANGE_DAYS = 366  # bounds what one page may read
TOP_SUBJECTS = 20
ZERO = Decimal(0)

_SUMS = (
    "requests",
    "errors",
    "sticky",
    "fallbacks",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost",
)


def hourly_rollups_since() -> datetime:
    """The start of what ``prune_usage`` keeps of the hourly rollups."""
    days = int(getattr(settings, "USAGE_ROLLUP_RETENTION_DAYS", 400))
    if days <= 0:
        return datetime.min.replace(tzinfo=UTC)
    return timezone.now() - timedelta(days=days)


@dataclass(frozen=True)
class DateRange:
    """UTC dates ``[start, end)``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("The range must end after it starts.")
        if (self.end - self.start).days > MAX_RANGE_DAYS:
            raise ValueError(f"The range may span at most {MAX_RANGE_DAYS} days.")

    @classmethod
    def last_days(cls, days: int, today: date) -> DateRange:
        """The ``days`` days ending with ``today`` (included)."""
        return cls(today - timedelta(days=days - 1), today + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def period(self) -> str:
        """Hourly buckets for a short range, unless ``prune_usage`` has deleted its hourly rows
        (``USAGE_ROLLUP_RETENTION_DAYS``): then the daily ones, which are kept."""
        if self.days <= HOURLY_MAX_DAYS and self.start_at >= hourly_rollups_since():
            return "hour"
        return "day"

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.period == "hour" else timedelta(days=1)

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time(), tzinfo=UTC)

    @property
    def last_day(self) -> date:
        """The last date in the range (``end`` is excluded)."""
        return self.end - timedelta(days=1)


@dataclass
class Figures:
    """Sums over a set of rollup rows."""

    requests: int = 0
    errors: int = 0
    sticky: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = ZERO

    @property
    def tokens(self) -> int:
        # Input counts cached reads and cache writes; output counts reasoning (OpenAI's convention).
        return self.input_tokens + self.output_tokens

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def add(self, other: Figures) -> None:
        for name in _SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Figures:
        """From a ``values().annotate()`` row (a sum over no row is ``None``: zero)."""
        return cls(**{name: row.get(name) or (ZERO if name == "cost" else 0) for name in _SUMS})


@dataclass
class SeriesPoint:
    bucket_start: datetime
    figures: Figures


@dataclass
class UsageRow:
    """A line of the by-model or by-provider table."""

    key: str  # the model id, or the provider
    provider: str
    figures: Figures
    histogram: list[int] = field(default_factory=list, repr=False)
    models: int = 1  # by provider: how many models

    @property
    def p50_ms(self) -> int | None:
        return percentile_ms(self.histogram, 0.5) if self.histogram else None

    @property
    def p95_ms(self) -> int | None:
        return percentile_ms(self.histogram, 0.95) if self.histogram else None


@dataclass
class SubjectRow:
    subject_key: str
    requests: int
    errors: int
    tokens: int
    cost: Decimal

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass
class ShareRow:
    """One slice of the auto-router's traffic (a tier, a model or a category)."""

    key: str
    requests: int
    cost: Decimal
    share: float  # of the routed requests


@dataclass
class RouterReport:
    requests: int  # routed requests
    all_requests: int
    sticky: int
    fallbacks: int
    cost: Decimal
    by_tier: list[ShareRow]
    by_model: list[ShareRow]
    by_category: list[ShareRow]

    @property
    def routed_share(self) -> float | None:
        return self.requests / self.all_requests if self.all_requests else None

    @property
    def stickiness_rate(self) -> float | None:
        return self.sticky / self.requests if self.requests else None

    @property
    def fallback_rate(self) -> float | None:
        return self.fallbacks / self.requests if self.requests else None


@dataclass
class Dashboard:
    range: DateRange
    series: list[SeriesPoint]
    totals: Figures
    models: list[UsageRow]
    providers: list[UsageRow]
    subjects: list[SubjectRow]
    router: RouterReport

    @property
    def p50_ms(self) -> int | None:
        return percentile_ms(self._histogram, 0.5)

    @property
    def p95_ms(self) -> int | None:
        return percentile_ms(self._histogram, 0.95)

    @property
    def _histogram(self) -> list[int]:
        return merge_histograms(row.histogram for row in self.models)


def _rollups(span: DateRange) -> QuerySet[UsageRollup]:
    return UsageRollup.objects.filter(
        period=span.period, bucket_start__gte=span.start_at, bucket_start__lt=span.end_at
    )


def _sums(*names: str) -> dict[str, Sum]:
    return {name: Sum(name) for name in names or _SUMS}


def series(span: DateRange) -> list[SeriesPoint]:
    """Every bucket of the range in order, empty ones included (a chart shows the gaps as zero)."""
    rows = _rollups(span).values("bucket_start").annotate(**_sums()).order_by("bucket_start")
    found = {row["bucket_start"]: Figures.from_row(row) for row in rows}
    points, moment = [], span.start_at
    while moment < span.end_at:
        points.append(SeriesPoint(moment, found.get(moment) or Figures()))
        moment += span.step
    return points


def totals(points: Iterable[SeriesPoint]) -> Figures:
    total = Figures()
    for point in points:
        total.add(point.figures)
    return total


# The latency histograms are summed bucket by bucket in the database, in the same query as the
# other sums: fetching every row's JSON list to merge it in Python took seconds over a 90-day range.
# A row's bucket count is read as a 4-byte integer (one model's hour or day in one bucket stays far
# below 2**31): PostgreSQL sums those into an 8-byte integer, much faster than bigints into numerics
# (0.4 s instead of 0.7 s over the 98,000 daily rows of a 90-day range, in bench/usage_dashboard_bench).
_HISTOGRAM_SUMS = {
    f"latency_{index}": Sum(Cast(KeyTextTransform(str(index), "latency_histogram"), IntegerField()))
    for index in range(BUCKETS)
}


@dataclass
class Breakdown:
    """The range's sums per model, and the routed traffic by tier, category and model."""

    models: list[UsageRow]
    routed: list[dict[str, Any]]  # router_tier, category, model_id, requests, sticky, fallbacks, cost


def breakdown(span: DateRange) -> Breakdown:
    """One query: sums and histograms per (model, routed, tier, category), folded here per model."""
    rows = (
        _rollups(span)
        .values("model_id", "provider", "routed", "router_tier", "category")
        .annotate(**_sums(), **_HISTOGRAM_SUMS)
        .order_by()
    )
    models: dict[str, UsageRow] = {}
    histograms: dict[str, list[list[int]]] = defaultdict(list)
    routed: list[dict[str, Any]] = []
    for row in rows:
        figures = Figures.from_row(row)
        line = models.get(row["model_id"])
        if line is None:
            models[row["model_id"]] = line = UsageRow(row["model_id"], row["provider"], Figures())
        line.figures.add(figures)
        histograms[row["model_id"]].append([row[f"latency_{index}"] or 0 for index in range(BUCKETS)])
        if row["routed"]:
            routed.append(
                {
                    "router_tier": row["router_tier"],
                    "category": row["category"],
                    "model_id": row["model_id"],
                    "requests": figures.requests,
                    "sticky": figures.sticky,
                    "fallbacks": figures.fallbacks,
                    "cost": figures.cost,
                }
            )
    for model_id, found in histograms.items():
        merged = merge_histograms(found)
        models[model_id].histogram = merged if any(merged) else []
    ordered = sorted(models.values(), key=lambda row: (-row.figures.cost, -row.figures.requests, row.key))
    return Breakdown(models=ordered, routed=routed)


def by_model(span: DateRange) -> list[UsageRow]:
    """Per model, by cost (highest first): sums, and latency percentiles from merged histograms."""
    return breakdown(span).models


def by_provider(models: Iterable[UsageRow]) -> list[UsageRow]:
    """The by-model rows summed per provider (no query: a model has one provider)."""
    providers: dict[str, UsageRow] = {}
    for row in models:
        line = providers.get(row.provider)
        if line is None:
            providers[row.provider] = line = UsageRow(row.provider, row.provider, Figures(), models=0)
        line.figures.add(row.figures)
        line.models += 1
        if row.histogram:
            line.histogram = merge_histograms([line.histogram, row.histogram])
    return sorted(providers.values(), key=lambda row: (-row.figures.cost, -row.figures.requests, row.key))


_SUBJECT_SUMS = ("requests", "errors", "tokens", "cost")


def _subject_rows(rows: Iterable[dict[str, Any]]) -> list[SubjectRow]:
    return [
        SubjectRow(row["subject_key"], row["requests"], row["errors"], row["tokens"], row["cost"] or ZERO)
        for row in rows
    ]


def top_subjects(span: DateRange, limit: int = TOP_SUBJECTS) -> list[SubjectRow]:
    """The subjects that cost the most over the range (daily subject rollups), by cost.

    Summing every subject of a long range is millions of rows (50,000 subjects over 90 days), so the
    answer is found from each day's top subjects instead (:func:`_top_subjects_by_threshold`),
    exactly; the plain sum is the fallback, and the way on databases that cannot run it.
    """
    if span.days == 1:  # one row per subject and day: the day's top rows (the (day, cost) index)
        day = UsageSubjectRollup.objects.filter(day=span.start)
        return _subject_rows(
            day.values("subject_key", *_SUBJECT_SUMS).order_by("-cost", "subject_key")[:limit]
        )
    days = UsageSubjectRollup.objects.filter(day__gte=span.start, day__lt=span.end)
    if connections[days.db].features.supports_slicing_ordering_in_compound:
        found = _top_subjects_by_threshold(span, limit)
        if found is not None:
            return found
    rows = days.values("subject_key").annotate(**_sums(*_SUBJECT_SUMS)).order_by("-cost", "subject_key")
    return _subject_rows(rows[:limit])


THRESHOLD_ROUNDS = 3
THRESHOLD_MAX_READ = 50_000  # rows of the days' tops in one round; past it, the plain sum is cheaper
THRESHOLD_MAX_CANDIDATES = 5_000


def _top_subjects_by_threshold(span: DateRange, limit: int) -> list[SubjectRow] | None:
    """Fagin's threshold algorithm over the days: exact, or ``None`` when it gives up.

    Read each day's ``k`` costliest subjects (the (day, cost) index: one short scan per day, one
    query), then the exact totals of every subject seen (one query). A subject never seen costs at
    most, on each day, that day's ``k``-th cost: if the ``limit``-th exact total is above the sum of
    those, nobody unseen can enter the top. Otherwise ``k`` grows and the rounds repeat (at most
    ``THRESHOLD_ROUNDS``: two queries each), so the page stays bounded.
    """
    dates = [span.start + timedelta(days=offset) for offset in range(span.days)]
    k = 2 * limit
    for _ in range(THRESHOLD_ROUNDS):
        if k * len(dates) > THRESHOLD_MAX_READ:
            return None
        per_day = [
            UsageSubjectRollup.objects.filter(day=day)
            .order_by("-cost")
            .values_list("day", "subject_key", "cost")[:k]
            for day in dates
        ]
        seen = list(per_day[0].union(*per_day[1:], all=True))
        counts: dict[date, int] = defaultdict(int)
        lowest: dict[date, Decimal] = {}
        for day, _, cost in seen:
            counts[day] += 1
            lowest[day] = min(cost, lowest.get(day, cost))
        candidates = {key for _, key, _ in seen}
        if len(candidates) > THRESHOLD_MAX_CANDIDATES:
            return None
        # Exact totals; the (day, subject) pairs are looked up in the unique index, day by day.
        rows = _subject_rows(
            UsageSubjectRollup.objects.filter(day__in=dates, subject_key__in=sorted(candidates))
            .values("subject_key")
            .annotate(**_sums(*_SUBJECT_SUMS))
            .order_by("-cost", "subject_key")[:limit]
        )
        complete = [day for day in dates if counts[day] >= k]  # days that may hide more subjects
        if not complete:
            return rows  # every subject of the range was seen
        threshold = sum((lowest[day] for day in complete), ZERO)
        if len(rows) == limit and rows[-1].cost > threshold:
            return rows
        k *= 4
    return None


def router(span: DateRange, all_requests: int, found: Breakdown | None = None) -> RouterReport:
    """The auto-router's routed traffic: shares by tier, model and category; stickiness and fallbacks.

    ``all_requests``: every request of the range (routed or picked), for the routed share;
    ``found``: the range's :func:`breakdown`, when already read.
    """
    rows = (found or breakdown(span)).routed
    tiers: dict[str, list] = defaultdict(lambda: [0, ZERO])
    models: dict[str, list] = defaultdict(lambda: [0, ZERO])
    categories: dict[str, list] = defaultdict(lambda: [0, ZERO])
    requests = sticky = fallbacks = 0
    cost = ZERO
    for row in rows:
        count, spent = row["requests"] or 0, row["cost"] or ZERO
        requests += count
        sticky += row["sticky"] or 0
        fallbacks += row["fallbacks"] or 0
        cost += spent
        for table, key in (
            (tiers, row["router_tier"]),
            (models, row["model_id"]),
            (categories, row["category"]),
        ):
            table[key or "(none)"][0] += count
            table[key or "(none)"][1] += spent

    def shares(table: dict[str, list]) -> list[ShareRow]:
        lines = [
            ShareRow(key, count, spent, count / requests if requests else 0.0)
            for key, (count, spent) in table.items()
        ]
        return sorted(lines, key=lambda line: (-line.requests, line.key))

    return RouterReport(
        requests=requests,
        all_requests=all_requests,
        sticky=sticky,
        fallbacks=fallbacks,
        cost=cost,
        by_tier=shares(tiers),
        by_model=shares(models),
        by_category=shares(categories),
    )


def headline(today: date) -> Figures:
    """Today's (UTC) figures so far, from today's daily rollups: one small query."""
    start = datetime.combine(today, time(), tzinfo=UTC)
    found = UsageRollup.objects.filter(period="day", bucket_start=start).aggregate(
        **_sums("requests", "errors", "cost")
    )
    return Figures.from_row(found)


@contextmanager
def reading() -> Iterator[None]:
    """Where the dashboard's queries run: on PostgreSQL, one transaction without JIT compilation.

    Its aggregates over tens of thousands of rows pass the default JIT cost threshold, and compiling
    them took 100-250 ms per query, more than running them. ``SET LOCAL`` ends with the transaction.
    """
    alias = db_router.db_for_read(UsageRollup)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def dashboard(span: DateRange, *, subjects: int = TOP_SUBJECTS) -> Dashboard:
    """Everything the dashboard page shows, in a bounded number of queries (three or four, at most
    eight with a long range of evenly spread subjects) whatever the range or the data's size."""
    with reading():
        points = series(span)
        found = breakdown(span)
        top = top_subjects(span, subjects)
    total = totals(points)
    return Dashboard(
        range=span,
        series=points,
        totals=total,
        models=found.models,
        providers=by_provider(found.models),
        subjects=top,
        router=router(span, total.requests, found),
    )
