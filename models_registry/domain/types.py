"""The read type of the registry: ``ModelConfig``.

Plain, frozen Python objects with no ORM inside. Both the static catalog and
the database are turned into these, so the chat app cannot tell (and does not
care) which source served a read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

# Capability names as the chat app and the static catalog spell them.
CAPABILITIES: tuple[str, ...] = (
    "vision",
    "function-calling",
    "thinking",
    "extended-thinking",
    "image-generation",
)
# AIModel boolean column → capability name used by the chat app.
CAPABILITY_FIELDS: dict[str, str] = {
    "supports_vision": "vision",
    "supports_function_calling": "function-calling",
    "supports_thinking": "thinking",
    "supports_extended_thinking": "extended-thinking",
    "supports_image_generation": "image-generation",
}
# AIModel columns an editor sets (form, import, revert), everything but the id and the audit columns.
EDITABLE_MODEL_FIELDS: tuple[str, ...] = (
    "provider",
    "name",
    "description",
    "context_window",
    "input_price",
    "output_price",
    "cached_input_price",
    "reasoning_price",
    *CAPABILITY_FIELDS,
    "reasoning_config",
    "gateway",
    "host_order",
    "actual_model_id",
    "is_local",
    "knowledge_cutoff",
    "user_friendly_description",
    "best_for",
    "benchmarks",
    "speed_tier",
    "is_pro",
    "is_internal_only",
    "is_experimental",
    "status",
)
STATUSES: tuple[str, ...] = ("active", "beta", "deprecated")
SELECTABLE_STATUSES: frozenset[str] = frozenset({"active", "beta"})
GATEWAYS: tuple[str, ...] = ("vercel", "openrouter")
SPEED_TIERS: tuple[str, ...] = ("ultra-fast", "instant", "fast", "standard", "slow")


def format_money(value: Decimal | None) -> str | None:
    """A price as a plain decimal string without trailing zeros ("2.5", not "2.500000" or "2.5E+0")."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def freeze_json(value: Any) -> Any:
    """Return a deeply immutable copy of a JSON value (dicts → read-only mappings, lists → tuples)."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze_json(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze_json(item) for item in value)
    return value


def thaw_json(value: Any) -> Any:
    """Inverse of :func:`freeze_json`: plain dicts and lists, ready for ``json.dumps``."""
    if isinstance(value, Mapping):
        return {key: thaw_json(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw_json(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of one version: its value before and after."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class Pricing:
    """USD per 1M tokens. ``cached_input`` and ``reasoning`` are ``None`` when the
    model has no separate rate (the input and output rates apply)."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    reasoning: Decimal | None = None

    @property
    def average(self) -> Decimal:
        """Mean of the input and output rates: what the router's cost tiers compare."""
        return (self.input + self.output) / 2


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One model of the catalog, as the chat app reads it."""

    id: str
    provider: str
    name: str
    context_window: int
    pricing: Pricing
    capabilities: frozenset[str] = frozenset()
    status: str = "active"
    description: str = ""
    actual_model_id: str | None = None
    is_local: bool = False
    reasoning: Mapping[str, Any] | None = None
    gateway: str | None = None
    host_order: tuple[str, ...] = ()
    knowledge_cutoff: str | None = None
    user_friendly_description: str = ""
    best_for: str = ""
    benchmarks: Mapping[str, Any] | None = None
    speed_tier: str | None = None
    is_pro: bool = False
    is_internal_only: bool = False
    is_experimental: bool = False
    provider_name: str = field(default="", compare=True)

    @property
    def supports_vision(self) -> bool:
        return "vision" in self.capabilities

    @property
    def supports_function_calling(self) -> bool:
        return "function-calling" in self.capabilities

    @property
    def supports_thinking(self) -> bool:
        return "thinking" in self.capabilities

    @property
    def supports_extended_thinking(self) -> bool:
        return "extended-thinking" in self.capabilities

    @property
    def supports_image_generation(self) -> bool:
        return "image-generation" in self.capabilities

    @property
    def is_selectable(self) -> bool:
        """Whether a user may pick it: active or beta (internal-only is a separate flag)."""
        return self.status in SELECTABLE_STATUSES

    @property
    def api_model_id(self) -> str:
        """The id sent to the provider."""
        return self.actual_model_id or self.id.split(":", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (prices as strings, to keep them exact)."""

        return {
            "id": self.id,
            "provider": self.provider,
            "provider_name": self.provider_name,
            "name": self.name,
            "description": self.description,
            "context_window": self.context_window,
            "actual_model_id": self.actual_model_id,
            "is_local": self.is_local,
            "pricing": {
                "input": format_money(self.pricing.input),
                "output": format_money(self.pricing.output),
                "cached_input": format_money(self.pricing.cached_input),
                "reasoning": format_money(self.pricing.reasoning),
            },
            "capabilities": [cap for cap in CAPABILITIES if cap in self.capabilities],
            "reasoning": thaw_json(self.reasoning),
            "gateway": self.gateway,
            "host_order": list(self.host_order),
            "knowledge_cutoff": self.knowledge_cutoff,
            "user_friendly_description": self.user_friendly_description,
            "best_for": self.best_for,
            "benchmarks": thaw_json(self.benchmarks),
            "speed_tier": self.speed_tier,
            "is_pro": self.is_pro,
            "is_internal_only": self.is_internal_only,
            "is_experimental": self.is_experimental,
            "status": self.status,
        }
