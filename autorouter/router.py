"""``route()``: the auto-router's public entry point, and the retry helpers.

Reads only from in-memory snapshots (the catalog from ``models_registry.registry``,
the router's config and profiles from :mod:`autorouter.state`): no query per
message in steady state, unless the decision log samples the decision. Decides
over the snapshot's routing index (:mod:`autorouter.routing_index`, built on the
first route after a rebuild): bounded work and a small decision whatever the
catalog's size.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings as django_settings
from django.db import DatabaseError

from models_registry import registry
from models_registry.domain.access import FREE, check_user_tier

from .classifier import DEFAULT_MAX_CLASSIFIED_CHARS, classify
from .decision import Decision
from .engine import decide
from .llm_classifier import LLMClassifierError, classify_with_llm
from .routing_index import decide_bounded, routing_index_for
from .scoring import NEUTRAL_BIAS
from .semantic import classify_semantic, embedder_error
from .state import RouterState, semantic_model, state_for
from .types import Classification

logger = logging.getLogger(__name__)

LOCAL, LLM, SEMANTIC = "local", "llm", "semantic"


def check_inputs(message: Any, exclude: Any) -> None:
    """Refuse what would silently route wrong: a message that is not text, ``exclude`` as one string."""
    if not isinstance(message, str):
        raise TypeError(f"route() needs the message as a str, not {type(message).__name__}")
    if isinstance(exclude, str | bytes):
        raise TypeError("exclude is a collection of model ids; wrap a single id in a list")


def _classify(
    message: str,
    state: RouterState,
    catalog_by_id: dict,
    *,
    classifier: str,
    previous_model_id: str | None,
    has_attachments: bool,
    context_tokens: int,
) -> tuple[Classification, str, str | None]:
    """(classification, classifier used, why the LLM classifier was not used)."""
    settings = state.settings
    fallback = None
    if classifier == LLM:
        router_model = catalog_by_id.get(settings.router_model_id)
        model_name = router_model.api_model_id if router_model else settings.router_model_id.split(":", 1)[-1]
        try:
            classification = classify_with_llm(
                message,
                settings=settings,
                model_name=model_name,
                base_url=getattr(django_settings, "AUTOROUTER_LLM_BASE_URL", ""),
                api_key=getattr(django_settings, "AUTOROUTER_LLM_API_KEY", ""),
                timeout=float(getattr(django_settings, "AUTOROUTER_LLM_TIMEOUT_SECONDS", 3)),
                previous_model_id=previous_model_id,
                has_attachments=has_attachments,
                context_tokens=context_tokens,
            )
            return classification, LLM, None
        except LLMClassifierError as exc:
            fallback = str(exc)
            logger.warning("autorouter: LLM classifier failed, using the local one: %s", fallback)
    elif classifier == SEMANTIC:
        model = semantic_model()
        if model is None:
            fallback = f"semantic classifier unavailable ({embedder_error() or 'no model'})"
        else:
            try:
                classification = classify_semantic(
                    message,
                    model=model,
                    settings=settings,
                    previous_model_id=previous_model_id,
                    has_attachments=has_attachments,
                    context_tokens=context_tokens,
                    max_chars=_max_classified_chars(),
                )
                return classification, SEMANTIC, None
            except Exception as exc:  # a classifier bug must not fail the chat message: keyword rules
                fallback = f"semantic classifier failed ({exc.__class__.__name__}: {exc})"
                logger.exception("autorouter: semantic classifier failed; keyword rules used")
    elif classifier != LOCAL:
        fallback = f"unknown classifier {classifier!r}"
    local = classify(
        message,
        settings=settings,
        previous_model_id=previous_model_id,
        has_attachments=has_attachments,
        context_tokens=context_tokens,
        max_chars=_max_classified_chars(),
    )
    return local, LOCAL, fallback


def classify_message(
    message: str,
    state: RouterState,
    *,
    classifier: str | None = None,
    has_attachments: bool = False,
    context_tokens: int = 0,
) -> Classification:
    """The classification ``route()`` would use for ``message`` (``AUTOROUTER_CLASSIFIER`` unless
    ``classifier`` is given), for calibration and evaluation."""
    classification, _, _ = _classify(
        message,
        state,
        catalog_for(state).by_id,
        classifier=_classifier(classifier),
        previous_model_id=None,
        has_attachments=has_attachments,
        context_tokens=context_tokens,
    )
    return classification


def catalog_for(state: RouterState, subject: Any = None) -> Any:
    """The catalog index a state routes over: a saved config or a draft over the saved catalog (what
    an editor tunes on the try page or the CLI); otherwise the subject's rollout decides. The index
    itself, not a list of its models: its tuple of models is the snapshot's identity, which keys the
    routing index."""
    return registry.catalog_index(
        subject=subject, source="database" if state.source in ("database", "draft") else None
    )


def _classifier(name: str | None) -> str:
    return name or getattr(django_settings, "AUTOROUTER_CLASSIFIER", SEMANTIC)


def _max_classified_chars() -> int:
    return int(getattr(django_settings, "AUTOROUTER_MAX_CLASSIFIED_CHARS", DEFAULT_MAX_CLASSIFIED_CHARS))


def route_with_state(
    state: RouterState,
    message: str,
    *,
    subject: Any = None,
    previous_model_id: str | None = None,
    has_attachments: bool = False,
    context_tokens: int = 0,
    cost_bias: int = NEUTRAL_BIAS,
    speed_bias: int = NEUTRAL_BIAS,
    exclude: Collection[str] = (),
    seed_key: str | None = None,
    classification: Classification | None = None,
    classifier: str | None = None,
    log: bool = True,
    exhaustive: bool = False,
    user_tier: str = FREE,
) -> Decision:
    """``route()`` with an explicit config state (the admin's try page, the CLI, retries).

    ``classification`` reuses an earlier one (retries do not classify again);
    ``classifier`` overrides ``AUTOROUTER_CLASSIFIER``. ``exhaustive=True`` checks and
    scores every model (:func:`.engine.decide`) and lists every candidate and exclusion:
    the same choice, in time and size growing with the catalog.
    """
    check_inputs(message, exclude)
    if check_user_tier(user_tier) is None:
        raise ValueError("route() serves a user: user_tier must be 'free' or 'pro'")
    catalog = catalog_for(state, subject)
    classifier_fallback = None
    if classification is None:
        classification, used, classifier_fallback = _classify(
            message,
            state,
            catalog.by_id,
            classifier=_classifier(classifier),
            previous_model_id=previous_model_id,
            has_attachments=has_attachments,
            context_tokens=context_tokens,
        )
    else:
        signals = classification.signals
        used = (
            LLM
            if "llm classifier" in signals
            else SEMANTIC
            if any(signal.startswith("semantic:") for signal in signals)
            else LOCAL
        )
    arguments: dict[str, Any] = {
        "classification": classification,
        "previous_model_id": previous_model_id,
        "context_tokens": context_tokens,
        "cost_bias": cost_bias,
        "speed_bias": speed_bias,
        "exclude": exclude,
        "seed_key": seed_key,
        "has_attachments": has_attachments,
        "source": state.source,
        "classifier": used,
        "classifier_fallback": classifier_fallback,
    }
    today = datetime.now(UTC).date()
    if exhaustive:
        decision = decide(
            message,
            catalog=catalog.models,
            profiles=state.profiles,
            settings=state.settings,
            today=today,
            user_tier=user_tier,
            **arguments,
        )
    else:
        index = routing_index_for(
            catalog.models, state.profiles, state.settings, day=today, user_tier=user_tier
        )
        decision = decide_bounded(message, index=index, **arguments)
    if log:
        decision = _maybe_log(decision)
    return decision


def route(
    message: str,
    *,
    subject: Any = None,
    previous_model_id: str | None = None,
    has_attachments: bool = False,
    context_tokens: int = 0,
    cost_bias: int = NEUTRAL_BIAS,
    speed_bias: int = NEUTRAL_BIAS,
    exclude: Collection[str] = (),
    seed_key: str | None = None,
    user_tier: str = FREE,
) -> Decision:
    """Pick the model for ``message``. Never raises for lack of a model (see ``Decision.fallback_reason``).

    ``subject`` (a user, user id or session key) decides through the
    ``use_db_router_config`` flag whether the saved config or the built-in
    defaults apply, and which catalog the registry serves. ``exclude`` lists
    models that already failed for this message. ``user_tier`` (``"free"``, the default, or
    ``"pro"``) applies the access rule: pro models only for pro users, never an internal-only
    one. Same inputs, config and ``seed_key`` give the same decision; without a key, one is
    derived from the message.
    """
    return route_with_state(
        state_for(subject),
        message,
        subject=subject,
        previous_model_id=previous_model_id,
        has_attachments=has_attachments,
        context_tokens=context_tokens,
        cost_bias=cost_bias,
        speed_bias=speed_bias,
        exclude=exclude,
        seed_key=seed_key,
        user_tier=user_tier,
    )


def next_candidate(
    message: str,
    *,
    failed: Collection[str],
    subject: Any = None,
    exclude: Collection[str] = (),
    classification: Classification | None = None,
    **route_kwargs: Any,
) -> Decision | None:
    """The decision for the next attempt once the models in ``failed`` have failed.

    ``None`` when the retries are used up (``len(failed) > max_retries``) or
    when the only thing left is a fallback model that already failed (or was excluded).
    """
    check_inputs(message, exclude)
    if isinstance(failed, str | bytes):
        raise TypeError("failed is a collection of model ids; wrap a single id in a list")
    state = state_for(subject)
    if len(failed) > state.settings.max_retries:
        return None
    decision = route_with_state(
        state,
        message,
        subject=subject,
        exclude={*exclude, *failed},
        classification=classification,
        **route_kwargs,
    )
    if decision.is_fallback and (decision.model_id in failed or decision.model_id in exclude):
        return None
    return decision


def attempts(message: str, **route_kwargs: Any) -> Iterator[Decision]:
    """Decisions to try in turn: the first choice, then one retry per failure, up to ``max_retries``.

    ::

        for decision in autorouter.attempts(text, subject=user):
            try:
                return call_model(decision.model_id)
            except ProviderError:
                continue  # the next decision excludes this model

    The message is classified once; retries reuse the classification.
    """
    failed: list[str] = []
    classification = None
    while (
        decision := next_candidate(message, failed=failed, classification=classification, **route_kwargs)
    ) is not None:
        classification = decision.classification
        yield decision
        failed.append(decision.model_id)


def _maybe_log(decision: Decision) -> Decision:
    """Log a sampled share of decisions; a logged one comes back with its ``log_id``."""
    rate = float(getattr(django_settings, "AUTOROUTER_DECISION_LOG_RATE", 0) or 0)
    if rate <= 0 or (rate < 1 and random.random() >= rate):
        return decision
    from .services import log_decision

    try:
        entry = log_decision(decision)
    except DatabaseError:
        logger.warning("autorouter: could not store a decision log entry", exc_info=True)
        return decision
    return dataclasses.replace(decision, log_id=entry.pk)
