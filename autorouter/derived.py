"""Profiles for the models nobody has profiled yet, so a new model is routable from its first day.

A model added by form, import, duplicate or sync has no ``ModelProfile``; without one the router
would never choose it. Until an editor writes one, it gets a **derived** profile, by the first
rule that applies (pure, deterministic; the rule is named in the profile, hence in decisions):

1. **the same model elsewhere**: a profiled model with the same id after its provider prefix
   (``azure:gpt-5`` takes ``openai:gpt-5``'s; among several, the first-party one, then by id);
2. **its provider, same price tier**: the mean of the provider's profiled models in the model's
   price tier (cheap / mid / premium, by the router's thresholds);
3. **its price tier**: the mean of every profiled model in that tier;
4. **a neutral default**: quality 50 and 50 in every category.

Means are rounded half up to whole points. An editor's profile always wins; the derived one is
marked ``Profile.derived`` (the rule that made it) so decisions and the admin can say so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from models_registry.domain.types import ModelConfig

from .scoring import features_for
from .types import CATEGORIES, Profile, RouterSettings

NEUTRAL_POINTS = 50


def _mean(values: Sequence[int]) -> int:
    return int((Decimal(sum(values)) / len(values)).to_integral_value(ROUND_HALF_UP))


def _mean_profile(profiles: Sequence[Profile], derived: str) -> Profile:
    return Profile(
        quality=_mean([profile.quality for profile in profiles]),
        scores={
            category: _mean([profile.score(category) for profile in profiles]) for category in CATEGORIES
        },
        derived=derived,
    )


def _tail(model_id: str) -> str:
    return model_id.partition(":")[2] or model_id


def with_derived_profiles(
    models: Sequence[ModelConfig], profiles: Mapping[str, Profile], settings: RouterSettings
) -> Mapping[str, Profile]:
    """``profiles`` plus a derived profile for every model of ``models`` that has none."""
    missing = [model for model in models if model.id not in profiles]
    if not missing:
        return profiles
    by_id = {model.id: model for model in models}
    profiled = [(by_id[model_id], profiles[model_id]) for model_id in sorted(profiles) if model_id in by_id]
    same_model: dict[str, list[tuple[ModelConfig, Profile]]] = defaultdict(list)
    by_provider_tier: dict[tuple[str, str], list[Profile]] = defaultdict(list)
    by_tier: dict[str, list[Profile]] = defaultdict(list)
    for model, profile in profiled:
        tier = features_for(model, settings).tier
        same_model[_tail(model.id)].append((model, profile))
        by_provider_tier[(model.provider, tier)].append(profile)
        by_tier[tier].append(profile)

    completed = dict(profiles)
    tier_means: dict[str, Profile] = {}
    for model in missing:
        twins = same_model.get(_tail(model.id))
        if twins:
            twin, profile = min(twins, key=lambda pair: (not pair[0].provider_first_party, pair[0].id))
            completed[model.id] = Profile(profile.quality, profile.scores, derived=f"same model as {twin.id}")
            continue
        tier = features_for(model, settings).tier
        siblings = by_provider_tier.get((model.provider, tier))
        if siblings:
            completed[model.id] = _mean_profile(
                siblings, f"mean of {len(siblings)} {model.provider} {tier}-tier profile(s)"
            )
            continue
        if tier in by_tier:
            if tier not in tier_means:
                tier_means[tier] = _mean_profile(
                    by_tier[tier], f"mean of {len(by_tier[tier])} {tier}-tier profile(s)"
                )
            completed[model.id] = tier_means[tier]
            continue
        completed[model.id] = Profile(
            NEUTRAL_POINTS, dict.fromkeys(CATEGORIES, NEUTRAL_POINTS), derived="neutral default"
        )
    return MappingProxyType(completed)
