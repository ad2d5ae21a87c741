"""Fixtures for the router tests: hand-made catalogs for the pure logic, a seeded database for the rest."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from autorouter.defaults import DEFAULT_SETTINGS
from autorouter.types import CATEGORIES, Classification, Profile
from models_registry.domain.types import ModelConfig, Pricing


def make_model(
    model_id: str,
    price: str | tuple[str, str] = "1",
    *,
    capabilities: tuple[str, ...] = (),
    context_window: int = 200_000,
    status: str = "active",
    internal: bool = False,
    hosts: tuple[str, ...] = (),
    name: str | None = None,
    pro: bool = False,
) -> ModelConfig:
    """A catalog model. ``price`` is the average price (input = output) or an (input, output) pair."""
    input_price, output_price = (price, price) if isinstance(price, str) else price
    provider = model_id.split(":", 1)[0]
    return ModelConfig(
        id=model_id,
        provider=provider,
        name=name or model_id.split(":", 1)[1],
        context_window=context_window,
        pricing=Pricing(input=Decimal(input_price), output=Decimal(output_price)),
        capabilities=frozenset(capabilities),
        status=status,
        is_internal_only=internal,
        is_pro=pro,
        host_order=hosts,
    )


def make_profile(quality: int = 80, default: int = 70, **scores: int) -> Profile:
    return Profile(
        quality=quality, scores={category: scores.get(category, default) for category in CATEGORIES}
    )


def make_classification(**overrides) -> Classification:
    values = {
        "primary": "conversation",
        "secondary": None,
        "complexity": "moderate",
        "needs_vision": False,
        "needs_long_context": False,
        "needs_reasoning": False,
        "high_stakes": False,
        "domain": None,
        "action": "change",
        "confidence": 0.8,
    }
    values.update(overrides)
    return Classification(**values)


@pytest.fixture
def defaults():
    return DEFAULT_SETTINGS


@pytest.fixture
def with_settings():
    """``with_settings(name=value, ...)``: the default settings with some parameters changed."""

    def build(**changes):
        return replace(DEFAULT_SETTINGS, **changes)

    return build


@pytest.fixture
def three_tiers():
    """One model per price tier, same profile: only the tier roll decides."""
    catalog = [make_model("x:cheap", "0.5"), make_model("x:mid", "2"), make_model("x:premium", "10")]
    profiles = {model.id: make_profile() for model in catalog}
    return catalog, profiles


CORE_MODELS = ("openai:gpt-oss-120b", "openai:gpt-5-mini", "openai:gpt-5", "anthropic:claude-haiku-4.5")


@pytest.fixture
def core_models(db, static_catalog):
    """A few catalog models (the default router and fallback models among them): quicker than ``seeded``."""
    from models_registry.catalog.services import seed_models

    models = [model for model in static_catalog.models if model.id in CORE_MODELS]
    assert seed_models(models, provider_names=static_catalog.providers).ok


@pytest.fixture
def router_db(seeded, django_capture_on_commit_callbacks):
    """The seeded catalog plus the router config and profiles, committed as a real run would."""
    from autorouter.services import seed_config, seed_profiles

    with django_capture_on_commit_callbacks(execute=True):
        seed_config()
        seed_profiles()


@pytest.fixture
def config_db(core_models):
    """A few catalog models and the router config: enough for the config pages."""
    from autorouter.services import seed_config

    seed_config()


@pytest.fixture
def database_source(settings):
    """Every flag on: the router (and the registry) read the database."""
    settings.MODELS_REGISTRY_SOURCE = "database"
