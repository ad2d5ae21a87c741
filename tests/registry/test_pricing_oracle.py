"""genai-prices (the Pydantic team's price library) as the oracle of the cost engine and the usage adapters.

As the issue asks: price every model that both know, for several usages, and show zero unexplained
differences; and read each provider's documented usage object with our adapters and with
``genai_prices.extract_usage``, and find the same counts.

Both libraries count the same way: the prompt total includes cache reads, cache writes, audio and
image tokens; the output total includes reasoning, audio and image tokens; a part without a price
of its own is billed at the rate of the whole it belongs to. A long-context tier is chosen by the
whole prompt, "above N" (genai-prices: ``total_input_tokens > start``), and bills the whole request.

Pure Python: no database, no Django settings needed.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

genai_prices = pytest.importorskip("genai_prices")

from genai_prices.data_snapshot import get_snapshot  # noqa: E402
from genai_prices.types import ModelInfo, ModelPrice, StartDateConstraint, Tier, TieredPrices  # noqa: E402

from models_registry.domain.pricing import TokenUsage, breakdown  # noqa: E402
from models_registry.domain.usage import read_usage  # noqa: E402
from models_registry.domain.values import PriceTier, Pricing, RequestFee, ServiceTierPrice  # noqa: E402

NOW = datetime.now(UTC)  # one instant for both sides' choice among dated prices

# --------------------------------------------------------------------------------------------------
# genai-prices ModelPrice -> our Pricing
# --------------------------------------------------------------------------------------------------

# Our Pricing field -> the genai-prices price keys that set it, most specific first. genai-prices
# bills a part of the usage at the price of its most specific priced ancestor: a 1-hour cache write
# without ``cache_write_1h_mtok`` is billed at ``cache_write_mtok`` (not at the input price, our
# fallback), so that key is copied. The chains stop before ``input_mtok``/``output_mtok``: a field
# left None follows the (tiered, service-tier) input or output rate in our engine, as in theirs.
_FIELD_SOURCES: dict[str, tuple[str, ...]] = {
    "input": ("input_mtok",),
    "output": ("output_mtok",),
    "cached_input": ("cache_read_mtok",),
    "cache_write_5m": ("cache_write_5m_mtok", "cache_write_mtok"),
    "cache_write_1h": ("cache_write_1h_mtok", "cache_write_mtok"),
    "reasoning": ("output_reasoning_mtok",),
    "audio_input": ("input_audio_mtok",),
    "audio_output": ("output_audio_mtok",),
    "image_input": ("input_image_mtok",),
    "image_output": ("output_image_mtok",),
}
_TOKEN_PRICE_KEYS = frozenset(key for sources in _FIELD_SOURCES.values() for key in sources)
_TIERED_FIELDS = frozenset(PriceTier.__dataclass_fields__) - {"above_input_tokens"}

# Tool-call prices per 1,000 calls -> our RequestFee kind (per 1000) and the genai-prices usage key.
_FEE_KEYS: dict[str, tuple[str, str]] = {
    "web_searches_kcount": ("web_search", "web_searches"),
    "social_searches_kcount": ("social_search", "social_searches"),
    "storage_searches_kcount": ("storage_search", "storage_searches"),
    "code_executions_kcount": ("code_execution", "code_executions"),
}

# Price keys Pricing has no place for, and why (any other key outside the maps above is refused too).
_UNREPRESENTABLE_KEYS: dict[str, str] = {
    "requests_kcount": "per-request base fee",
    "audio_hours": "priced per second of audio",
    "input_audio_hours": "priced per second of audio",
    "output_audio_hours": "priced per second of audio",
    "input_mchars": "priced per character",
    "input_text_messages_kcount": "priced per message",
    "input_gpixels": "priced per pixel",
    "input_document_kpages": "priced per document page",
    "input_annotated_document_kpages": "priced per document page",
    "rerank_searches_kcount": "priced per rerank search",
    "cache_audio_read_mtok": "cached-audio price (Pricing has no cached audio rate)",
    "cache_image_read_mtok": "cached-image price (Pricing has no cached image rate)",
    "input_video_mtok": "video token price",
    "output_video_mtok": "video token price",
    "cache_video_read_mtok": "video token price",
    "output_citation_mtok": "citation token price",
}

# genai-prices request contexts that select one of our service tiers; other contexts (OpenAI's
# "fast", Anthropic's "speed", OpenRouter routes, Perplexity search types) are not ours.
_SERVICE_TIER_CONTEXTS: dict[str, dict[str, str]] = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}


def _price_keys(price: ModelPrice) -> dict[str, Decimal | TieredPrices]:
    return {key: value for key, value in vars(price).items() if not key.startswith("_") and value is not None}


def _resolve(keys: dict[str, Decimal | TieredPrices]) -> dict[str, tuple[str, Decimal | TieredPrices] | None]:
    """Each of our fields -> (the genai-prices key it is billed at, its price), None: our fallback."""
    return {
        name: next(((key, keys[key]) for key in sources if key in keys), None)
        for name, sources in _FIELD_SOURCES.items()
    }


def current_price(model: ModelInfo) -> tuple[ModelPrice | None, str | None]:
    """The model's standard price today, or None and why it has no single one."""
    if isinstance(model.prices, ModelPrice):
        return model.prices, None
    if any(
        cond.constraint is not None and not isinstance(cond.constraint, StartDateConstraint)
        for cond in model.prices
    ):
        return None, "price depends on the time of day"
    return model.get_prices(NOW), None  # only start dates: the one in force (last active wins)


def to_pricing(price: ModelPrice) -> tuple[Pricing | None, str | None]:
    """Our Pricing billing exactly as ``price`` does, or None and the reason it cannot be held."""
    keys = _price_keys(price)
    if not keys:
        return None, "no price listed"
    problems = sorted(
        {
            f"{_UNREPRESENTABLE_KEYS.get(key, 'price key unknown to Pricing')} ({key})"
            for key in keys
            if key not in _TOKEN_PRICE_KEYS and key not in _FEE_KEYS
        }
    )
    if problems:
        return None, "; ".join(problems)
    if "input_mtok" not in keys:
        return None, "no input token price"

    values = {name: None if found is None else found[1] for name, found in _resolve(keys).items()}
    if values["output"] is None:
        # Embedding models: genai-prices bills output tokens it has no price for nothing at all,
        # and every other output price would need ``output_mtok`` as its ancestor. Pricing needs
        # an output rate: 0 is the same bill.
        values["output"] = Decimal(0)

    tiered = {name: value for name, value in values.items() if isinstance(value, TieredPrices)}
    untierable = sorted(name for name in tiered if name not in _TIERED_FIELDS)
    if untierable:
        return None, f"tiers on a price we do not tier ({', '.join(untierable)})"
    # One threshold list for all tiered prices. Prices with different thresholds could still be
    # restated at the union of the thresholds; genai-prices 0.2.3 has none, so they are refused.
    thresholds = {tuple(tier.start for tier in value.tiers) for value in tiered.values()}
    if len(thresholds) > 1:
        return None, "tier thresholds differ between price keys"

    fees = []
    for key, (kind, _usage_key) in _FEE_KEYS.items():
        if key in keys:
            if isinstance(keys[key], TieredPrices):
                return None, f"tiered fee ({key})"
            fees.append(RequestFee(kind=kind, per=1000, price=keys[key]))

    tiers: tuple[PriceTier, ...] = ()
    if tiered:
        (starts,) = thresholds
        tiers = tuple(
            PriceTier(
                above_input_tokens=start, **{name: value.tiers[i].price for name, value in tiered.items()}
            )
            for i, start in enumerate(starts)
        )
    base = {name: value.base if isinstance(value, TieredPrices) else value for name, value in values.items()}
    return Pricing(**base, request_fees=tuple(fees), tiers=tiers), None


def service_tier_prices(
    model: ModelInfo, price: ModelPrice, context: dict[str, str]
) -> tuple[ServiceTierPrice | None, str | None]:
    """Our explicit service-tier prices for the genai-prices variant ``context`` selects, or why not.

    A variant replaces some price keys, the others keep the standard (maybe tiered) price; ours:
    an explicit service-tier price replaces the field's base and long-context prices, the others
    unchanged. So a field is explicit exactly when the key it is billed at comes from the variant.
    """
    overrides: dict[str, Decimal | TieredPrices] = {}
    for variant in model.price_variants or ():
        active = variant.constraint is None or variant.constraint.active(NOW)
        if active and all(context.get(key) == value for key, value in variant.when.items()):
            for key, value in _price_keys(variant.prices).items():
                overrides.setdefault(key, value)  # genai-prices: the first matching variant wins
    if not overrides:
        return None, "no such variant"
    if any(key not in _TOKEN_PRICE_KEYS for key in overrides):
        return None, "variant prices something else than tokens"
    explicit = {}
    for name, found in _resolve({**_price_keys(price), **overrides}).items():
        if found is not None and found[0] in overrides:
            if isinstance(found[1], TieredPrices):
                return None, "tiered service-tier price"
            explicit[name] = found[1]
    return ServiceTierPrice(prices=explicit), None


# --------------------------------------------------------------------------------------------------
# Usages
# --------------------------------------------------------------------------------------------------

USAGES: dict[str, TokenUsage] = {
    "flat": TokenUsage(input_tokens=1_200, output_tokens=300),
    "reasoning": TokenUsage(input_tokens=1_200, output_tokens=900, reasoning_tokens=600),
    "cache reads": TokenUsage(input_tokens=10_000, output_tokens=500, cached_input_tokens=8_000),
    "5m cache writes": TokenUsage(
        input_tokens=10_000, output_tokens=400, cached_input_tokens=2_000, cache_write_tokens=6_000
    ),
    "1h cache writes": TokenUsage(
        input_tokens=10_000,
        output_tokens=400,
        cached_input_tokens=2_000,
        cache_write_tokens=1_000,
        cache_write_1h_tokens=5_000,
    ),
    # Crosses the 100k-272k thresholds, under the 512k ones.
    "long prompt": TokenUsage(
        input_tokens=300_000,
        output_tokens=2_000,
        cached_input_tokens=100_000,
        cache_write_tokens=20_000,
        cache_write_1h_tokens=10_000,
        reasoning_tokens=500,
    ),
    # Crosses every threshold in the data (the highest is 524,288).
    "very long prompt": TokenUsage(
        input_tokens=600_000, output_tokens=3_000, cached_input_tokens=250_000, cache_write_tokens=50_000
    ),
    "audio": TokenUsage(
        input_tokens=5_000, output_tokens=2_000, audio_input_tokens=3_000, audio_output_tokens=1_500
    ),
    "image": TokenUsage(
        input_tokens=5_000, output_tokens=1_500, image_input_tokens=2_000, image_output_tokens=1_000
    ),
}
TOOL_CALLS = 3  # per fee kind, on the "flat" usage, for models with tool-call fees


def usages_for(pricing: Pricing) -> dict[str, TokenUsage]:
    usages = dict(USAGES)
    if pricing.request_fees:
        requests = {fee.kind: TOOL_CALLS for fee in pricing.request_fees}
        usages["tool calls"] = dataclasses.replace(USAGES["flat"], requests=requests)
    for tier in pricing.tiers:  # both sides of each threshold: "above N" is exclusive
        for prompt in (tier.above_input_tokens, tier.above_input_tokens + 1):
            usages[f"prompt {prompt}"] = TokenUsage(
                input_tokens=prompt, output_tokens=700, cached_input_tokens=prompt // 2
            )
    return usages


def genai_usage(usage: TokenUsage) -> Any:
    """The same counts as a genai-prices Usage (whose totals include their parts, as ours)."""
    tool_calls = {usage_key: usage.requests.get(kind, 0) for kind, usage_key in _FEE_KEYS.values()}
    return genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cached_input_tokens,
        cache_write_tokens=usage.cache_write_tokens + usage.cache_write_1h_tokens,
        cache_write_5m_tokens=usage.cache_write_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        output_reasoning_tokens=usage.reasoning_tokens,
        input_audio_tokens=usage.audio_input_tokens,
        output_audio_tokens=usage.audio_output_tokens,
        input_image_tokens=usage.image_input_tokens,
        output_image_tokens=usage.image_output_tokens,
        **tool_calls,
    )


# Differences with a known, documented cause: (provider id, model id, usage name) -> why.
# Empty: genai-prices 0.2.3 and our engine agree on every representable model and usage.
EXPLAINED: dict[tuple[str, str, str], str] = {}


def _compare(
    provider_id: str, model_id: str, usage_name: str, ours: Decimal, theirs: Decimal, report: dict[str, list]
) -> None:
    if ours.normalize() == theirs.normalize():
        return
    line = f"{provider_id}:{model_id} [{usage_name}] ours={ours.normalize()} theirs={theirs.normalize()}"
    why = EXPLAINED.get((provider_id, model_id, usage_name))
    report["explained" if why else "unexplained"].append(f"{line}: {why}" if why else line)


def test_converter_keeps_every_price_and_refuses_what_it_cannot_hold():
    def tiered(base: str, start: int, price: str) -> TieredPrices:
        return TieredPrices(base=Decimal(base), tiers=[Tier(start, Decimal(price))])

    pricing, reason = to_pricing(
        ModelPrice(
            input_mtok=tiered("3", 200_000, "6"),
            output_mtok=tiered("15", 200_000, "22.5"),
            cache_read_mtok=Decimal("0.3"),
            cache_write_mtok=Decimal("3.75"),
            cache_write_1h_mtok=Decimal("6"),
            web_searches_kcount=Decimal("10"),
        )
    )
    assert reason is None
    assert pricing == Pricing(
        input=Decimal("3"),
        output=Decimal("15"),
        cached_input=Decimal("0.3"),
        cache_write_5m=Decimal("3.75"),
        cache_write_1h=Decimal("6"),
        request_fees=(RequestFee("web_search", 1000, Decimal("10")),),
        tiers=(PriceTier(above_input_tokens=200_000, input=Decimal("6"), output=Decimal("22.5")),),
    )
    # A 1-hour write without a price of its own is billed at the cache-write price, as genai-prices does.
    pricing, _ = to_pricing(
        ModelPrice(input_mtok=Decimal(1), output_mtok=Decimal(2), cache_write_mtok=Decimal(3))
    )
    assert (pricing.cache_write_5m, pricing.cache_write_1h) == (Decimal(3), Decimal(3))

    def refused(**prices: Any) -> str | None:
        pricing, reason = to_pricing(ModelPrice(**prices))
        assert pricing is None
        return reason

    one, two = Decimal(1), Decimal(2)
    assert (
        refused(input_mtok=one, output_mtok=two, requests_kcount=one)
        == "per-request base fee (requests_kcount)"
    )
    assert refused(input_mtok=one, output_mtok=two, input_audio_mtok=tiered("1", 1_000, "2")) == (
        "tiers on a price we do not tier (audio_input)"
    )
    assert refused(input_mtok=tiered("1", 1_000, "2"), output_mtok=tiered("2", 2_000, "3")) == (
        "tier thresholds differ between price keys"
    )
    assert refused(output_mtok=two) == "no input token price"
    assert refused() == "no price listed"


def test_engine_matches_genai_prices_on_every_representable_model():
    compared: set[tuple[str, str]] = set()
    crossed_tier: set[tuple[str, str]] = set()
    not_representable: Counter[str] = Counter()
    report: dict[str, list] = {"explained": [], "unexplained": []}
    comparisons = 0

    for provider in get_snapshot().providers:
        for model in provider.models:
            price, reason = current_price(model)
            pricing = None
            if price is not None:
                pricing, reason = to_pricing(price)
            if pricing is None:
                not_representable[reason] += 1
                continue
            compared.add((provider.id, model.id))
            for name, usage in usages_for(pricing).items():
                ours = breakdown(pricing, usage, model_id=model.id)
                theirs = price.calc_price(genai_usage(usage))["total_price"]
                comparisons += 1
                if ours.tier_above_input_tokens is not None:
                    crossed_tier.add((provider.id, model.id))
                _compare(provider.id, model.id, name, ours.total, theirs, report)

    summary = {
        "compared_models": len(compared),
        "comparisons": comparisons,
        "tiered_models_crossing_a_tier": len(crossed_tier),
        "not_representable": dict(not_representable.most_common()),
        "explained_differences": report["explained"],
    }
    print(summary)  # shown with -s
    unexplained = report["unexplained"]
    assert not unexplained, f"{len(unexplained)} unexplained differences:\n" + "\n".join(unexplained[:50])
    # genai-prices 0.2.3: 2,330 models, 2,089 representable, 147 of them tiered. Floors somewhat
    # below, so that a converter silently refusing models cannot pass.
    assert len(compared) >= 1_900, summary
    assert len(crossed_tier) >= 120, summary


def test_service_tiers_match_genai_prices_price_variants():
    compared: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    report: dict[str, list] = {"explained": [], "unexplained": []}

    for provider in get_snapshot().providers:
        for model in provider.models:
            if not model.price_variants:
                continue
            price, _ = current_price(model)
            pricing = to_pricing(price)[0] if price is not None else None
            if pricing is None:
                continue
            for tier_name, context in _SERVICE_TIER_CONTEXTS.items():
                prices, reason = service_tier_prices(model, price, context)
                if prices is None:
                    skipped[f"{tier_name}: {reason}"] += 1
                    continue
                compared[tier_name] += 1
                with_tier = dataclasses.replace(pricing, service_tiers={tier_name: prices})
                their_price = model.get_prices(NOW, context)
                for name, usage in usages_for(pricing).items():
                    ours = breakdown(with_tier, usage, model_id=model.id, service_tier=tier_name).total
                    theirs = their_price.calc_price(genai_usage(usage))["total_price"]
                    _compare(provider.id, model.id, f"{name}, {tier_name}", ours, theirs, report)

    summary = {"compared": dict(compared), "skipped": dict(skipped.most_common())}
    print(summary)
    unexplained = report["unexplained"]
    assert not unexplained, f"{len(unexplained)} unexplained differences:\n" + "\n".join(unexplained[:50])
    assert sum(compared.values()) >= 80, summary  # 102 model/tier pairs in genai-prices 0.2.3


# --------------------------------------------------------------------------------------------------
# Usage adapters against genai_prices.extract_usage
# --------------------------------------------------------------------------------------------------

# genai-prices Usage field -> the same count read from our TokenUsage.
_FIELD_MAP: dict[str, Any] = {
    "input_tokens": lambda u: u.input_tokens,
    "output_tokens": lambda u: u.output_tokens,
    "cache_read_tokens": lambda u: u.cached_input_tokens,
    "cache_write_tokens": lambda u: u.cache_write_tokens + u.cache_write_1h_tokens,
    "cache_write_5m_tokens": lambda u: u.cache_write_tokens,
    "cache_write_1h_tokens": lambda u: u.cache_write_1h_tokens,
    "input_audio_tokens": lambda u: u.audio_input_tokens,
    "output_audio_tokens": lambda u: u.audio_output_tokens,
    "input_image_tokens": lambda u: u.image_input_tokens,
    "output_image_tokens": lambda u: u.image_output_tokens,
    "output_reasoning_tokens": lambda u: u.reasoning_tokens,
    "web_searches": lambda u: u.requests.get("web_search", 0),
}

# Where the conventions differ on purpose: field -> why (the costs must still agree).
UNSPLIT_CACHE_WRITE = {
    # genai-prices leaves the lifetime of an unsplit cache_creation_input_tokens unknown (no 5m
    # count, billed at cache_write_mtok); we read it as 5-minute writes, the default lifetime,
    # billed at the same price.
    "cache_write_5m_tokens": "unsplit cache creation read as 5-minute writes",
}
GEMINI_DOCUMENT = {
    # genai-prices counts DOCUMENT-modality tokens (PDF pages) as image tokens; we leave them in
    # the text input. Gemini bills text, image, video and documents at one input rate.
    "input_image_tokens": "DOCUMENT tokens counted as text input",
}


def _case(usage_format: str, payload: dict[str, Any], case_id: str, explained: dict[str, str] | None = None):
    provider_id, api_flavor, model = {
        "openai-chat": ("openai", "chat", "gpt-4o"),
        "openai-responses": ("openai", "responses", "o3"),
        "anthropic": ("anthropic", "default", "claude-sonnet-4-5"),
        "gemini": ("google", "default", "gemini-2.5-pro"),
    }[usage_format]
    return pytest.param(
        usage_format, provider_id, api_flavor, model, payload, explained or {}, id=f"{usage_format}-{case_id}"
    )


def _chat_details(cached=0, audio_in=0, reasoning=0, audio_out=0) -> dict[str, Any]:
    return {
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": audio_in},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": audio_out,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _modalities(**counts: int) -> list[dict[str, Any]]:
    return [{"modality": modality, "tokenCount": count} for modality, count in counts.items()]


ADAPTER_CASES = [
    # OpenAI chat completions: prompt_tokens and completion_tokens include their details.
    _case("openai-chat", {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}, "bare"),
    _case(
        "openai-chat",
        {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29, **_chat_details()},
        "zero-details",
    ),
    _case(
        "openai-chat",
        {
            "prompt_tokens": 2_006,
            "completion_tokens": 300,
            "total_tokens": 2_306,
            **_chat_details(cached=1_920, reasoning=192),
        },
        "cached-and-reasoning",
    ),
    _case(
        "openai-chat",
        {
            "prompt_tokens": 1_500,
            "completion_tokens": 900,
            "total_tokens": 2_400,
            **_chat_details(audio_in=1_200, audio_out=800),
        },
        "audio",
    ),
    # OpenAI responses: input_tokens and output_tokens include their details.
    _case(
        "openai-responses",
        {
            "input_tokens": 36,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 87,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 123,
        },
        "plain",
    ),
    _case(
        "openai-responses",
        {
            "input_tokens": 12_000,
            "input_tokens_details": {"cached_tokens": 11_264},
            "output_tokens": 1_800,
            "output_tokens_details": {"reasoning_tokens": 1_536},
            "total_tokens": 13_800,
        },
        "cached-and-reasoning",
    ),
    _case("openai-responses", {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}, "bare"),
    # Anthropic: input_tokens exclude cache reads and writes.
    _case("anthropic", {"input_tokens": 2_095, "output_tokens": 503}, "bare"),
    _case(
        "anthropic",
        {
            "input_tokens": 50,
            "cache_creation_input_tokens": 1_000,
            "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 300,
            "service_tier": "standard",
            "server_tool_use": None,
        },
        "5m-write",
    ),
    _case(
        "anthropic",
        {
            "input_tokens": 21,
            "cache_creation_input_tokens": 1_800,
            "cache_read_input_tokens": 4_000,
            "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 1_500},
            "output_tokens": 640,
            "service_tier": "standard",
        },
        "1h-write-and-read",
    ),
    _case(
        "anthropic",
        {
            "input_tokens": 3,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 9_000,
            "output_tokens": 120,
            "server_tool_use": {"web_search_requests": 2},
            "service_tier": "standard",
        },
        "read-and-web-search",
    ),
    _case(
        "anthropic",
        {
            "input_tokens": 10,
            "cache_creation_input_tokens": 700,
            "cache_read_input_tokens": 0,
            "output_tokens": 5,
        },
        "unsplit-write",
        UNSPLIT_CACHE_WRITE,
    ),
    # Gemini: promptTokenCount includes the cached content; thoughts are outside candidates.
    _case(
        "gemini",
        {
            "promptTokenCount": 8,
            "candidatesTokenCount": 12,
            "totalTokenCount": 20,
            "promptTokensDetails": _modalities(TEXT=8),
            "candidatesTokensDetails": _modalities(TEXT=12),
        },
        "text",
    ),
    _case(
        "gemini",
        {
            "promptTokenCount": 1_000,
            "candidatesTokenCount": 200,
            "thoughtsTokenCount": 1_300,
            "totalTokenCount": 2_500,
            "promptTokensDetails": _modalities(TEXT=1_000),
        },
        "thoughts",
    ),
    _case(
        "gemini",
        {
            "promptTokenCount": 6_000,
            "cachedContentTokenCount": 4_096,
            "candidatesTokenCount": 150,
            "totalTokenCount": 6_150,
            "promptTokensDetails": _modalities(TEXT=6_000),
            "cacheTokensDetails": _modalities(TEXT=4_096),
        },
        "cached",
    ),
    _case(
        "gemini",
        {
            "promptTokenCount": 3_358,
            "candidatesTokenCount": 40,
            "totalTokenCount": 3_398,
            "promptTokensDetails": _modalities(TEXT=100, AUDIO=3_000, IMAGE=258),
            "candidatesTokensDetails": _modalities(TEXT=40),
        },
        "audio-and-image-input",
    ),
    _case(
        "gemini",
        {
            "promptTokenCount": 20,
            "candidatesTokenCount": 1_290,
            "totalTokenCount": 1_310,
            "promptTokensDetails": _modalities(TEXT=20),
            "candidatesTokensDetails": _modalities(IMAGE=1_290),
        },
        "image-output",
    ),
    _case(
        "gemini",
        {
            "promptTokenCount": 900,
            "toolUsePromptTokenCount": 400,
            "candidatesTokenCount": 300,
            "totalTokenCount": 1_600,
            "promptTokensDetails": _modalities(TEXT=900),
            "toolUsePromptTokensDetails": _modalities(TEXT=400),
        },
        "tool-use-prompt",
    ),
    _case(
        "gemini",
        {
            "promptTokenCount": 1_300,
            "candidatesTokenCount": 50,
            "totalTokenCount": 1_350,
            "promptTokensDetails": _modalities(TEXT=10, VIDEO=1_290),
        },
        "video-input",
    ),
    _case(
        "gemini",
        {
            "promptTokenCount": 1_300,
            "candidatesTokenCount": 50,
            "totalTokenCount": 1_350,
            "promptTokensDetails": _modalities(TEXT=10, DOCUMENT=1_290),
        },
        "document-input",
        GEMINI_DOCUMENT,
    ),
]


def _response(usage_format: str, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    if usage_format == "gemini":
        return {"modelVersion": model, "usageMetadata": usage}
    return {"model": model, "usage": usage}


@pytest.mark.parametrize(
    ("usage_format", "provider_id", "api_flavor", "model", "usage", "explained"), ADAPTER_CASES
)
def test_usage_adapters_agree_with_genai_prices_extract_usage(
    usage_format, provider_id, api_flavor, model, usage, explained
):
    ours = read_usage(usage, usage_format, strict=True)
    extracted = genai_prices.extract_usage(
        _response(usage_format, model, usage), provider_id=provider_id, api_flavor=api_flavor
    )
    reported = extracted.usage._reported_values()

    mismatches = {}
    for field_name, read in _FIELD_MAP.items():
        theirs = reported.get(field_name, 0)  # not reported: none of that part
        if read(ours) != theirs and field_name not in explained:
            mismatches[field_name] = (read(ours), theirs)
    assert not mismatches, f"(ours, genai-prices) per field: {mismatches}; genai-prices read {reported}"
    for field_name in explained:  # a convention that no longer differs should leave the list
        assert _FIELD_MAP[field_name](ours) != reported.get(field_name, 0), field_name

    # And the same request costs the same at the model's price (all four are representable).
    assert extracted.model is not None and extracted.model.id == model
    price, _ = current_price(extracted.model)
    pricing, reason = to_pricing(price)
    assert pricing is not None, reason
    theirs_total = extracted.calc_price(genai_request_timestamp=NOW).total_price
    assert breakdown(pricing, ours).total.normalize() == theirs_total.normalize()


def test_gemini_cached_audio_is_a_cache_read_counted_once():
    # Context caching of an audio prompt: promptTokensDetails covers the whole prompt, cached part
    # included, and cacheTokensDetails splits the cached part by modality. genai-prices reports the
    # cached audio inside both its cache reads and its audio input; we bill it once, as a cache read
    # (Pricing has no separate cached-audio rate: models priced that way are not representable above).
    usage = {
        "promptTokenCount": 3_100,
        "cachedContentTokenCount": 2_000,
        "candidatesTokenCount": 50,
        "totalTokenCount": 3_150,
        "promptTokensDetails": _modalities(TEXT=100, AUDIO=3_000),
        "cacheTokensDetails": _modalities(AUDIO=2_000),
    }
    ours = read_usage(usage, "gemini", strict=True)
    theirs = genai_prices.extract_usage(
        _response("gemini", "gemini-2.5-flash", usage), provider_id="google"
    ).usage._reported_values()
    assert (ours.input_tokens, ours.cached_input_tokens, ours.audio_input_tokens) == (3_100, 2_000, 1_000)
    assert theirs["input_tokens"] == ours.input_tokens
    assert theirs["cache_read_tokens"] == ours.cached_input_tokens
    assert theirs["input_audio_tokens"] == ours.audio_input_tokens + theirs["cache_audio_read_tokens"]
