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

Every term is computed in one place (:func:`score_points`), as a flat tuple
of floats; the human-readable breakdown (:func:`describe`) is built from
those numbers only when someone reads it, so scoring 5,000 models allocates
little. What does not depend on the message (price tier, cost ratio, speed
points) is computed once per model and config (:func:`features_for`).

Pure Python, no ORM. Scores are floats; prices stay ``Decimal`` until the
cost ratio is taken.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any, NamedTuple

from models_registry.domain.types import ModelConfig

from .tiers import tier_of
from .types import Classification, Profile, RouterSettings

NEUTRAL_BIAS = 50
TERM_NAMES: tuple[str, ...] = ("category", "complexity", "cost", "speed", "sticky", "reasoning", "research")


class Term(NamedTuple):
    """One term of a score: its name, its points and how they were found.

    The description is formatted only when read (``detail``).
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


class Features(NamedTuple):
    """What the router knows about a model under a config, whatever the message."""

    average_price: Decimal
    tier: str
    cost_ratio: float  # min(1, average price / mid threshold)
    speed_points: float  # sum of the matching speed-bonus patterns' points
    speed_matches: tuple[tuple[str, float], ...]
    thinks: bool
    researches: bool


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


def model_features(model: ModelConfig, settings: RouterSettings) -> Features:
    average = model.pricing_at()[0].average  # in force now: a scheduled price counts from its time
    mid = settings.mid_threshold
    matches = tuple(speed_matches(model, settings))
    return Features(
        average_price=average,
        tier=tier_of(average, settings),
        cost_ratio=1.0 if mid <= 0 or average >= mid else float(average / mid),
        speed_points=float(sum(points for _, points in matches)),
        speed_matches=matches,
        thinks=model.supports_thinking,
        researches=model.provider in settings.research_providers,
    )


# settings object → {model id → (model, prices in force, features)}; a few configs at most are
# live at once (the database's and the defaults during a rollout), older ones are dropped.
_FEATURE_CACHES: list[tuple[RouterSettings, dict[str, tuple[ModelConfig, Any, Features]]]] = []
_FEATURE_CACHES_KEPT = 4
_lock = threading.Lock()


def _cache_for(settings: RouterSettings) -> dict[str, tuple[ModelConfig, Any, Features]]:
    for cached_settings, cache in _FEATURE_CACHES:
        if cached_settings is settings:
            return cache
    with _lock:
        cache = {}
        _FEATURE_CACHES.insert(0, (settings, cache))
        del _FEATURE_CACHES[_FEATURE_CACHES_KEPT:]
    return cache


def features_for(model: ModelConfig, settings: RouterSettings) -> Features:
    """``model_features``, computed once per model object, prices in force and settings object."""
    cache = _cache_for(settings)
    entry = cache.get(model.id)
    # The prices in force are part of the key: a scheduled price takes effect with no write, and
    # the model object (kept across incremental catalog reloads) stays the same.
    in_force = model.pricing_at()[0] if model.price_schedule else model.pricing
    if entry is not None and entry[0] is model and entry[1] is in_force:
        return entry[2]
    features = model_features(model, settings)
    cache[model.id] = (model, in_force, features)
    return features


class Context(NamedTuple):
    """The per-message factors of the formula, computed once per decision."""

    classification: Classification
    settings: RouterSettings
    previous_model_id: str | None
    cost_bias: int
    speed_bias: int
    secondary_share: float  # 0 when there is no secondary category
    complexity_factor: float  # applied to strong models: simple_penalty - 1, boost - 1, or 0
    cost_factor: float
    speed_factor: float
    reasoning_points: float
    research_points: float


def context_for(
    classification: Classification,
    settings: RouterSettings,
    *,
    previous_model_id: str | None = None,
    cost_bias: int = NEUTRAL_BIAS,
    speed_bias: int = NEUTRAL_BIAS,
) -> Context:
    complexity = classification.complexity
    return Context(
        classification=classification,
        settings=settings,
        previous_model_id=previous_model_id,
        cost_bias=cost_bias,
        speed_bias=speed_bias,
        secondary_share=settings.secondary_share if classification.secondary is not None else 0.0,
        complexity_factor=(
            settings.simple_penalty - 1
            if complexity == "simple"
            else settings.complex_boost_multiplier - 1
            if complexity == "complex"
            else 0.0
        ),
        cost_factor=-settings.cost_penalty_points * (cost_bias / NEUTRAL_BIAS),
        speed_factor=speed_bias / NEUTRAL_BIAS,
        reasoning_points=settings.reasoning_bonus if classification.needs_reasoning else 0.0,
        research_points=settings.research_bonus if classification.primary == "research" else 0.0,
    )


def score_points(model_id: str, profile: Profile, features: Features, ctx: Context) -> tuple[float, ...]:
    """The points of every term, in ``TERM_NAMES`` order: the formula of the module docstring."""
    scores = profile.scores
    category = float(scores.get(ctx.classification.primary, 0))
    if ctx.secondary_share:
        category += ctx.secondary_share * scores.get(ctx.classification.secondary, 0)
    return (
        category,
        category * ctx.complexity_factor if profile.quality >= ctx.settings.complex_boost_threshold else 0.0,
        ctx.cost_factor * features.cost_ratio,
        ctx.speed_factor * features.speed_points,
        ctx.settings.stickiness_bonus if model_id == ctx.previous_model_id else 0.0,
        ctx.reasoning_points if features.thinks else 0.0,
        ctx.research_points if features.researches else 0.0,
    )


def _speed_names(matches: tuple[tuple[str, float], ...]) -> str:
    return ", ".join(f"{pattern} {points:+g}" for pattern, points in matches)


def describe(
    points: tuple[float, ...], profile: Profile, features: Features, ctx: Context
) -> tuple[Term, ...]:
    """The non-zero terms of ``points`` (the category always), each with how it was found."""
    c, s = ctx.classification, ctx.settings
    terms = []
    for name, value in zip(TERM_NAMES, points, strict=True):
        if not value and name != "category":
            continue
        if name == "category":
            if ctx.secondary_share:
                why, args = (
                    "{} {} + {:g} x {} {}",
                    (
                        c.primary,
                        profile.score(c.primary),
                        ctx.secondary_share,
                        c.secondary,
                        profile.score(c.secondary),
                    ),
                )
            else:
                why, args = "{} {}", (c.primary, profile.score(c.primary))
        elif name == "complexity":
            multiplier = s.simple_penalty if c.complexity == "simple" else s.complex_boost_multiplier
            why, args = (
                "{} message, quality {} >= {}: x {:g}",
                (
                    c.complexity,
                    profile.quality,
                    s.complex_boost_threshold,
                    multiplier,
                ),
            )
        elif name == "cost":
            why, args = "avg ${:f}/1M, cost bias {}", (features.average_price.normalize(), ctx.cost_bias)
        elif name == "speed":
            why, args = "{}; speed bias {}", (_speed_names(features.speed_matches), ctx.speed_bias)
        elif name == "sticky":
            why, args = "previous model", ()
        elif name == "reasoning":
            why, args = "needs reasoning, model thinks", ()
        else:
            why, args = "research task, provider searches the web", ()
        terms.append(Term(name, value, why, args))
    return tuple(terms)
