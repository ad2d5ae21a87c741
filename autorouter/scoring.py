"""Scoring: every configured term, kept term by term so a decision can show its arithmetic.

For an eligible model *m* with profile *p*, a classification *c* and settings *s*
(``strong`` means ``p.quality >= s.complex_boost_threshold``)::

    category   = p[c.primary] + s.secondary_share * p[c.secondary]     (no secondary: 0)
    complexity = category * (s.simple_penalty - 1)             if c is simple  and strong
               = category * (s.complex_boost_multiplier - 1)   if c is complex and strong
               = 0                                             otherwise
    cost       = -s.cost_penalty_points * (cost_bias / 50) * min(1, avg_price(m) / s.mid_threshold)
    speed      = (speed_bias / 50) * sum of the points of the speed-bonus patterns matching m
    sticky     = s.stickiness_bonus   if m is the previous model
    reasoning  = s.reasoning_bonus    if c.needs_reasoning and m supports thinking
    research   = s.research_bonus     if c.primary is research and m's provider is in s.research_providers
    score      = category + complexity + cost + speed + sticky + reasoning + research

``avg_price`` is the mean of the input and output prices (USD per 1M tokens).
A speed-bonus pattern matches when it occurs in the model's id or name
("flash", "nano", "-thinking" variants) or equals its primary (first) host
("cerebras", "groq"); each pattern counts once.
``cost_bias`` and ``speed_bias`` run from 0 to 100; 50 applies the configured
points as they are, 0 turns the term off, 100 doubles it.

Pure Python, no ORM. Scores are floats; prices stay ``Decimal`` until the
cost ratio is taken.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from models_registry.types import ModelConfig

from .types import Classification, Profile, RouterSettings

NEUTRAL_BIAS = 50


class Term(NamedTuple):
    """One term of a score: its name, its points and how they were found.

    The description is formatted only when read (``detail``), so scoring a
    large catalog does not format thousands of strings nobody looks at.
    """

    name: str
    points: float
    why: str
    args: tuple = ()

    @property
    def detail(self) -> str:
        return self.why.format(*self.args) if self.args else self.why

    def to_dict(self) -> dict:
        return {"name": self.name, "points": round(self.points, 4), "detail": self.detail}


def speed_matches(model: ModelConfig, settings: RouterSettings) -> list[tuple[str, float]]:
    """The speed-bonus patterns that apply to ``model`` (sorted by pattern)."""
    model_id = model.id.lower()
    name = model.name.lower()
    host = model.host_order[0].lower() if model.host_order else None
    return [
        (pattern, points)
        for pattern, points in settings.speed_bonuses
        if pattern == host or pattern in model_id or pattern in name
    ]


def _speed_names(matches: list[tuple[str, float]]) -> str:
    return ", ".join(f"{pattern} {points:+g}" for pattern, points in matches)


def score_model(
    model: ModelConfig,
    profile: Profile,
    classification: Classification,
    settings: RouterSettings,
    *,
    previous_model_id: str | None = None,
    cost_bias: int = NEUTRAL_BIAS,
    speed_bias: int = NEUTRAL_BIAS,
    average_price: Decimal | None = None,
) -> tuple[float, tuple[Term, ...]]:
    """The score of ``model`` and its terms (see the module docstring for the formula).

    ``average_price`` may be passed when the caller already computed it.
    """
    primary = profile.scores.get(classification.primary, 0)
    secondary = classification.secondary
    category = float(primary)
    if secondary is not None and settings.secondary_share:
        secondary_score = profile.scores.get(secondary, 0)
        category += settings.secondary_share * secondary_score
        terms = [
            Term(
                "category",
                category,
                "{} {} + {:g} x {} {}",
                (classification.primary, primary, settings.secondary_share, secondary, secondary_score),
            )
        ]
    else:
        terms = [Term("category", category, "{} {}", (classification.primary, primary))]

    if profile.quality >= settings.complex_boost_threshold:
        if classification.complexity == "simple":
            terms.append(
                Term(
                    "complexity",
                    category * (settings.simple_penalty - 1),
                    "simple message, quality {} >= {}: x {:g}",
                    (profile.quality, settings.complex_boost_threshold, settings.simple_penalty),
                )
            )
        elif classification.complexity == "complex":
            terms.append(
                Term(
                    "complexity",
                    category * (settings.complex_boost_multiplier - 1),
                    "complex message, quality {} >= {}: x {:g}",
                    (profile.quality, settings.complex_boost_threshold, settings.complex_boost_multiplier),
                )
            )

    if settings.cost_penalty_points and cost_bias:
        average = model.pricing.average if average_price is None else average_price
        mid = settings.mid_threshold
        ratio = 1.0 if mid <= 0 or average >= mid else float(average / mid)
        points = -settings.cost_penalty_points * (cost_bias / NEUTRAL_BIAS) * ratio
        if points:
            terms.append(Term("cost", points, "avg ${:f}/1M, cost bias {}", (average.normalize(), cost_bias)))

    if speed_bias and settings.speed_bonuses:
        matches = speed_matches(model, settings)
        if matches:
            total = sum(points for _, points in matches) * (speed_bias / NEUTRAL_BIAS)
            terms.append(
                Term("speed", total, "{}; speed bias {}", (_LazyText(_speed_names, matches), speed_bias))
            )

    if settings.stickiness_bonus and previous_model_id is not None and model.id == previous_model_id:
        terms.append(Term("sticky", settings.stickiness_bonus, "previous model"))
    if settings.reasoning_bonus and classification.needs_reasoning and model.supports_thinking:
        terms.append(Term("reasoning", settings.reasoning_bonus, "needs reasoning, model thinks"))
    if (
        settings.research_bonus
        and classification.primary == "research"
        and model.provider in settings.research_providers
    ):
        terms.append(
            Term("research", settings.research_bonus, "research task, {} searches", (model.provider,))
        )

    score = 0.0
    for term in terms:
        score += term.points
    return score, tuple(terms)


class _LazyText:
    """A string built on first ``str()``: keeps formatting out of the scoring loop."""

    __slots__ = ("args", "build")

    def __init__(self, build, *args) -> None:
        self.build = build
        self.args = args

    def __format__(self, spec: str) -> str:
        return format(self.build(*self.args), spec)
