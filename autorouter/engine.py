"""The routing pipeline as a pure function: classification in, decision out. No ORM, no I/O.

Steps (the README's "How a model is chosen"):

1. the caller classified the message;
2. eligibility: every catalog model is checked against the rules below, and
   the first rule a model fails is recorded as the reason it was left out;
3. stickiness: when the classifier says "keep" and the previous model is
   eligible, it is kept (high-stakes messages included);
4. scoring: every eligible model is scored term by term (:mod:`.scoring`);
5. tier: eligible models are split into cheap / mid / premium by average
   price; a high-stakes message wants premium, any other message rolls a
   tier with its complexity's weights from the seed key; an empty tier falls
   back to the nearest non-empty one (:mod:`.tiers`);
6. the highest score in the tier wins, ties by model id;
7. nothing eligible: the configured fallback model, with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from operator import attrgetter

from models_registry.domain.types import SELECTABLE_STATUSES, ModelConfig

from .decision import (
    CONTEXT_WINDOW,
    EXCLUDED,
    IMAGE_GENERATION,
    INTERNAL_ONLY,
    NO_PROFILE,
    NO_VISION,
    NOT_SELECTABLE,
    SHORT_CONTEXT,
    Candidate,
    Decision,
    Exclusion,
)
from .scoring import NEUTRAL_BIAS, context_for, features_for, score_points
from .tiers import message_key, nearest_tier, roll_for, tier_for_roll
from .types import TIERS, Classification, Profile, RouterSettings

_MODEL_ID = attrgetter("model_id")
_SCORE = attrgetter("score")


def required_context(context_tokens: int, settings: RouterSettings) -> int:
    """Smallest context window that fits ``context_tokens`` with the safety buffer."""
    return int((Decimal(context_tokens) * settings.context_buffer).to_integral_value(ROUND_CEILING))


def exclusion_for(
    model: ModelConfig,
    classification: Classification,
    settings: RouterSettings,
    *,
    profile: Profile | None,
    exclude: Collection[str],
    needed_window: int,
) -> Exclusion | None:
    """Why ``model`` may not serve this message, or ``None`` when it may."""
    if model.id in exclude:
        return Exclusion(model.id, EXCLUDED, "excluded by the caller (already failed)")
    if model.status not in SELECTABLE_STATUSES:
        return Exclusion(model.id, NOT_SELECTABLE, "status is {}", (model.status,))
    if model.deprecation_date is not None and model.is_past_deprecation(datetime.now(UTC).date()):
        return Exclusion(
            model.id, NOT_SELECTABLE, "deprecated since {}", (model.deprecation_date.isoformat(),)
        )
    if model.is_internal_only:
        return Exclusion(model.id, INTERNAL_ONLY, "internal only")
    if profile is None:
        return Exclusion(model.id, NO_PROFILE, "no router profile: add one to route to it")
    if model.context_window < needed_window:
        return Exclusion(
            model.id,
            CONTEXT_WINDOW,
            "context window {:,} < {:,} needed",
            (model.context_window, needed_window),
        )
    if classification.needs_vision and not model.supports_vision:
        return Exclusion(model.id, NO_VISION, "message has images, model has no vision")
    if classification.needs_long_context and model.context_window < settings.long_context_threshold:
        return Exclusion(
            model.id,
            SHORT_CONTEXT,
            "long context needed, window {:,} < {:,}",
            (model.context_window, settings.long_context_threshold),
        )
    if model.supports_image_generation and classification.primary != "multimodal":
        return Exclusion(model.id, IMAGE_GENERATION, "image-generation model, task is not multimodal")
    return None


def _explain(
    *,
    chosen: Candidate | None,
    classification: Classification,
    sticky: bool,
    tier: str | None,
    tier_reason: str,
    fallback_reason: str | None,
    fallback_id: str,
    eligible_count: int,
    excluded_count: int,
) -> str:
    what = f"{classification.complexity} {classification.primary}"
    if classification.secondary:
        what += f"/{classification.secondary}"
    what += " message"
    if classification.high_stakes:
        what += f", high-stakes ({classification.domain})"
    if fallback_reason is not None:
        return f"{what}. {fallback_reason}; using the fallback model {fallback_id}."
    assert chosen is not None
    if sticky:
        return (
            f"{what}. The classifier said keep and {chosen.model_id} is still eligible, "
            f"so the conversation stays on it."
        )
    top = ", ".join(f"{term.name} {term.points:+.1f}" for term in chosen.terms)
    return (
        f"{what}. {eligible_count} eligible, {excluded_count} left out. Tier {tier} ({tier_reason}); "
        f"{chosen.model_id} has the best score there: {chosen.score:.1f} ({top})."
    )


def decide(
    message: str,
    *,
    catalog: Iterable[ModelConfig],
    profiles: Mapping[str, Profile],
    settings: RouterSettings,
    classification: Classification,
    previous_model_id: str | None = None,
    context_tokens: int = 0,
    cost_bias: int = NEUTRAL_BIAS,
    speed_bias: int = NEUTRAL_BIAS,
    exclude: Collection[str] = (),
    seed_key: str | None = None,
    has_attachments: bool = False,
    source: str = "defaults",
    classifier: str = "local",
    classifier_fallback: str | None = None,
) -> Decision:
    """Route one message over ``catalog``. Deterministic; never raises for lack of a model."""
    if not 0 <= cost_bias <= 100 or not 0 <= speed_bias <= 100:
        raise ValueError("cost_bias and speed_bias run from 0 to 100")
    if context_tokens < 0:
        raise ValueError("context_tokens cannot be negative")
    exclude = frozenset(exclude)
    key = seed_key if seed_key is not None else message_key(message)
    roll = roll_for(key)
    needed_window = required_context(context_tokens, settings)

    catalog = list(catalog)
    context = context_for(
        classification,
        settings,
        previous_model_id=previous_model_id,
        cost_bias=cost_bias,
        speed_bias=speed_bias,
    )
    candidates: list[Candidate] = []
    excluded: list[Exclusion] = []
    for model in catalog:
        profile = profiles.get(model.id)
        exclusion = exclusion_for(
            model, classification, settings, profile=profile, exclude=exclude, needed_window=needed_window
        )
        if exclusion is not None:
            excluded.append(exclusion)
            continue
        assert profile is not None
        features = features_for(model, settings)
        points = score_points(model.id, profile, features, context)
        candidates.append(
            Candidate(model, features.tier, features.average_price, points, profile, features, context)
        )
    # Best score first, ties by model id: two stable sorts, no key tuples to allocate.
    candidates.sort(key=_MODEL_ID)
    candidates.sort(key=_SCORE, reverse=True)
    excluded.sort(key=_MODEL_ID)

    weights = settings.weights_for(classification.complexity)
    chosen: Candidate | None = None
    sticky = False
    tier: str | None = None
    fallback_reason: str | None = None
    if classification.action == "keep" and previous_model_id is not None:
        chosen = next((c for c in candidates if c.model_id == previous_model_id), None)
        if chosen is not None:
            sticky = True
            tier = chosen.tier
            tier_reason = "sticky: previous model kept"
    if chosen is None:
        if classification.high_stakes:
            wanted, tier_reason = "premium", f"high-stakes: {classification.domain}"
        else:
            wanted = tier_for_roll(weights, roll)
            tier_reason = f"roll {roll} with {classification.complexity} weights " + "/".join(
                f"{weights[t].normalize():f}" for t in TIERS
            )
        available = {candidate.tier for candidate in candidates}
        tier = nearest_tier(wanted, available, weights)
        if tier is None:
            fallback_reason = (
                f"No eligible model ({len(excluded)} left out)" if catalog else "The catalog is empty"
            )
            tier_reason = "no eligible model"
        else:
            if tier != wanted:
                tier_reason += f"; {wanted} is empty, nearest is {tier}"
            chosen = next(candidate for candidate in candidates if candidate.tier == tier)

    model_id = chosen.model_id if chosen is not None else settings.fallback_model_id
    if chosen is not None:
        model = chosen.model
    else:
        model = next((model for model in catalog if model.id == model_id), None)
    explanation = _explain(
        chosen=chosen,
        classification=classification,
        sticky=sticky,
        tier=tier,
        tier_reason=tier_reason,
        fallback_reason=fallback_reason,
        fallback_id=settings.fallback_model_id,
        eligible_count=len(candidates),
        excluded_count=len(excluded),
    )
    if classifier_fallback:
        explanation += f" (LLM classifier unavailable: {classifier_fallback}; used the local classifier.)"
    return Decision(
        model_id=model_id,
        model=model,
        classification=classification,
        classifier=classifier,
        classifier_fallback=classifier_fallback,
        sticky=sticky,
        tier=tier,
        roll=roll,
        tier_reason=tier_reason,
        candidates=tuple(candidates),
        excluded=tuple(excluded),
        fallback_reason=fallback_reason,
        explanation=explanation,
        source=source,
        seed_key=key,
        max_retries=settings.max_retries,
        message_length=len(message),
        message_sha256=hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest(),
        inputs={
            "previous_model_id": previous_model_id,
            "has_attachments": has_attachments,
            "context_tokens": context_tokens,
            "cost_bias": cost_bias,
            "speed_bias": speed_bias,
            "exclude": sorted(exclude),
            "seed_key": seed_key,
        },
    )
