"""Plain read types of the router: its settings, model profiles and classifications.

No ORM here. The database rows (``RouterConfig``, ``ModelProfile``) and the
built-in defaults are both turned into these, so the routing logic cannot tell
which source served it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

# The snapshot area of the router's config and profiles: their writes rebuild the router's
# snapshot only, never the catalog's.
ROUTER_AREA = "router"

CATEGORIES: tuple[str, ...] = (
    "coding",
    "reasoning",
    "creative",
    "factual",
    "analysis",
    "conversation",
    "multimodal",
    "research",
)
COMPLEXITIES: tuple[str, ...] = ("simple", "moderate", "complex")
TIERS: tuple[str, ...] = ("cheap", "mid", "premium")
TIER_MODES: tuple[str, ...] = ("difficulty", "roll")
ACTIONS: tuple[str, ...] = ("keep", "change")


def _frozen_weights(weights: Mapping[str, Mapping[str, Decimal]]) -> Mapping[str, Mapping[str, Decimal]]:
    return MappingProxyType(
        {complexity: MappingProxyType(dict(weights[complexity])) for complexity in COMPLEXITIES}
    )


@dataclass(frozen=True, slots=True)
class RouterSettings:
    """Every tuning parameter of the router (``RouterConfig`` row or built-in defaults).

    Points and multipliers are floats (they only feed scores); prices and
    weights are ``Decimal`` because they are compared exactly.
    """

    # Bonuses, in score points
    stickiness_bonus: float
    reasoning_bonus: float
    research_bonus: float
    # Complexity
    simple_penalty: float
    complex_boost_threshold: int
    complex_boost_multiplier: float
    # Cost tiers: USD per 1M tokens, mean of input and output
    cheap_threshold: Decimal
    mid_threshold: Decimal
    # complexity → tier → weight; each complexity's weights sum to 1
    tier_weights: Mapping[str, Mapping[str, Decimal]]
    # (pattern, points): a pattern matches a model id or name, or its primary host
    speed_bonuses: tuple[tuple[str, float], ...]
    router_model_id: str
    fallback_model_id: str
    max_retries: int
    context_buffer: Decimal
    long_context_threshold: int
    high_stakes_domains: tuple[str, ...]
    # Parameters the seed design hard-coded, stored here so they can be tuned too
    secondary_share: float
    cost_penalty_points: float
    research_providers: tuple[str, ...]
    # How a tier is chosen: "difficulty" (the hardest messages premium, the easiest cheap, by the
    # thresholds below; ``calibrate_router`` sets them so the tier weights become the shares) or
    # "roll" (a weighted dice roll per message with its complexity's weights).
    tier_mode: str = "difficulty"
    mid_difficulty: Decimal = Decimal("0.331")  # from this difficulty on: mid
    premium_difficulty: Decimal = Decimal("0.570")  # from this difficulty on: premium
    # (The defaults: calibrate_router on fixtures/router_eval/prompts.jsonl's train split with the
    # default tier weights and the semantic classifier.)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier_weights", _frozen_weights(self.tier_weights))
        # Sorted, so the database (whose JSON may reorder keys) and the defaults give identical settings.
        object.__setattr__(self, "speed_bonuses", tuple(sorted(self.speed_bonuses)))

    def weights_for(self, complexity: str) -> Mapping[str, Decimal]:
        return self.tier_weights[complexity]


@dataclass(frozen=True, slots=True)
class Profile:
    """The router's view of one model: overall quality and a 0-100 score per category."""

    quality: int
    scores: Mapping[str, int] = field(default_factory=dict)
    # Empty for an editor's profile; for one the router derived (a model nobody has profiled yet,
    # see autorouter.derived), the rule that made it.
    derived: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))

    def score(self, category: str) -> int:
        return self.scores.get(category, 0)


@dataclass(frozen=True, slots=True)
class Classification:
    """What a message needs, as a classifier sees it."""

    primary: str
    secondary: str | None
    complexity: str
    needs_vision: bool
    needs_long_context: bool
    needs_reasoning: bool
    high_stakes: bool
    domain: str | None
    action: str  # "keep" the previous model or "change" it
    confidence: float
    signals: tuple[str, ...] = ()  # what the classifier matched, for the explanation
    # Asked to produce an image (not the same need as understanding an attached one: vision).
    needs_image_generation: bool = False
    # How hard the message is, 0 (trivial) to 1 (hardest): orders messages for the tiers
    # (RouterSettings.tier_mode "difficulty"). See autorouter.classifier.difficulty_of.
    difficulty: float = 0.5

    @classmethod
    def from_dict(cls, data: Mapping) -> Classification:
        """The classification a decision stored (``to_dict()``); ``ValueError`` if it cannot be one.
        Entries logged before a field existed take its default."""
        try:
            return cls(
                primary=str(data["primary"]),
                secondary=data.get("secondary"),
                complexity=str(data["complexity"]),
                needs_vision=bool(data["needs_vision"]),
                needs_long_context=bool(data["needs_long_context"]),
                needs_reasoning=bool(data["needs_reasoning"]),
                high_stakes=bool(data["high_stakes"]),
                domain=data.get("domain"),
                action=str(data["action"]),
                confidence=float(data["confidence"]),
                signals=tuple(data.get("signals") or ()),
                needs_image_generation=bool(data.get("needs_image_generation", False)),
                difficulty=float(data.get("difficulty", 0.5)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a stored classification: {exc!r}") from None

    def to_dict(self) -> dict:
        return {
            "primary": self.primary,
            "secondary": self.secondary,
            "complexity": self.complexity,
            "needs_vision": self.needs_vision,
            "needs_image_generation": self.needs_image_generation,
            "difficulty": self.difficulty,
            "needs_long_context": self.needs_long_context,
            "needs_reasoning": self.needs_reasoning,
            "high_stakes": self.high_stakes,
            "domain": self.domain,
            "action": self.action,
            "confidence": round(self.confidence, 3),
            "signals": list(self.signals),
        }
