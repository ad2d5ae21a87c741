"""Latency histograms of usage rollups: fixed bucket bounds, so any sum of rollups has exact
bucket counts and its percentiles are exact to a bucket. Pure Python, no ORM.

A histogram is a list of ``len(LATENCY_BOUNDS_MS) + 1`` counts: bucket ``i`` counts latencies
``<= LATENCY_BOUNDS_MS[i]`` (and above the previous bound); the last bucket counts the rest.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

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
