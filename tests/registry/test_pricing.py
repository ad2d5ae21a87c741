"""Costs as providers bill them: worked examples from public price pages and usage docs.

Each example states the provider's documented prices and usage object and the
exact result; every breakdown's lines must add up to its total.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models_registry.domain.fields import CatalogError, columns_from_entry, read_values_from_columns
from models_registry.domain.pricing import TokenUsage, breakdown
from models_registry.domain.types import ModelConfig
from models_registry.domain.usage import read_usage

D = Decimal


def _model(pricing: dict, **extra) -> ModelConfig:
    entry = {
        "id": "test:model",
        "provider": "test",
        "name": "Test",
        "context_window": 1_000_000,
        "pricing": pricing,
        **extra,
    }
    columns = columns_from_entry(entry, "test:model")
    return ModelConfig(**read_values_from_columns(columns.__getitem__))


def _cost(model: ModelConfig, usage: dict, usage_format: str = "generic", **kwargs):
    result = breakdown(model.pricing_at(kwargs.pop("at", None))[0], read_usage(usage, usage_format), **kwargs)
    assert sum(line.amount for line in result.lines) == result.total
    return result


# Gemini 2.5 Pro (ai.google.dev/pricing): $1.25 in / $10 out up to 200k prompt tokens, $2.50 / $15 above.
GEMINI_25_PRO = {
    "input": "1.25",
    "output": "10",
    "cached_input": "0.31",
    "tiers": [{"above_input_tokens": 200000, "input": "2.5", "output": "15", "cached_input": "0.625"}],
}


def test_gemini_prompt_under_its_200k_threshold_pays_the_base_prices():
    result = _cost(
        _model(GEMINI_25_PRO), {"promptTokenCount": 200_000, "candidatesTokenCount": 5_000}, "gemini"
    )
    assert result.tier_above_input_tokens is None
    assert result.total == D("0.3")  # 200,000 x 1.25 + 5,000 x 10, per 1M


def test_gemini_prompt_over_200k_bills_the_whole_request_at_the_long_context_tier():
    usage = {
        "promptTokenCount": 300_000,
        "cachedContentTokenCount": 100_000,
        "candidatesTokenCount": 4_000,
        "thoughtsTokenCount": 1_000,
    }
    result = _cost(_model(GEMINI_25_PRO), usage, "gemini")
    assert result.tier_above_input_tokens == 200_000
    # 200,000 x 2.5 + 100,000 cached x 0.625 + (4,000 + 1,000 thinking) x 15, per 1M
    assert result.total == D("0.6375")
    assert {line.kind: line.rate for line in result.lines} == {
        "input": D("2.5"),
        "cached_input": D("0.625"),
        "output": D("15"),
        "reasoning": D("15"),
    }


# Claude Sonnet 4.5 (anthropic.com/pricing): $3 in, $15 out; 5-minute cache write $3.75 (1.25x),
# 1-hour cache write $6 (2x), cache read $0.30 (0.1x); web search $10 per 1,000.
CLAUDE_SONNET_45 = {
    "input": "3",
    "output": "15",
    "cached_input": "0.3",
    "cache_write_5m": "3.75",
    "cache_write_1h": "6",
    "request_fees": {"web_search_per_1000": "10"},
}


def test_anthropic_cache_reads_and_5_minute_and_1_hour_writes_each_at_their_rate():
    usage = {  # shaped like the Messages API's usage object
        "input_tokens": 1_000,
        "cache_read_input_tokens": 20_000,
        "cache_creation_input_tokens": 7_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 5_000, "ephemeral_1h_input_tokens": 2_000},
        "output_tokens": 800,
    }
    result = _cost(_model(CLAUDE_SONNET_45), usage, "anthropic")
    # 1,000 x 3 + 20,000 x 0.3 + 5,000 x 3.75 + 2,000 x 6 + 800 x 15, per 1M
    assert result.total == D("0.05175")
    assert [(line.kind, line.units) for line in result.lines] == [
        ("input", 1_000),
        ("cached_input", 20_000),
        ("cache_write_5m", 5_000),
        ("cache_write_1h", 2_000),
        ("output", 800),
    ]


def test_a_per_request_fee_is_billed_per_thousand_searches():
    usage = {"input_tokens": 1_000, "output_tokens": 500, "server_tool_use": {"web_search_requests": 3}}
    result = _cost(_model(CLAUDE_SONNET_45), usage, "anthropic")
    assert result.lines[-1].kind == "request:web_search"
    assert result.lines[-1].amount == D("0.03")  # 3 x $10 / 1,000
    assert result.total == D("0.0405")  # + 1,000 x 3 + 500 x 15, per 1M


# GPT-5 (openai.com/api/pricing): $1.25 in, $0.125 cached in, $10 out; Batch API: 50% off.
GPT_5 = {
    "input": "1.25",
    "output": "10",
    "cached_input": "0.125",
    "service_tiers": {"batch": {"multiplier": "0.5"}},
}


def test_openai_cached_and_reasoning_tokens_are_parts_of_prompt_and_completion():
    usage = {  # shaped like the Chat Completions usage object
        "prompt_tokens": 10_000,
        "completion_tokens": 2_000,
        "total_tokens": 12_000,
        "prompt_tokens_details": {"cached_tokens": 4_000, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 1_500,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    result = _cost(_model(GPT_5), usage, "openai-chat")
    # 6,000 x 1.25 + 4,000 x 0.125 + 500 x 10 + 1,500 reasoning x 10, per 1M
    assert result.total == D("0.028")


def test_batch_halves_every_price():
    usage = {"input_tokens": 10_000, "output_tokens": 2_000, "cached_input_tokens": 4_000}
    standard = _cost(_model(GPT_5), usage)
    batch = _cost(_model(GPT_5), usage, service_tier="batch")
    assert standard.total == D("0.0280")
    assert batch.total == D("0.014")
    assert batch.service_tier == "batch"


def test_explicit_service_tier_prices_replace_only_those_they_name():
    model = _model(
        {
            "input": "1.25",
            "output": "10",
            "cached_input": "0.125",
            "service_tiers": {"priority": {"input": "2.5", "output": "20"}},
        }
    )
    result = _cost(
        model,
        {"input_tokens": 1_000, "cached_input_tokens": 1_000, "output_tokens": 1_000},
        service_tier="priority",
    )
    assert {line.kind: line.rate for line in result.lines} == {
        "cached_input": D("0.125"),
        "input": D("2.5"),
        "output": D("20"),
    }
    with pytest.raises(ValueError, match="'flex' has no prices"):
        _cost(model, {"input_tokens": 1, "output_tokens": 1}, service_tier="flex")


# gpt-realtime (openai.com/api/pricing): text $4 in / $16 out, audio $32 in / $64 out.
def test_audio_tokens_are_billed_at_the_audio_rates_and_the_rest_as_text():
    model = _model({"input": "4", "output": "16", "audio_input": "32", "audio_output": "64"})
    usage = {
        "prompt_tokens": 2_000,
        "completion_tokens": 1_000,
        "prompt_tokens_details": {"audio_tokens": 1_500, "cached_tokens": 0},
        "completion_tokens_details": {"audio_tokens": 800, "reasoning_tokens": 0},
    }
    result = _cost(model, usage, "openai-chat")
    # 500 x 4 + 1,500 x 32 + 200 x 16 + 800 x 64, per 1M
    assert result.total == D("0.1044")


# --- each provider's usage object: no token counted twice or dropped ------------------------------

PAYLOADS = {
    "openai-chat": (
        {
            "prompt_tokens": 1_200,
            "completion_tokens": 700,
            "total_tokens": 1_900,
            "prompt_tokens_details": {"cached_tokens": 1_024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 448, "audio_tokens": 0},
        },
        (1_200, 700, 1_024, 0, 448),
    ),
    "openai-responses": (
        {
            "input_tokens": 5_000,
            "output_tokens": 900,
            "total_tokens": 5_900,
            "input_tokens_details": {"cached_tokens": 4_096},
            "output_tokens_details": {"reasoning_tokens": 640},
        },
        (5_000, 900, 4_096, 0, 640),
    ),
    "anthropic": (
        {
            "input_tokens": 12,
            "cache_creation_input_tokens": 3_000,
            "cache_read_input_tokens": 40_000,
            "cache_creation": {"ephemeral_5m_input_tokens": 3_000, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 503,
            "service_tier": "standard",
        },
        (43_012, 503, 40_000, 3_000, 0),
    ),
    "gemini": (
        {
            "promptTokenCount": 9_000,
            "cachedContentTokenCount": 8_000,
            "candidatesTokenCount": 300,
            "thoughtsTokenCount": 1_200,
            "totalTokenCount": 10_500,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9_000}],
        },
        (9_000, 1_500, 8_000, 0, 1_200),
    ),
    "generic": (
        {
            "input_tokens": 2_000,
            "output_tokens": 100,
            "cached_input_tokens": 500,
            "cache_write_tokens": 1_000,
            "reasoning_tokens": 50,
        },
        (2_000, 100, 500, 1_000, 50),
    ),
}


@pytest.mark.parametrize("usage_format", list(PAYLOADS))
def test_each_usage_format_counts_every_token_once(usage_format):
    payload, (prompt, output, cached, writes, reasoning) = PAYLOADS[usage_format]
    usage = read_usage(payload, usage_format, strict=True)
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (prompt, output, cached)
    assert (usage.cache_write_tokens + usage.cache_write_1h_tokens, usage.reasoning_tokens) == (
        writes,
        reasoning,
    )
    # Billed once each: the lines' token units add up to exactly the prompt and the output.
    result = breakdown(_model({"input": "1", "output": "2"}).pricing, usage)
    input_kinds = {"input", "cached_input", "cache_write_5m", "cache_write_1h", "audio_input", "image_input"}
    assert sum(line.units for line in result.lines if line.kind in input_kinds) == prompt
    assert sum(line.units for line in result.lines if line.kind not in input_kinds) == output


@pytest.mark.parametrize(
    ("usage_format", "payload", "message"),
    [
        ("openai-chat", {"prompt_tokens": -1, "completion_tokens": 0}, "prompt_tokens must not be negative"),
        (
            "openai-chat",
            {"prompt_tokens": 10, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 11}},
            "prompt_tokens_details.cached_tokens",
        ),
        (
            "anthropic",
            {
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_creation_input_tokens": 5,
                "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": 1},
            },
            "must equal cache_creation_input_tokens",
        ),
        ("gemini", {"promptTokenCount": 10, "cachedContentTokenCount": 20}, "cachedContentTokenCount"),
        ("generic", {"input_tokens": 1, "output_tokens": 1, "cahced_input_tokens": 1}, "cahced_input_tokens"),
        ("generic", {"input_tokens": 1.5, "output_tokens": 1}, "input_tokens must be an integer"),
        ("cohere", {"input_tokens": 1}, "usage_format must be one of"),
    ],
)
def test_bad_usage_is_refused_naming_the_key(usage_format, payload, message):
    with pytest.raises(ValueError, match=message):
        read_usage(payload, usage_format)


def test_strict_mode_refuses_keys_a_format_does_not_know():
    payload = {"prompt_tokens": 1, "completion_tokens": 1, "prompt_tokens_detail": {}}
    assert read_usage(payload, "openai-chat").input_tokens == 1  # new provider fields are ignored...
    with pytest.raises(ValueError, match="prompt_tokens_detail"):
        read_usage(payload, "openai-chat", strict=True)  # ...unless asked to refuse them


def test_parts_larger_than_their_whole_are_refused():
    with pytest.raises(ValueError, match="cannot exceed input_tokens"):
        TokenUsage(input_tokens=10, output_tokens=0, cached_input_tokens=6, cache_write_tokens=5)


# --- the price timeline ------------------------------------------------------------------------------


def test_at_before_and_after_a_scheduled_change_gives_the_old_and_the_new_cost():
    change = datetime(2026, 12, 1, tzinfo=UTC)
    model = _model(
        {"input": "2.5", "output": "10"},
        price_schedule=[{"effective_from": "2026-12-01T00:00:00Z", "pricing": {"input": "2", "output": "8"}}],
    )
    usage = {"input_tokens": 1_000_000, "output_tokens": 0}
    before = _cost(model, usage, at=change - timedelta(microseconds=1))
    after = _cost(model, usage, at=change)
    assert (before.total, after.total) == (D("2.5"), D("2"))


@pytest.mark.parametrize(
    ("pricing", "message"),
    [
        (
            {
                "input": "1",
                "output": "1",
                "tiers": [{"above_input_tokens": 200000}, {"above_input_tokens": 128000}],
            },
            "greater than the tier before",
        ),
        (
            {"input": "1", "output": "1", "tiers": [{"above_input_tokens": 0, "input": "2"}]},
            "positive integer",
        ),
        ({"input": "1", "output": "1", "tiers": [{"above_input_tokens": 10, "input": "-2"}]}, "non-negative"),
        (
            {"input": "1", "output": "1", "service_tiers": {"turbo": {"multiplier": "2"}}},
            "not a service tier",
        ),
        (
            {"input": "1", "output": "1", "service_tiers": {"batch": {"multiplier": "0.5", "input": "1"}}},
            "either a multiplier or prices",
        ),
        ({"input": "1", "output": "1", "request_fees": {"web_search": "10"}}, "_per_"),
        ({"input": "1", "output": "1", "cache_write_5m": 3.75}, "floats are not exact"),
        (
            {"input": "1", "output": "1", "tiers": [{"above_input_tokens": 10, "input": "0.0000001"}]},
            "more precision than stored",
        ),
    ],
)
def test_bad_prices_in_a_file_are_refused_naming_the_key(pricing, message):
    with pytest.raises(CatalogError, match=message):
        _model(pricing)
