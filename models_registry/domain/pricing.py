"""What a request costs, from its token counts and the model's prices. Pure Python, exact ``Decimal``.

One engine prices every request the way providers bill:

- **Counts** follow one convention (:class:`TokenUsage`): ``input_tokens`` are all
  prompt tokens, cache reads, cache writes, audio and image included;
  ``output_tokens`` are all output tokens, reasoning, audio and image included.
  The parts are billed at their own rate and the rest at the text rate, so no
  token is counted twice or dropped. Each provider's usage object is turned
  into this shape by :mod:`models_registry.domain.usage`.
- **Long-context tiers**: the prompt size (all of ``input_tokens``) picks the
  highest tier whose threshold it exceeds, and the whole request is billed at
  that tier; a price the tier leaves out keeps the base price.
- **Service tiers** (batch, flex, priority): a multiplier on every token price,
  or explicit prices that replace those base prices.
- **Request fees**: ``requests={"web_search": 3}`` at ``web_search_per_1000``.

An optional rate a model lacks falls back to the rate its tokens are part of:
cache reads and writes, audio and image input at the input rate; reasoning,
audio and image output at the output rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from types import MappingProxyType
from typing import NamedTuple

from models_registry.domain.values import PriceTier, Pricing

PER_MILLION = 1_000_000
_SHIFT = -6  # prices are USD per 1,000,000 tokens: shift the decimal point
_NO_REQUESTS: Mapping[str, int] = MappingProxyType({})
_ZERO = Decimal(0)
_INT_ONLY = {int}

# Billed components, in the order of a breakdown's lines.
INPUT, CACHED_INPUT, CACHE_WRITE_5M, CACHE_WRITE_1H = (
    "input",
    "cached_input",
    "cache_write_5m",
    "cache_write_1h",
)
AUDIO_INPUT, IMAGE_INPUT = "audio_input", "image_input"
OUTPUT, REASONING, AUDIO_OUTPUT, IMAGE_OUTPUT = "output", "reasoning", "audio_output", "image_output"


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


@dataclass(slots=True)  # not frozen: a frozen dataclass costs ~3 µs more to build, on every request
class TokenUsage:
    """One request's counts in the registry's convention (see the module's docstring). Treat as read-only."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0  # 5-minute cache writes (the default cache lifetime)
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    image_input_tokens: int = 0
    image_output_tokens: int = 0
    requests: Mapping[str, int] = field(default_factory=lambda: _NO_REQUESTS)  # e.g. {"web_search": 3}

    def __post_init__(self) -> None:
        counts = (
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_write_tokens,
            self.cache_write_1h_tokens,
            self.reasoning_tokens,
            self.audio_input_tokens,
            self.audio_output_tokens,
            self.image_input_tokens,
            self.image_output_tokens,
        )
        if set(map(type, counts)) != _INT_ONLY or min(counts) < 0:
            for name in _COUNT_FIELDS:  # the slow path names the bad one
                _check_count(name, getattr(self, name))
        for kind, count in self.requests.items():
            _check_count(f"requests[{kind!r}]", count)
        prompt_parts = (
            self.cached_input_tokens
            + self.cache_write_tokens
            + self.cache_write_1h_tokens
            + self.audio_input_tokens
            + self.image_input_tokens
        )
        if prompt_parts > self.input_tokens:
            raise ValueError(
                f"cached_input_tokens + cache_write_tokens + cache_write_1h_tokens + audio_input_tokens + "
                f"image_input_tokens ({prompt_parts}) cannot exceed input_tokens ({self.input_tokens}): "
                "they are part of them"
            )
        output_parts = self.reasoning_tokens + self.audio_output_tokens + self.image_output_tokens
        if output_parts > self.output_tokens:
            raise ValueError(
                f"reasoning_tokens + audio_output_tokens + image_output_tokens ({output_parts}) cannot "
                f"exceed output_tokens ({self.output_tokens}): they are part of them"
            )


_COUNT_FIELDS = tuple(name for name in TokenUsage.__dataclass_fields__ if name != "requests")
USAGE_KEYS: frozenset[str] = frozenset(TokenUsage.__dataclass_fields__)


class CostLine(NamedTuple):  # a named tuple: several per request, and ~4x cheaper than a dataclass
    """One billed component: ``units`` at ``rate`` USD per ``per`` units."""

    kind: str
    units: int
    rate: Decimal
    per: int
    amount: Decimal


class CostBreakdown(NamedTuple):
    """What one request costs and why. The lines sum to ``total`` exactly."""

    model_id: str
    total: Decimal
    lines: tuple[CostLine, ...]
    tier_above_input_tokens: int | None  # the long-context tier applied, None for the base prices
    service_tier: str | None
    price_effective_from: datetime | None  # the timeline entry used; None: the listed prices
    at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (amounts as exact strings), for storing with a usage record."""
        return {
            "model_id": self.model_id,
            "total": str(self.total),
            "lines": [
                {
                    "kind": line.kind,
                    "units": line.units,
                    "rate": str(line.rate),
                    "per": line.per,
                    "amount": str(line.amount),
                }
                for line in self.lines
            ],
            "tier_above_input_tokens": self.tier_above_input_tokens,
            "service_tier": self.service_tier,
            "price_effective_from": self.price_effective_from.isoformat()
            if self.price_effective_from
            else None,
        }


def tier_for(pricing: Pricing, prompt_tokens: int) -> PriceTier | None:
    """The long-context tier a prompt of this size reaches (thresholds are exclusive: "above N")."""
    reached = None
    for tier in pricing.tiers:
        if prompt_tokens > tier.above_input_tokens:
            reached = tier
        else:
            break
    return reached


def _rates(pricing: Pricing, tier: PriceTier | None, service_tier: str | None) -> Mapping[str, Decimal]:
    """Every component's USD-per-1M rate for this request.

    A price is the service tier's explicit one, else the long-context tier's,
    else the base one; a component without any falls back to the input or
    output rate it is part of; a service tier's multiplier applies last.
    Without a service tier the table is computed once per pricing and tier.
    """
    if service_tier is None:
        key = (id(pricing), tier.above_input_tokens if tier is not None else None)
        cached = _RATE_CACHE.get(key)
        if cached is not None and cached[0] is pricing:
            return cached[1]
        rates = _rate_table(pricing, tier, _NO_PRICES, None)
        if len(_RATE_CACHE) >= _RATE_CACHE_SIZE:
            _RATE_CACHE.clear()
        _RATE_CACHE[key] = (pricing, rates)  # holds the pricing, so its id is not reused meanwhile
        return rates
    prices = pricing.service_tiers.get(service_tier)
    if prices is None:
        known = ", ".join(pricing.service_tiers) or "none"
        raise ValueError(f"service_tier {service_tier!r} has no prices for this model (it has: {known})")
    return _rate_table(pricing, tier, prices.prices, prices.multiplier)


_RATE_CACHE: dict[tuple[int, int | None], tuple[Pricing, Mapping[str, Decimal]]] = {}
_RATE_CACHE_SIZE = 20_000


def _rate_table(
    pricing: Pricing, tier: PriceTier | None, explicit: Mapping[str, Decimal], multiplier: Decimal | None
) -> Mapping[str, Decimal]:
    def stated(key: str) -> Decimal | None:
        value = explicit.get(key)
        if value is None and tier is not None and key in _TIER_KEYS:
            value = getattr(tier, key)
        return getattr(pricing, key) if value is None else value

    input_rate, output_rate = stated(INPUT), stated(OUTPUT)
    rates = {INPUT: input_rate, OUTPUT: output_rate}
    for key in (CACHED_INPUT, CACHE_WRITE_5M, CACHE_WRITE_1H, AUDIO_INPUT, IMAGE_INPUT):
        value = stated(key)
        rates[key] = input_rate if value is None else value
    for key in (REASONING, AUDIO_OUTPUT, IMAGE_OUTPUT):
        value = stated(key)
        rates[key] = output_rate if value is None else value
    if multiplier is not None:
        rates = {key: rate * multiplier for key, rate in rates.items()}
    return MappingProxyType(rates)


_NO_PRICES: Mapping[str, Decimal] = MappingProxyType({})
_new_line = tuple.__new__  # builds a named tuple from a tuple without the Python-level __new__
_OPTIONAL_INPUT_PARTS = (CACHED_INPUT, CACHE_WRITE_5M, CACHE_WRITE_1H, AUDIO_INPUT, IMAGE_INPUT)
_OPTIONAL_OUTPUT_PARTS = (REASONING, AUDIO_OUTPUT, IMAGE_OUTPUT)
_UNITS_OF = {
    CACHED_INPUT: "cached_input_tokens",
    CACHE_WRITE_5M: "cache_write_tokens",
    CACHE_WRITE_1H: "cache_write_1h_tokens",
    AUDIO_INPUT: "audio_input_tokens",
    IMAGE_INPUT: "image_input_tokens",
    REASONING: "reasoning_tokens",
    AUDIO_OUTPUT: "audio_output_tokens",
    IMAGE_OUTPUT: "image_output_tokens",
}
_input_parts_of = attrgetter(*(_UNITS_OF[kind] for kind in _OPTIONAL_INPUT_PARTS))
_output_parts_of = attrgetter(*(_UNITS_OF[kind] for kind in _OPTIONAL_OUTPUT_PARTS))
_TIER_KEYS = frozenset(PriceTier.__dataclass_fields__) - {"above_input_tokens"}


def breakdown(
    pricing: Pricing,
    usage: TokenUsage,
    *,
    model_id: str = "",
    service_tier: str | None = None,
    price_effective_from: datetime | None = None,
    at: datetime | None = None,
) -> CostBreakdown:
    """The cost of ``usage`` at ``pricing``, line by line."""
    tier = tier_for(pricing, usage.input_tokens) if pricing.tiers else None
    rates = _rates(pricing, tier, service_tier)
    text_input = (
        usage.input_tokens
        - usage.cached_input_tokens
        - usage.cache_write_tokens
        - usage.cache_write_1h_tokens
        - usage.audio_input_tokens
        - usage.image_input_tokens
    )
    text_output = (
        usage.output_tokens - usage.reasoning_tokens - usage.audio_output_tokens - usage.image_output_tokens
    )
    # Unrolled, with lines built as plain tuples of their class: this runs on every request,
    # and most components are absent.
    rate = rates[INPUT]
    total = (text_input * rate).scaleb(_SHIFT)
    lines = [_new_line(CostLine, (INPUT, text_input, rate, PER_MILLION, total))]
    for kind, units in zip(_OPTIONAL_INPUT_PARTS, _input_parts_of(usage)):  # noqa: B905 (equal lengths)
        if units:
            rate = rates[kind]
            amount = (units * rate).scaleb(_SHIFT)
            total += amount
            lines.append(_new_line(CostLine, (kind, units, rate, PER_MILLION, amount)))
    rate = rates[OUTPUT]
    amount = (text_output * rate).scaleb(_SHIFT)
    total += amount
    lines.append(_new_line(CostLine, (OUTPUT, text_output, rate, PER_MILLION, amount)))
    for kind, units in zip(_OPTIONAL_OUTPUT_PARTS, _output_parts_of(usage)):  # noqa: B905 (equal lengths)
        if units:
            rate = rates[kind]
            amount = (units * rate).scaleb(_SHIFT)
            total += amount
            lines.append(_new_line(CostLine, (kind, units, rate, PER_MILLION, amount)))
    if usage.requests:
        fees = {fee.kind: fee for fee in pricing.request_fees}
        for kind, count in usage.requests.items():
            fee = fees.get(kind)
            if fee is None:
                if count == 0:
                    continue
                known = ", ".join(fees) or "none"
                raise ValueError(f"requests[{kind!r}]: this model has no fee for {kind!r} (it has: {known})")
            amount = count * fee.price / fee.per
            total += amount
            lines.append(_new_line(CostLine, (f"request:{kind}", count, fee.price, fee.per, amount)))
    return _new_line(
        CostBreakdown,
        (
            model_id,
            total,
            tuple(lines),
            tier.above_input_tokens if tier is not None else None,
            service_tier,
            price_effective_from,
            at,
        ),
    )


def cost_usd(
    pricing: Pricing,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    service_tier: str | None = None,
) -> Decimal:
    """Exact USD cost of one request (counts as in :class:`TokenUsage`).

    A flat-priced request (no tiers, cache writes or service tier) takes a
    short path that builds no breakdown: it is the chat app's hottest call.
    """
    if cache_write_tokens or cache_write_1h_tokens or service_tier is not None or pricing.tiers:
        usage = TokenUsage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
            reasoning_tokens=reasoning_tokens,
            cache_write_tokens=cache_write_tokens,
            cache_write_1h_tokens=cache_write_1h_tokens,
        )
        return breakdown(pricing, usage, service_tier=service_tier).total
    _check_count("input_tokens", input_tokens)
    _check_count("output_tokens", output_tokens)
    _check_count("cached_input_tokens", cached_input_tokens)
    _check_count("reasoning_tokens", reasoning_tokens)
    if cached_input_tokens > input_tokens:
        raise ValueError("cached_input_tokens cannot exceed input_tokens (they are part of them)")
    if reasoning_tokens > output_tokens:
        raise ValueError("reasoning_tokens cannot exceed output_tokens (they are part of them)")
    cached_rate = pricing.input if pricing.cached_input is None else pricing.cached_input
    reasoning_rate = pricing.output if pricing.reasoning is None else pricing.reasoning
    total = (
        (input_tokens - cached_input_tokens) * pricing.input
        + cached_input_tokens * cached_rate
        + (output_tokens - reasoning_tokens) * pricing.output
        + reasoning_tokens * reasoning_rate
    )
    return total.scaleb(_SHIFT)
