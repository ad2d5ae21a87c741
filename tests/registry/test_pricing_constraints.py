"""The database itself refuses prices the rules forbid, even from a write that bypasses the application."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from models_registry import registry
from models_registry.catalog.services import ImportRejected, import_models, update_model
from models_registry.models import AIModel


@pytest.mark.skipif(connection.vendor != "postgresql", reason="JSON check constraints are PostgreSQL's")
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("price_tiers", [{"above_input_tokens": 200000, "input": "2"}, {"above_input_tokens": 128000}]),
        ("price_tiers", [{"above_input_tokens": 0, "input": "2"}]),
        ("price_tiers", [{"above_input_tokens": 1000, "output": "-1"}]),
        ("service_tiers", {"batch": {"multiplier": "-0.5"}}),
        ("request_fees", {"web_search_per_1000": "-10"}),
    ],
)
def test_a_raw_update_with_a_bad_json_price_is_refused_by_the_database(seeded, column, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        AIModel.objects.filter(model_id="openai:gpt-5").update(**{column: value})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="JSON check constraints are PostgreSQL's")
def test_the_database_accepts_what_the_rules_accept(seeded):
    AIModel.objects.filter(model_id="openai:gpt-5").update(
        price_tiers=[
            {"above_input_tokens": 128000, "input": "2"},
            {"above_input_tokens": 272000, "input": "3"},
        ],
        service_tiers={"batch": {"multiplier": "0.5"}, "priority": {"input": "2.5", "output": "20"}},
        request_fees={"web_search_per_1000": "10"},
    )


def test_an_import_cannot_rewrite_prices_that_took_effect(seeded):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    update_model(model, user=None, reason="cut", changes={"input_price": Decimal("2")})
    model.refresh_from_db()
    forged = [dict(entry) for entry in model.price_schedule]
    forged[0] = {**forged[0], "pricing": {"input": "0.01", "output": "0.01"}}

    with pytest.raises(ImportRejected) as refused:
        import_models([{"id": "openai:gpt-5", "price_schedule": forged}], user=None, reason="sneaky")

    assert [(error.field, "history" in error.message) for error in refused.value.plan.errors] == [
        ("price_schedule", True)
    ]


def test_a_model_past_its_deprecation_date_is_not_selectable_but_still_priced(seeded, settings):
    settings.MODELS_REGISTRY_SOURCE = "database"
    model = AIModel.objects.get(model_id="openai:gpt-5")
    update_model(
        model,
        user=None,
        reason="retiring",
        changes={
            "deprecation_date": timezone.now().date() - timedelta(days=1),
            "successor": "openai:gpt-5-mini",
        },
    )

    config = registry.get_model("openai:gpt-5")
    assert config.successor == "openai:gpt-5-mini"
    assert not config.is_selectable
    assert "openai:gpt-5" not in [m.id for m in registry.list_models(provider="openai")]
    assert "openai:gpt-5" not in [m.id for m in registry.search_models("gpt-5")]
    assert registry.calculate_cost("openai:gpt-5", input_tokens=1_000_000, output_tokens=0) == Decimal("2.5")


def test_a_deprecation_date_still_ahead_changes_nothing_yet(seeded, settings):
    settings.MODELS_REGISTRY_SOURCE = "database"
    model = AIModel.objects.get(model_id="openai:gpt-5")
    update_model(
        model,
        user=None,
        reason="announced",
        changes={"deprecation_date": timezone.now().date() + timedelta(days=30)},
    )
    assert "openai:gpt-5" in [m.id for m in registry.list_models(provider="openai")]
