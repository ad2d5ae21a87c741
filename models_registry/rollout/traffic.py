"""Real traffic of the current rollout stage: the database catalog's side vs the static one.

Reads the usage records (``UsageRecord``, indexed by ``at``) made since the flag's latest
change, summed per ``catalog_source`` in one grouped query whatever the number of rows, and
judges them with :func:`models_registry.domain.rollout_traffic.compare_traffic` against the
``ROLLOUT_MAX_ERROR_RATE_DELTA``, ``ROLLOUT_MAX_COST_PER_TOKEN_RATIO`` and
``ROLLOUT_MIN_TRAFFIC_REQUESTS`` settings. ``rollout advance``, ``rollout status`` and the
rollout page all read it from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import BigIntegerField, Count, ExpressionWrapper, F, FloatField, Q, Sum, Value
from django.db.models.functions import Cast, Round

from models_registry.audit.history import records_of
from models_registry.domain.rollout_traffic import (
    DATABASE,
    STATIC,
    SideTotals,
    TrafficComparison,
    TrafficThresholds,
    compare_traffic,
    format_rate,
)
from models_registry.domain.values import format_money
from models_registry.rollout.models import RolloutFlag
from models_registry.usage.models import UsageRecord


@dataclass(frozen=True, slots=True)
class StageTraffic:
    """The comparison of the current stage, with when the stage began (``None``: never changed)."""

    since: datetime | None
    comparison: TrafficComparison

    def sides(self) -> list[dict[str, Any]]:
        """Each side as display values: database first (``rollout status`` and the rollout page)."""
        return [
            {
                "name": name,
                "requests": side.requests,
                "errors": side.errors,
                "error_rate": format_rate(side.error_rate),
                "tokens": side.tokens,
                "cost": format_money(side.cost),
                "cost_per_1k_tokens": format_money(side.cost_per_1k_tokens) or "-",
            }
            for name, side in ((DATABASE, self.comparison.database), (STATIC, self.comparison.static))
        ]


def _setting(name: str, default: Any, kind: Callable[[str], Any]) -> Any:
    value = getattr(settings, name, default)
    try:
        number = kind(str(value).strip())
    except (ValueError, ArithmeticError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if isinstance(number, Decimal) and not number.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return number


def thresholds() -> TrafficThresholds:
    """The gate's thresholds from the settings (``ValueError`` for values that cannot work)."""
    result = TrafficThresholds(
        max_error_rate_delta=_setting("ROLLOUT_MAX_ERROR_RATE_DELTA", "0.02", Decimal),
        max_cost_per_token_ratio=_setting("ROLLOUT_MAX_COST_PER_TOKEN_RATIO", "1.10", Decimal),
        min_requests=_setting("ROLLOUT_MIN_TRAFFIC_REQUESTS", 200, int),
    )
    if result.min_requests < 1:
        raise ValueError("ROLLOUT_MIN_TRAFFIC_REQUESTS must be at least 1: no traffic is no evidence")
    if result.max_error_rate_delta < 0 or result.max_cost_per_token_ratio <= 0:
        raise ValueError("ROLLOUT_MAX_ERROR_RATE_DELTA must be >= 0 and ROLLOUT_MAX_COST_PER_TOKEN_RATIO > 0")
    return result


def stage_started_at(flag_name: str) -> datetime | None:
    """When the flag last changed (the current stage's start), or ``None`` if it never did."""
    flag = RolloutFlag.objects.filter(name=flag_name).first()
    if flag is None:
        return None
    return records_of(flag).order_by("-version").values_list("at", flat=True).first()


def side_totals(since: datetime | None) -> dict[str, SideTotals]:
    """Requests, errors, tokens and cost per catalog source of the records at or after ``since``.

    One query (GROUP BY catalog_source) on the ``at`` index; a side without records is all zeros.
    """
    rows = UsageRecord.objects.filter(catalog_source__in=(DATABASE, STATIC))
    if since is not None:
        rows = rows.filter(at__gte=since)
    sums = (
        rows.order_by()  # the model's default ordering would join the GROUP BY
        .values("catalog_source")
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=Q(status="error")),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost=_cost_sum(rows.db),
        )
    )
    totals = {DATABASE: SideTotals(), STATIC: SideTotals()}
    for row in sums:
        totals[row["catalog_source"]] = SideTotals(
            requests=row["requests"],
            errors=row["errors"],
            tokens=(row["input_tokens"] or 0) + (row["output_tokens"] or 0),
            cost=_as_decimal(row["cost"]),
        )
    return totals


# SQLite stores decimals as floats and sums them as floats (2.74999999999996 for 1,000 times 0.00275),
# which would move a cost exactly at the threshold over it. There, each cost is summed as whole
# picodollars (the field's 12 places): exact while one call costs under ~9,000 USD. PostgreSQL's
# numeric sum is exact as it is.
_PICO = 10**12


def _cost_sum(alias: str) -> Sum:
    if connections[alias].vendor != "sqlite":
        return Sum("cost")
    picodollars = ExpressionWrapper(F("cost") * Value(_PICO), output_field=FloatField())
    return Sum(Cast(Round(picodollars), BigIntegerField()))


def _as_decimal(total: Decimal | int | None) -> Decimal:
    if total is None:
        return Decimal(0)
    return total if isinstance(total, Decimal) else Decimal(total).scaleb(-12)


def compare_since(since: datetime | None) -> TrafficComparison:
    totals = side_totals(since)
    return compare_traffic(totals[DATABASE], totals[STATIC], thresholds())


def stage_traffic(flag_name: str) -> StageTraffic:
    """The database side vs the static side since ``flag_name`` last changed."""
    since = stage_started_at(flag_name)
    return StageTraffic(since=since, comparison=compare_since(since))
