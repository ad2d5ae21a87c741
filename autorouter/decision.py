"""The router's answer: the chosen model and everything needed to explain and reproduce it.

Never holds the message text: only its length and SHA-256, so a decision can
be logged or shown without leaking what the user wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from models_registry.domain.types import ModelConfig, format_money

from .scoring import Context, Features, Term, describe
from .types import Classification, Profile

# Why a model was left out (``Exclusion.reason``).
EXCLUDED = "excluded"
NOT_SELECTABLE = "status"
INTERNAL_ONLY = "internal_only"
PRO_ONLY = "pro_only"
NO_PROFILE = "no_profile"
CONTEXT_WINDOW = "context_window"
NO_VISION = "vision"
SHORT_CONTEXT = "long_context"
NO_IMAGE_GENERATION = "no_image_generation"
IMAGE_GENERATION = "image_generation"
# The rules in the order they are checked: a model is left out for the first one it fails.
REASONS: tuple[str, ...] = (
    EXCLUDED,
    NOT_SELECTABLE,
    INTERNAL_ONLY,
    PRO_ONLY,
    NO_PROFILE,
    CONTEXT_WINDOW,
    NO_VISION,
    SHORT_CONTEXT,
    NO_IMAGE_GENERATION,
    IMAGE_GENERATION,
)


class Candidate:
    """An eligible model with its tier, score and the points of each term.

    ``terms`` (the breakdown with descriptions) is built from ``points`` when
    read: a large catalog is scored without formatting thousands of strings.
    """

    __slots__ = (
        "_context",
        "_features",
        "_profile",
        "average_price",
        "model",
        "model_id",
        "points",
        "score",
        "tier",
    )

    def __init__(
        self,
        model: ModelConfig,
        tier: str,
        average_price: Decimal,
        points: tuple[float, ...],
        profile: Profile,
        features: Features,
        context: Context,
    ) -> None:
        self.model = model
        self.model_id = model.id
        self.tier = tier
        self.average_price = average_price
        self.points = points
        self.score = sum(points)
        self._profile = profile
        self._features = features
        self._context = context

    @property
    def terms(self) -> tuple[Term, ...]:
        return describe(self.points, self._profile, self._features, self._context)

    @property
    def profile(self) -> Profile:
        return self._profile

    def __repr__(self) -> str:
        return f"Candidate({self.model_id!r}, tier={self.tier!r}, score={self.score:.2f})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "tier": self.tier,
            "average_price": format_money(self.average_price),
            "score": round(self.score, 4),
            "terms": [term.to_dict() for term in self.terms],
            # Set when the router derived the model's profile (no editor has written one yet).
            "derived_profile": self._profile.derived or None,
        }


class Exclusion(NamedTuple):
    """A catalog model that was not eligible, and why (the first rule it failed)."""

    model_id: str
    reason: str
    why: str
    args: tuple = ()

    @property
    def detail(self) -> str:
        return self.why.format(*self.args) if self.args else self.why

    def to_dict(self) -> dict[str, str]:
        return {"model_id": self.model_id, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Decision:
    model_id: str
    model: ModelConfig | None
    classification: Classification
    classifier: str  # "semantic", "local" (keyword rules) or "llm"
    classifier_fallback: str | None  # why the LLM classifier was not used, when it was configured
    sticky: bool
    tier: str | None
    roll: Decimal
    tier_reason: str
    # Ranked: best score first, ties by model id. Every eligible model from the exhaustive
    # ``decide()``; from ``route()`` the best ones, plus the chosen and previous models if lower.
    candidates: tuple[Candidate, ...]
    # By model id. Every left-out model from ``decide()``; from ``route()`` only the models the
    # caller named (``exclude``, the previous model): the others are counted in ``excluded_counts``.
    excluded: tuple[Exclusion, ...]
    eligible_count: int  # every eligible model, listed in ``candidates`` or not
    excluded_counts: Mapping[str, int]  # reason → models left out for it (rules' order, no zeros)
    fallback_reason: str | None  # set when nothing was eligible and the fallback model was returned
    explanation: str
    source: str  # where the router's config came from: "database" or "defaults"
    seed_key: str
    max_retries: int
    message_length: int
    message_sha256: str
    inputs: dict[str, Any]
    # The DecisionLog row's id when this decision was logged (sampled), for the chat app to pass
    # to ``registry.record_usage(decision=...)``; not part of ``to_dict()`` (logged before it exists).
    log_id: int | None = None

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None

    @property
    def chosen(self) -> Candidate | None:
        for candidate in self.candidates:
            if candidate.model_id == self.model_id:
                return candidate
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: strings, numbers, booleans, lists and dicts only."""
        return {
            "model_id": self.model_id,
            "model": self.model.to_dict() if self.model is not None else None,
            "classification": self.classification.to_dict(),
            "classifier": self.classifier,
            "classifier_fallback": self.classifier_fallback,
            "sticky": self.sticky,
            "tier": self.tier,
            "roll": str(self.roll),
            "tier_reason": self.tier_reason,
            "candidates": [candidate.to_dict() for candidate in self.candidates],
            "excluded": [exclusion.to_dict() for exclusion in self.excluded],
            "eligible_count": self.eligible_count,
            "excluded_counts": dict(self.excluded_counts),
            "fallback_reason": self.fallback_reason,
            "explanation": self.explanation,
            "source": self.source,
            "seed_key": self.seed_key,
            "max_retries": self.max_retries,
            "message_length": self.message_length,
            "message_sha256": self.message_sha256,
            "inputs": dict(self.inputs),
        }
