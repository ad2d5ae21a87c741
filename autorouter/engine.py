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

:func:`decide` runs these steps over every model and lists every candidate and
exclusion (the admin's try page). ``route()`` runs them over a per-snapshot
index instead (:mod:`.routing_index`): same chosen model, bounded work, and a
decision that keeps the best candidates and counts the exclusions.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal
from operator import attrgetter
from types import MappingProxyType

from models_registry.domain.access import FREE, PRO
from models_registry.domain.types import SELECTABLE_STATUSES, ModelConfig

from .decision import (
    CONTEXT_WINDOW,
    EXCLUDED,
    IMAGE_GENERATION,
    INTERNAL_ONLY,
    NO_IMAGE_GENERATION,
    NO_PROFILE,
    NO_VISION,
    NOT_SELECTABLE,
    PRO_ONLY,
    REASONS,
    SHORT_CONTEXT,
    Candidate,
    Decision,
    Exclusion,
)
from .derived import with_derived_profiles
from .scoring import NEUTRAL_BIAS, context_for, features_for, score_points
from .tiers import message_key, nearest_tier, roll_for, tier_for_roll
from .types import TIERS, Classification, Profile, RouterSettings

_MODEL_ID = attrgetter("model_id")
_SCORE = attrgetter("score")


def required_context(context_tokens: int, settings: RouterSettings) -> int:
    """Smallest context window that fits ``context_tokens`` with the safety buffer."""
    return int((Decimal(context_tokens) * settings.context_buffer).to_integral_value(ROUND_CEILING))


def standing_exclusion(
    model: ModelConfig, *, profile: Profile | None, today: date | None, user_tier: str = FREE
) -> Exclusion | None:
    """The rules that do not depend on the message: status, deprecation date, internal only, pro
    only (the access rule of ``models_registry.domain.access``), profile.

    ``today`` is the UTC day deprecation dates are checked against (``None``: today).
    """
    if model.status not in SELECTABLE_STATUSES:
        return Exclusion(model.id, NOT_SELECTABLE, "status is {}", (model.status,))
    if model.deprecation_date is not None and model.is_past_deprecation(today or datetime.now(UTC).date()):
        return Exclusion(
            model.id, NOT_SELECTABLE, "deprecated since {}", (model.deprecation_date.isoformat(),)
        )
    if model.is_internal_only:
        return Exclusion(model.id, INTERNAL_ONLY, "internal only")
    if model.is_pro and user_tier != PRO:
        return Exclusion(model.id, PRO_ONLY, "pro model, the user is on the {} tier", (user_tier,))
    if profile is None:
        return Exclusion(model.id, NO_PROFILE, "no router profile: add one to route to it")
    return None


def fit_exclusion(
    model: ModelConfig, classification: Classification, settings: RouterSettings, *, needed_window: int
) -> Exclusion | None:
    """The rules that depend on the message: context window, vision, long context, image generation."""
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
    if classification.needs_image_generation and not model.supports_image_generation:
        return Exclusion(model.id, NO_IMAGE_GENERATION, "an image is asked for, model cannot generate images")
    if model.supports_image_generation and not classification.needs_image_generation:
        return Exclusion(model.id, IMAGE_GENERATION, "image-generation model, no image is asked for")
    return None


def exclusion_for(
    model: ModelConfig,
    classification: Classification,
    settings: RouterSettings,
    *,
    profile: Profile | None,
    exclude: Collection[str],
    needed_window: int,
    today: date | None = None,
    user_tier: str = FREE,
) -> Exclusion | None:
    """Why ``model`` may not serve this message (the first rule it fails), or ``None`` when it may."""
    if model.id in exclude:
        return Exclusion(model.id, EXCLUDED, "excluded by the caller (already failed)")
    standing = standing_exclusion(model, profile=profile, today=today, user_tier=user_tier)
    if standing is not None:
        return standing
    return fit_exclusion(model, classification, settings, needed_window=needed_window)


def check_arguments(cost_bias: int, speed_bias: int, context_tokens: int) -> None:
    if not 0 <= cost_bias <= 100 or not 0 <= speed_bias <= 100:
        raise ValueError("cost_bias and speed_bias run from 0 to 100")
    if context_tokens < 0:
        raise ValueError("context_tokens cannot be negative")


def counted(counts: Mapping[str, int]) -> Mapping[str, int]:
    """Exclusions per reason, the rules' order, reasons with none left out."""
    return MappingProxyType({reason: counts[reason] for reason in REASONS if counts.get(reason)})


def pick_tier(
    classification: Classification, settings: RouterSettings, roll: Decimal, available: Collection[str]
) -> tuple[str | None, str]:
    """The tier to choose in and why: premium for high stakes, else by difficulty (or the roll, in
    ``"roll"`` mode); the nearest non-empty one."""
    weights = settings.weights_for(classification.complexity)
    if classification.high_stakes:
        wanted, reason = "premium", f"high-stakes: {classification.domain}"
    elif settings.tier_mode == "difficulty":
        wanted, reason = tier_for_difficulty(classification.difficulty, settings)
    else:
        wanted = tier_for_roll(weights, roll)
        reason = f"roll {roll} with {classification.complexity} weights " + "/".join(
            f"{weights[t].normalize():f}" for t in TIERS
        )
    tier = nearest_tier(wanted, available, weights)
    if tier is None:
        return None, "no eligible model"
    if tier != wanted:
        reason += f"; {wanted} is empty, nearest is {tier}"
    return tier, reason


def tier_for_difficulty(difficulty: float, settings: RouterSettings) -> tuple[str, str]:
    """The tier of a difficulty, and why: the harder the message, never the cheaper the tier."""
    value = Decimal(str(difficulty))
    if value >= settings.premium_difficulty:
        return "premium", f"difficulty {difficulty:.3f} >= premium threshold {settings.premium_difficulty}"
    if value >= settings.mid_difficulty:
        return "mid", (
            f"difficulty {difficulty:.3f} >= mid threshold {settings.mid_difficulty}, "
            f"< premium threshold {settings.premium_difficulty}"
        )
    return "cheap", f"difficulty {difficulty:.3f} < mid threshold {settings.mid_difficulty}"


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
    derived = chosen.profile.derived
    return (
        f"{what}. {eligible_count} eligible, {excluded_count} left out. Tier {tier} ({tier_reason}); "
        f"{chosen.model_id} has the best score there: {chosen.score:.1f} ({top})."
        + (f" Its profile is derived ({derived}): no editor has profiled it yet." if derived else "")
    )


def build_decision(
    message: str,
    *,
    settings: RouterSettings,
    classification: Classification,
    chosen: Candidate | None,
    sticky: bool,
    tier: str | None,
    tier_reason: str,
    fallback_reason: str | None,
    model: ModelConfig | None,
    candidates: tuple[Candidate, ...],
    excluded: tuple[Exclusion, ...],
    eligible_count: int,
    excluded_counts: Mapping[str, int],
    roll: Decimal,
    seed_key: str,
    inputs: dict,
    source: str,
    classifier: str,
    classifier_fallback: str | None,
) -> Decision:
    """The decision of either path (exhaustive or bounded), its explanation included."""
    explanation = _explain(
        chosen=chosen,
        classification=classification,
        sticky=sticky,
        tier=tier,
        tier_reason=tier_reason,
        fallback_reason=fallback_reason,
        fallback_id=settings.fallback_model_id,
        eligible_count=eligible_count,
        excluded_count=sum(excluded_counts.values()),
    )
    if classifier_fallback:
        explanation += f" (LLM classifier unavailable: {classifier_fallback}; used the local classifier.)"
    return Decision(
        model_id=chosen.model_id if chosen is not None else settings.fallback_model_id,
        model=model,
        classification=classification,
        classifier=classifier,
        classifier_fallback=classifier_fallback,
        sticky=sticky,
        tier=tier,
        roll=roll,
        tier_reason=tier_reason,
        candidates=candidates,
        excluded=excluded,
        eligible_count=eligible_count,
        excluded_counts=excluded_counts,
        fallback_reason=fallback_reason,
        explanation=explanation,
        source=source,
        seed_key=seed_key,
        max_retries=settings.max_retries,
        message_length=len(message),
        message_sha256=hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest(),
        inputs=inputs,
    )


def inputs_of(
    *,
    previous_model_id: str | None,
    has_attachments: bool,
    context_tokens: int,
    cost_bias: int,
    speed_bias: int,
    exclude: Collection[str],
    seed_key: str | None,
    user_tier: str = FREE,
) -> dict:
    return {
        "user_tier": user_tier,
        "previous_model_id": previous_model_id,
        "has_attachments": has_attachments,
        "context_tokens": context_tokens,
        "cost_bias": cost_bias,
        "speed_bias": speed_bias,
        "exclude": sorted(exclude),
        "seed_key": seed_key,
    }


def fallback_reason_for(catalog_size: int, excluded_count: int) -> str:
    return f"No eligible model ({excluded_count} left out)" if catalog_size else "The catalog is empty"


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
    today: date | None = None,
    user_tier: str = FREE,
) -> Decision:
    """Route one message over ``catalog``, checking and scoring every model. Never raises for lack of a model.

    The decision lists every candidate and every exclusion (the admin's try page shows them);
    ``route()`` takes the bounded path instead (:mod:`.routing_index`), which chooses the same model.
    ``today`` is the UTC day deprecation dates are checked against (default: today).
    """
    check_arguments(cost_bias, speed_bias, context_tokens)
    exclude = frozenset(exclude)
    key = seed_key if seed_key is not None else message_key(message)
    roll = roll_for(key)
    needed_window = required_context(context_tokens, settings)
    if today is None:
        today = datetime.now(UTC).date()

    catalog = list(catalog)
    profiles = with_derived_profiles(catalog, profiles, settings)  # a new model is routable at once
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
            model,
            classification,
            settings,
            profile=profile,
            exclude=exclude,
            needed_window=needed_window,
            today=today,
            user_tier=user_tier,
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
        tier, tier_reason = pick_tier(
            classification, settings, roll, {candidate.tier for candidate in candidates}
        )
        if tier is None:
            fallback_reason = fallback_reason_for(len(catalog), len(excluded))
        else:
            chosen = next(candidate for candidate in candidates if candidate.tier == tier)

    if chosen is not None:
        model = chosen.model
    else:
        model = next((model for model in catalog if model.id == settings.fallback_model_id), None)
    return build_decision(
        message,
        settings=settings,
        classification=classification,
        chosen=chosen,
        sticky=sticky,
        tier=tier,
        tier_reason=tier_reason,
        fallback_reason=fallback_reason,
        model=model,
        candidates=tuple(candidates),
        excluded=tuple(excluded),
        eligible_count=len(candidates),
        excluded_counts=counted(Counter(exclusion.reason for exclusion in excluded)),
        roll=roll,
        seed_key=key,
        inputs=inputs_of(
            previous_model_id=previous_model_id,
            has_attachments=has_attachments,
            context_tokens=context_tokens,
            cost_bias=cost_bias,
            speed_bias=speed_bias,
            exclude=exclude,
            seed_key=seed_key,
            user_tier=user_tier,
        ),
        source=source,
        classifier=classifier,
        classifier_fallback=classifier_fallback,
    )
