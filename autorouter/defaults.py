"""Built-in defaults: the router parameters of the seed design and the profile fixture.

They serve subjects for whom the ``use_db_router_config`` flag is off, they
seed the database (``seed_autorouter``, ``seed_model_profiles``), and they are
what "reset to defaults" restores. No ORM here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from .types import CATEGORIES, COMPLEXITIES, TIER_MODES, TIERS, Profile, RouterSettings

PROFILES_FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "model_profiles.json"

# The seed's DEFAULT_CONFIG (document 003, step 4), plus four parameters that
# the seed design hard-coded in its scoring code (marked "not in the seed").
DEFAULT_SETTINGS = RouterSettings(
    stickiness_bonus=25.0,
    reasoning_bonus=15.0,
    research_bonus=25.0,
    simple_penalty=0.7,
    complex_boost_threshold=85,
    complex_boost_multiplier=1.2,
    cheap_threshold=Decimal("1.0"),
    mid_threshold=Decimal("5.0"),
    tier_weights={
        "simple": {"cheap": Decimal("0.6"), "mid": Decimal("0.25"), "premium": Decimal("0.15")},
        "moderate": {"cheap": Decimal("0.5"), "mid": Decimal("0.3"), "premium": Decimal("0.2")},
        "complex": {"cheap": Decimal("0.3"), "mid": Decimal("0.4"), "premium": Decimal("0.3")},
    },
    speed_bonuses=(
        ("cerebras", 12.0),
        ("groq", 10.0),
        ("flash", 8.0),
        ("fast", 8.0),
        ("nano", 10.0),
        ("lite", 10.0),
        ("lightning", 12.0),
        ("thinking", -5.0),
        ("extended-thinking", -8.0),
    ),
    router_model_id="openai:gpt-oss-120b",
    max_retries=3,
    context_buffer=Decimal("1.2"),
    long_context_threshold=128_000,
    high_stakes_domains=(
        "medical",
        "legal",
        "financial",
        "safety",
        "mental_health",
        "privacy",
        "immigration",
        "domestic_abuse",
    ),
    # not in the seed: the model returned when nothing is eligible
    fallback_model_id="openai:gpt-5-mini",
    # not in the seed: share of the secondary category's score added to the primary's
    secondary_share=0.3,
    # not in the seed: cost penalty at cost_bias 50 for a model at or above the mid threshold
    cost_penalty_points=10.0,
    # not in the seed: providers whose models search the web (research bonus)
    research_providers=("perplexity",),
)


class ProfileFixtureError(ValueError):
    pass


def parse_profile(entry: Mapping[str, Any]) -> tuple[str, Profile]:
    """One fixture entry → ``(model_id, Profile)``; raises ``ProfileFixtureError`` naming the model."""
    model_id = entry.get("model_id")
    if not isinstance(model_id, str) or ":" not in model_id:
        raise ProfileFixtureError(f"bad model id {model_id!r}")
    scores = entry.get("scores")
    if not isinstance(scores, Mapping) or set(scores) != set(CATEGORIES):
        raise ProfileFixtureError(f"{model_id}: scores must have exactly the keys {', '.join(CATEGORIES)}")
    values = {"quality": entry.get("quality"), **scores}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise ProfileFixtureError(f"{model_id}: {name} must be an integer from 0 to 100")
    return model_id, Profile(quality=entry["quality"], scores=dict(scores))


def load_profiles_file(path: str | Path) -> dict[str, Profile]:
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    profiles: dict[str, Profile] = {}
    for entry in document.get("profiles", []):
        model_id, profile = parse_profile(entry)
        if model_id in profiles:
            raise ProfileFixtureError(f"{model_id}: listed twice")
        profiles[model_id] = profile
    return profiles


@lru_cache(maxsize=1)
def default_profiles() -> Mapping[str, Profile]:
    """The project's profile fixture (``fixtures/model_profiles.json``), parsed once per process."""
    from types import MappingProxyType

    return MappingProxyType(load_profiles_file(PROFILES_FIXTURE))


def settings_errors(settings: RouterSettings) -> dict[str, list[str]]:
    """Field → problems, for the rules that need no database (the model's ``clean()`` adds the rest)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name in ("stickiness_bonus", "reasoning_bonus", "research_bonus", "cost_penalty_points"):
        if getattr(settings, name) < 0:
            add(name, "Must be zero or more.")
    for name in ("simple_penalty", "complex_boost_multiplier"):
        if getattr(settings, name) <= 0:
            add(name, "A multiplier must be greater than 0.")
    if not 0 <= settings.complex_boost_threshold <= 100:
        add("complex_boost_threshold", "A quality score from 0 to 100.")
    if settings.cheap_threshold < 0:
        add("cheap_threshold", "Must be zero or more.")
    if settings.cheap_threshold >= settings.mid_threshold:
        add("mid_threshold", "The cheap threshold must be lower than the mid threshold.")
    for complexity in COMPLEXITIES:
        weights = settings.tier_weights.get(complexity, {})
        if any(weights.get(tier, Decimal(0)) < 0 for tier in TIERS):
            add(f"{complexity}_weights", f"{complexity.capitalize()} weights must be zero or more.")
        elif sum((weights.get(tier, Decimal(0)) for tier in TIERS), Decimal(0)) != 1:
            add(f"{complexity}_weights", f"{complexity.capitalize()} weights must add up to 1.")
    if settings.tier_mode not in TIER_MODES:
        add("tier_mode", f"One of {', '.join(TIER_MODES)}.")
    if not 0 <= settings.mid_difficulty <= settings.premium_difficulty <= 1:
        add("premium_difficulty", "Difficulties from 0 to 1, the mid threshold at most the premium one.")
    if settings.context_buffer < 1:
        add("context_buffer", "Must be at least 1 (1.2 = a 20% safety margin).")
    if settings.max_retries < 0:
        add("max_retries", "Must be zero or more.")
    if settings.long_context_threshold <= 0:
        add("long_context_threshold", "Must be a positive number of tokens.")
    if not 0 <= settings.secondary_share <= 1:
        add("secondary_share", "A share from 0 to 1.")
    patterns = [pattern for pattern, _ in settings.speed_bonuses]
    if any(not pattern.strip() or pattern != pattern.lower() for pattern in patterns):
        add("speed_bonuses", "Patterns must be non-empty and lower case.")
    if len(set(patterns)) != len(patterns):
        add("speed_bonuses", "A pattern is listed twice.")
    for name in ("high_stakes_domains", "research_providers"):
        values = getattr(settings, name)
        if any(not value or value != value.strip().lower() or " " in value for value in values):
            add(name, "Use lower-case names without spaces (e.g. mental_health).")
        if len(set(values)) != len(values):
            add(name, "A name is listed twice.")
    return errors
