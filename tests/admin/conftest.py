"""Fixtures for the admin tests: a small catalog built through the services, and form helpers."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from models_registry.catalog import services
from models_registry.domain.fields import in_force_since
from models_registry.models import CAPABILITY_FIELDS, AIModel

ROLES = ("anonymous", "non_staff", "viewer", "editor", "superuser")


@pytest.fixture
def providers(db):
    return {
        slug: services.create_provider(slug=slug, name=name, user=None, reason="Test setup")
        for slug, name in (("openai", "OpenAI"), ("anthropic", "Anthropic"))
    }


@pytest.fixture
def gpt(providers) -> AIModel:
    """openai:gpt-test at version 1."""
    return services.create_model(
        provider=providers["openai"],
        user=None,
        reason="Test setup",
        model_id="openai:gpt-test",
        name="GPT Test",
        description="A model for tests.",
        context_window=128_000,
        input_price=Decimal("2.5"),
        output_price=Decimal("10"),
        supports_vision=True,
        host_order=["azure", "openai"],
    )


@pytest.fixture
def claude(providers) -> AIModel:
    return services.create_model(
        provider=providers["anthropic"],
        user=None,
        reason="Test setup",
        model_id="anthropic:claude-test",
        name="Claude Test",
        context_window=200_000,
        input_price=Decimal("3"),
        output_price=Decimal("15"),
        reasoning_config={"type": "anthropic-extended-thinking", "budgetMapping": {"low": 1024}},
    )


def user_for(request: pytest.FixtureRequest, role: str):
    """The user fixture for ``role`` (from tests/conftest.py), ``None`` for anonymous."""
    return None if role == "anonymous" else request.getfixturevalue(role)


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:models_registry_aimodel_{name}", args=args)


def change_form_data(
    model: AIModel, *, reason: str = "", seen_version: int | None = None, **overrides: Any
) -> dict:
    """The POST body of the change form for ``model`` as it is, with ``overrides`` applied."""
    data: dict[str, Any] = {
        "provider": model.provider_id,
        "name": model.name,
        "description": model.description,
        "context_window": model.context_window,
        "input_price": model.input_price,
        "output_price": model.output_price,
        "cached_input_price": model.cached_input_price if model.cached_input_price is not None else "",
        "reasoning_price": model.reasoning_price if model.reasoning_price is not None else "",
        "reasoning_config": json.dumps(model.reasoning_config),
        "gateway": model.gateway,
        "host_order": "\n".join(model.host_order),
        "actual_model_id": model.actual_model_id,
        "knowledge_cutoff": model.knowledge_cutoff,
        "speed_tier": model.speed_tier,
        "user_friendly_description": model.user_friendly_description,
        "best_for": model.best_for,
        "benchmarks": json.dumps(model.benchmarks),
        "status": model.status,
        "reason": reason,
        "seen_version": model.version if seen_version is None else seen_version,
        # Which price-timeline entry was in force when the page opened (a hidden field of the form).
        "prices_in_force_since": in_force_since(model.price_schedule or [], timezone.now()),
        "_save": "Save",
    }
    for flag in (*CAPABILITY_FIELDS, "is_local", "is_pro", "is_internal_only", "is_experimental"):
        if getattr(model, flag):
            data[flag] = "on"
    for name, value in overrides.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return {key: ("" if value is None else value) for key, value in data.items()}


def add_form_data(provider_id: int, *, model_id: str, reason: str = "", **overrides: Any) -> dict:
    data = {
        "model_id": model_id,
        "provider": provider_id,
        "name": "New model",
        "context_window": 32_000,
        "input_price": "1",
        "output_price": "2",
        "reasoning_config": "null",
        "host_order": "",
        "benchmarks": "null",
        "status": "active",
        "reason": reason,
        "_save": "Save",
    }
    data.update(overrides)
    return data


def entry(model_id: str = "openai:gpt-new", **overrides: Any) -> dict:
    """One import-file object."""
    value = {
        "id": model_id,
        "provider": model_id.split(":", 1)[0],
        "name": "GPT New",
        "context_window": 64_000,
        "pricing": {"input": "1.25", "output": "5"},
        "capabilities": ["vision"],
        "status": "active",
    }
    value.update(overrides)
    return value


def history_rows() -> int:
    return AIModel.history.count()


def stored_version(obj: Any) -> int:
    """The version of ``obj`` as stored now (the in-memory copy may be stale)."""
    return type(obj)._default_manager.filter(pk=obj.pk).values_list("version", flat=True).get()


TIMELINE_LINE = re.compile(r"from (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC: (.+)")


def timeline_entries(text: str) -> list[tuple[str, str]]:
    """A price timeline as the history shows it: (UTC time, prices) per line."""
    matches = [TIMELINE_LINE.fullmatch(line) for line in text.split("\n")]
    assert all(matches), text
    return [(match.group(1), match.group(2)) for match in matches]
