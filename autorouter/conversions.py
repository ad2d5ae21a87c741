"""Mapping between the router's rows and its plain read types. No queries here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .types import CATEGORIES, COMPLEXITIES, TIERS, Profile, RouterSettings

if TYPE_CHECKING:
    from .models import ModelProfile, RouterConfig


def _weight_field(complexity: str, tier: str) -> str:
    return f"{complexity}_{tier}_weight"


def settings_from_row(row: RouterConfig) -> RouterSettings:
    """The read view of the config row (points as floats, prices and weights as ``Decimal``)."""
    return RouterSettings(
        stickiness_bonus=float(row.stickiness_bonus),
        reasoning_bonus=float(row.reasoning_bonus),
        research_bonus=float(row.research_bonus),
        simple_penalty=float(row.simple_penalty),
        complex_boost_threshold=int(row.complex_boost_threshold),
        complex_boost_multiplier=float(row.complex_boost_multiplier),
        cheap_threshold=row.cheap_threshold,
        mid_threshold=row.mid_threshold,
        tier_weights={
            complexity: {tier: getattr(row, _weight_field(complexity, tier)) for tier in TIERS}
            for complexity in COMPLEXITIES
        },
        speed_bonuses=tuple((str(pattern), float(points)) for pattern, points in row.speed_bonuses.items()),
        router_model_id=row.router_model_id,
        fallback_model_id=row.fallback_model_id,
        max_retries=int(row.max_retries),
        context_buffer=row.context_buffer,
        long_context_threshold=int(row.long_context_threshold),
        high_stakes_domains=tuple(row.high_stakes_domains),
        secondary_share=float(row.secondary_share),
        cost_penalty_points=float(row.cost_penalty_points),
        research_providers=tuple(row.research_providers),
        tier_mode=row.tier_mode,
        mid_difficulty=row.mid_difficulty,
        premium_difficulty=row.premium_difficulty,
    )


def _number(value: float) -> int | float:
    """Whole numbers as ints, so JSON and the admin show 12, not 12.0."""
    return int(value) if float(value).is_integer() else value


def field_values_from_settings(settings: RouterSettings) -> dict[str, Any]:
    """``RouterConfig`` column values for ``settings`` (FKs by model id)."""
    from decimal import Decimal

    values: dict[str, Any] = {
        "stickiness_bonus": Decimal(str(settings.stickiness_bonus)),
        "reasoning_bonus": Decimal(str(settings.reasoning_bonus)),
        "research_bonus": Decimal(str(settings.research_bonus)),
        "simple_penalty": Decimal(str(settings.simple_penalty)),
        "complex_boost_threshold": settings.complex_boost_threshold,
        "complex_boost_multiplier": Decimal(str(settings.complex_boost_multiplier)),
        "cheap_threshold": settings.cheap_threshold,
        "mid_threshold": settings.mid_threshold,
        "cost_penalty_points": Decimal(str(settings.cost_penalty_points)),
        "speed_bonuses": {pattern: _number(points) for pattern, points in settings.speed_bonuses},
        "secondary_share": Decimal(str(settings.secondary_share)),
        "research_providers": list(settings.research_providers),
        "router_model_id": settings.router_model_id,
        "fallback_model_id": settings.fallback_model_id,
        "max_retries": settings.max_retries,
        "context_buffer": settings.context_buffer,
        "long_context_threshold": settings.long_context_threshold,
        "high_stakes_domains": list(settings.high_stakes_domains),
        "tier_mode": settings.tier_mode,
        "mid_difficulty": settings.mid_difficulty,
        "premium_difficulty": settings.premium_difficulty,
    }
    for complexity in COMPLEXITIES:
        for tier in TIERS:
            values[_weight_field(complexity, tier)] = settings.tier_weights[complexity][tier]
    return values


def profile_from_row(row: ModelProfile) -> Profile:
    return Profile(quality=row.quality, scores={category: getattr(row, category) for category in CATEGORIES})


def field_values_from_profile(profile: Profile) -> dict[str, int]:
    return {"quality": profile.quality, **{category: profile.score(category) for category in CATEGORIES}}
