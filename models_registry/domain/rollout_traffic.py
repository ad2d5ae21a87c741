"""The rollout's traffic gate: the database catalog's side vs the static one, on real usage. Pure, no ORM.

Each side is summed over the usage records of the current stage (requests, errors, tokens,
cost). The database side fails the gate when, with at least ``min_requests`` on each side,

- its error rate is more than ``max_error_rate_delta`` (absolute) above the static side's, or
- its cost per 1,000 tokens is more than ``max_cost_per_token_ratio`` times the static side's.

Only "worse" counts: fewer errors or a lower price on the database side is what a catalog fix
or a price drop looks like, not a reason to stop. Below the minimum on either side there is no
evidence either way, and that is a problem of its own ("not enough traffic to judge").
Comparisons are exact (fractions and cross-multiplied decimals), so a value on the threshold
passes on every database.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from models_registry.domain.values import format_money

DATABASE, STATIC = "database", "static"
PER_TOKENS = 1000  # costs are shown and compared per 1,000 tokens
_EXACT_DIGITS = 80  # decimal precision for products of sums: more than any stored cost needs
# Cost per 1k tokens is kept to the stored costs' own precision (12 places: a token can cost 1e-9 USD).
_PLACES = Decimal("1e-12")


@dataclass(frozen=True, slots=True)
class SideTotals:
    """One side's usage since the stage began: what the gate compares."""

    requests: int = 0
    errors: int = 0
    tokens: int = 0  # input + output (input includes cached and cache-write, output reasoning)
    cost: Decimal = Decimal(0)  # USD

    @property
    def error_rate(self) -> Fraction | None:
        return Fraction(self.errors, self.requests) if self.requests else None

    @property
    def cost_per_1k_tokens(self) -> Decimal | None:
        """USD per 1,000 tokens, to 12 decimal places like the stored costs (the gate compares exactly)."""
        if not self.tokens:
            return None
        with localcontext() as context:
            context.prec = _EXACT_DIGITS
            return (self.cost * PER_TOKENS / self.tokens).quantize(_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class TrafficThresholds:
    max_error_rate_delta: Decimal  # absolute: 0.02 lets the database side have 2 points more errors
    max_cost_per_token_ratio: Decimal  # 1.10: the database side may cost at most 10% more per token
    min_requests: int  # on each side, before anything is judged


@dataclass(frozen=True, slots=True)
class TrafficComparison:
    database: SideTotals
    static: SideTotals
    thresholds: TrafficThresholds
    enough_traffic: bool
    problems: tuple[str, ...]  # in words; empty when the database side passes

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        """One line for an operator: pass, not enough traffic, or what is wrong."""
        if self.ok:
            return "pass: the database side is within the thresholds"
        if not self.enough_traffic:
            return self.problems[0]
        return "refuse: " + "; ".join(self.problems)


def format_rate(rate: Fraction | None) -> str:
    """A rate as "1.23%" ("-" when there is none)."""
    return "-" if rate is None else f"{float(rate) * 100:.2f}%"


def compare_traffic(
    database: SideTotals, static: SideTotals, thresholds: TrafficThresholds
) -> TrafficComparison:
    """Judge the database side against the static one (see the module's docstring)."""
    minimum = thresholds.min_requests
    if database.requests < minimum or static.requests < minimum:
        problem = (
            f"not enough traffic to judge ({database.requests} database, {static.requests} static "
            f"requests since the stage began; at least {minimum} each)"
        )
        return TrafficComparison(database, static, thresholds, False, (problem,))
    problems: list[str] = []
    # Both sides have requests here (minimum >= 1 is enforced where the settings are read).
    database_rate, static_rate = database.error_rate, static.error_rate
    assert database_rate is not None and static_rate is not None
    delta = Fraction(thresholds.max_error_rate_delta)
    if database_rate - static_rate > delta:
        problems.append(
            f"the database side's error rate is {format_rate(database_rate)} ({database.errors} of "
            f"{database.requests}) against {format_rate(static_rate)} on the static side ({static.errors} of "
            f"{static.requests}): more than {format_rate(delta)} above it"
        )
    problems += _cost_problems(database, static, thresholds.max_cost_per_token_ratio)
    return TrafficComparison(database, static, thresholds, True, tuple(problems))


def _cost_problems(database: SideTotals, static: SideTotals, max_ratio: Decimal) -> list[str]:
    # Enough requests without a single token means the recording is broken: no evidence on cost.
    empty = [name for name, side in ((DATABASE, database), (STATIC, static)) if not side.tokens]
    if empty:
        sides = f"{' and '.join(empty)} side{'s' if len(empty) > 1 else ''}"
        return [f"no tokens recorded on the {sides}: the cost per token cannot be compared"]
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        # database.cost / database.tokens > max_ratio * static.cost / static.tokens, without dividing.
        database_scaled, static_scaled = database.cost * static.tokens, static.cost * database.tokens
        if database_scaled <= max_ratio * static_scaled:
            return []
        ratio = f"{database_scaled / static_scaled:.2f} times" if static_scaled else "infinitely more than"
    return [
        f"the database side costs {format_money(database.cost_per_1k_tokens)} USD per 1,000 tokens, "
        f"{ratio} the static side's {format_money(static.cost_per_1k_tokens)}; "
        f"at most {format_money(max_ratio)} times is allowed"
    ]
