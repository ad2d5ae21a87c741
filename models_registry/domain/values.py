"""Plain values of the catalog: prices, statuses, capability names, frozen JSON. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
