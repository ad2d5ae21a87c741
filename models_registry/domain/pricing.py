"""Cost of a request from token counts and per-1M prices. Pure Python, exact ``Decimal``."""

from __future__ import annotations

from decimal import Decimal

from models_registry.domain.types import Pricing

_PER_MILLION = -6  # prices are USD per 1,000,000 tokens: shift the decimal point


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")


def cost_usd(
    pricing: Pricing,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> Decimal:
    """Exact USD cost of one request.

    Token counts follow the OpenAI usage convention: ``input_tokens`` includes
    the cached ones and ``output_tokens`` includes the reasoning ones. Cached
    tokens are billed at the cached rate (the input rate when the model has
    none), reasoning tokens at the reasoning rate (else the output rate).
    """
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
    return total.scaleb(_PER_MILLION)
