"""Plain values of the catalog: prices, statuses, capability names, frozen JSON. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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


# Prices a long-context tier or a service tier may restate (USD per 1M tokens).
TIER_PRICE_KEYS: tuple[str, ...] = ("input", "output", "cached_input", "cache_write_5m", "cache_write_1h")
SERVICE_TIERS: tuple[str, ...] = ("batch", "flex", "priority")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Long-context tier: a request whose prompt exceeds ``above_input_tokens`` is billed, whole,
    at these prices; a price left ``None`` keeps the base price."""

    above_input_tokens: int
    input: Decimal | None = None
    output: Decimal | None = None
    cached_input: Decimal | None = None
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ServiceTierPrice:
    """A service tier's prices: a ``multiplier`` on every price, or explicit ``prices`` (price key →
    USD per 1M tokens) that replace those base prices, the others unchanged."""

    multiplier: Decimal | None = None
    prices: Mapping[str, Decimal] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class RequestFee:
    """A fee per ``per`` requests of one kind (``web_search_per_1000`` → kind ``web_search``, per 1000)."""

    kind: str
    per: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class Pricing:
    """How one model bills, USD per 1M tokens unless said. An optional rate left ``None`` means the
    tokens are billed at the rate they are part of (cached and cache writes at input, reasoning at
    output, audio and image input at input, audio and image output at output)."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    reasoning: Decimal | None = None
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    audio_input: Decimal | None = None
    audio_output: Decimal | None = None
    image_input: Decimal | None = None
    image_output: Decimal | None = None
    request_fees: tuple[RequestFee, ...] = ()
    tiers: tuple[PriceTier, ...] = ()  # strictly increasing thresholds
    service_tiers: Mapping[str, ServiceTierPrice] = field(default_factory=lambda: _EMPTY)

    @property
    def average(self) -> Decimal:
        """Mean of the input and output rates: what the router's cost tiers compare."""
        return (self.input + self.output) / 2

    @property
    def is_flat(self) -> bool:
        """No tiers, service tiers or fees: the fast path of the cost engine."""
        return not (self.tiers or self.service_tiers or self.request_fees)


@dataclass(frozen=True, slots=True)
class ScheduledPrice:
    """From ``effective_from`` (UTC) on, the model bills at ``pricing``."""

    effective_from: datetime
    pricing: Pricing
