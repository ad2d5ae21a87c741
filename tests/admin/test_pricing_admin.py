"""Pricing in the model form: tiers, service tiers and fees as rows; scheduled prices; the timeline."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from models_registry import registry
from models_registry.audit.history import versions_of
from models_registry.catalog import services
from models_registry.domain.fields import format_datetime_utc
from models_registry.models import AIModel

from .conftest import change_form_data, stored_version, url
from .test_import_export_admin import confirm, upload


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def _rows(name: str, rows: list[dict[str, str]], count: int | None = None) -> dict[str, str]:
    data = {f"{name}-count": str(count or len(rows))}
    for index, row in enumerate(rows):
        data.update({f"{name}-{index}-{column}": value for column, value in row.items()})
    return data


def test_tiers_entered_as_rows_are_stored_exactly_and_read_well_in_the_history(editor_client, gpt):
    rows = _rows(
        "price_tiers", [{"above_input_tokens": "200,000", "input": "2.50", "output": "15"}, {}], count=3
    )
    response = editor_client.post(url("change", gpt.pk), change_form_data(gpt, reason="Long context", **rows))

    assert response.status_code == 302
    gpt.refresh_from_db()
    assert gpt.price_tiers == [{"above_input_tokens": 200000, "input": "2.5", "output": "15"}]
    change = {c.field: c for c in versions_of(gpt)[-1].changes}["price_tiers"]
    assert (change.old, change.new) == ("none", "above 200,000 tokens: input 2.5, output 15")
    # The form shows the stored tier in its row, and two empty rows to add more.
    page = editor_client.get(url("change", gpt.pk)).text
    assert 'name="price_tiers-0-above_input_tokens" value="200000"' in page
    assert 'name="price_tiers-count" value="3"' in page


def test_tiers_out_of_order_are_refused_with_the_rows_kept_and_nothing_written(editor_client, gpt):
    rows = _rows(
        "price_tiers",
        [{"above_input_tokens": "272000", "input": "5"}, {"above_input_tokens": "128000", "input": "4"}],
    )
    response = editor_client.post(url("change", gpt.pk), change_form_data(gpt, reason="Tiers", **rows))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["price_tiers"]
    assert errors == ["tier 2: above_input_tokens must be greater than the tier before (272000)"]
    assert 'name="price_tiers-1-above_input_tokens" value="128000"' in response.text  # what was typed
    assert stored_version(gpt) == 1


def test_service_tiers_and_fees_are_rows_too(editor_client, gpt):
    rows = {
        **_rows("service_tiers", [{"multiplier": "0.5"}, {}, {"input": "5", "output": "20"}]),
        **_rows("request_fees", [{"fee": "web_search_per_1000", "price": "10"}]),
    }
    response = editor_client.post(url("change", gpt.pk), change_form_data(gpt, reason="Tiers", **rows))

    assert response.status_code == 302
    gpt.refresh_from_db()
    assert gpt.service_tiers == {"batch": {"multiplier": "0.5"}, "priority": {"input": "5", "output": "20"}}
    assert gpt.request_fees == {"web_search_per_1000": "10"}
    assert services.config_from_model(gpt).pricing.request_fees[0].per == 1000


def test_a_price_scheduled_for_later_leaves_the_listed_price_and_bills_from_its_time(
    editor_client, gpt, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(days=3)
    data = change_form_data(
        gpt,
        reason="Announced price cut",
        input_price="2",
        prices_effective_from=later.strftime("%Y-%m-%d %H:%M:%S"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(url("change", gpt.pk), data)

    assert response.status_code == 302
    gpt.refresh_from_db()
    assert gpt.input_price == Decimal("2.5")  # listed until then
    assert [entry["pricing"]["input"] for entry in gpt.price_schedule] == ["2.5", "2"]
    with_source = {"subject": None}

    with override_settings(MODELS_REGISTRY_SOURCE="database"):
        usage = {"input_tokens": 1_000_000, "output_tokens": 0}
        assert (
            registry.cost_for_usage(gpt.model_id, usage, usage_format="generic", **with_source).total == 2.5
        )
        at_then = later + timedelta(seconds=1)
        assert registry.cost_for_usage(gpt.model_id, usage, usage_format="generic", at=at_then).total == 2
    page = editor_client.get(url("change", gpt.pk)).text
    assert "in force" in page and "scheduled" in page
    assert 'name="cancel_scheduled"' in page


def test_a_time_in_the_past_is_refused_not_taken_as_now(editor_client, gpt):
    data = change_form_data(gpt, reason="Oops", input_price="2", prices_effective_from="2020-01-01 00:00")
    response = editor_client.post(url("change", gpt.pk), data)

    assert response.context["adminform"].form.errors["prices_effective_from"] == [
        "Give a future time (UTC) to schedule the prices, or leave it blank for now."
    ]
    assert stored_version(gpt) == 1


def test_a_scheduled_price_can_be_cancelled_before_it_takes_effect(editor_client, gpt):
    later = timezone.now() + timedelta(days=3)
    services.update_model(
        gpt, user=None, reason="Plan", changes={"input_price": Decimal("2")}, prices_effective_from=later
    )
    moment = format_datetime_utc(later)
    since = (
        editor_client.get(url("change", gpt.pk)).context["adminform"].form.initial["prices_in_force_since"]
    )
    data = change_form_data(
        gpt, reason="Vendor withdrew the cut", cancel_scheduled=[moment], prices_in_force_since=since
    )
    response = editor_client.post(url("change", gpt.pk), data)

    assert response.status_code == 302
    gpt.refresh_from_db()
    assert [entry["effective_from"] for entry in gpt.price_schedule] == [format_datetime_utc(gpt.created_at)]
    assert versions_of(gpt)[-1].reason == "Vendor withdrew the cut"


def test_after_a_scheduled_price_took_effect_the_form_shows_and_saves_the_prices_in_force(editor_client, gpt):
    # Time passes: the scheduled entry is now in the past (set directly, as the clock would).
    past = format_datetime_utc(timezone.now() - timedelta(minutes=1))
    timeline = [
        {
            "effective_from": format_datetime_utc(gpt.created_at - timedelta(days=1)),
            "pricing": {"input": "2.5", "output": "10"},
        },
        {"effective_from": past, "pricing": {"input": "2", "output": "10"}},
    ]
    AIModel.objects.filter(pk=gpt.pk).update(price_schedule=timeline)
    gpt.refresh_from_db()

    form = editor_client.get(url("change", gpt.pk)).context["adminform"].form
    assert form.initial["input_price"] == "2"
    since = form.initial["prices_in_force_since"]
    response = editor_client.post(
        url("change", gpt.pk),
        change_form_data(
            gpt, reason="Rename", name="GPT Renamed", input_price="2", prices_in_force_since=since
        ),
    )

    assert response.status_code == 302
    gpt.refresh_from_db()
    assert (gpt.name, gpt.input_price) == ("GPT Renamed", Decimal("2"))
    assert gpt.price_schedule == timeline  # catching up is not a new price change


def test_export_and_reimport_of_every_pricing_key_is_a_no_op(editor_client, gpt):
    services.update_model(
        gpt,
        user=None,
        reason="Everything",
        changes={
            "cache_write_5m_price": Decimal("3.125"),
            "audio_input_price": Decimal("40"),
            "price_tiers": [{"above_input_tokens": 272000, "input": "5", "output": "20"}],
            "service_tiers": {"batch": {"multiplier": "0.5"}},
            "request_fees": {"web_search_per_1000": "10"},
            "max_output_tokens": 128000,
            "deprecation_date": timezone.now().date() + timedelta(days=90),
            "successor": "openai:gpt-next",
        },
    )
    services.update_model(
        gpt,
        user=None,
        reason="Plan",
        changes={"output_price": Decimal("8")},
        prices_effective_from=timezone.now() + timedelta(days=10),
    )
    exported = editor_client.get(url("export")).content
    entry = next(item for item in json.loads(exported) if item["id"] == gpt.model_id)
    assert entry["pricing"]["tiers"] == [{"above_input_tokens": 272000, "input": "5", "output": "20"}]
    assert entry["deprecation_date"] == (timezone.now().date() + timedelta(days=90)).isoformat()
    assert len(entry["price_schedule"]) == 3
    version = stored_version(gpt)

    done = confirm(editor_client, upload(editor_client, exported))

    assert "0 new, 0 updated" in done.text
    assert stored_version(gpt) == version


def _took_effect_a_minute_ago(model: AIModel, pricing: dict) -> None:
    """Time passes: a scheduled entry is now in force (set directly, as the clock would)."""
    timeline = [
        {
            "effective_from": format_datetime_utc(model.created_at),
            "pricing": {"input": "2.5", "output": "10"},
        },
        {"effective_from": format_datetime_utc(timezone.now() - timedelta(minutes=1)), "pricing": pricing},
    ]
    AIModel.objects.filter(pk=model.pk).update(price_schedule=timeline)
    model.refresh_from_db()


def test_a_change_of_one_price_starts_from_the_prices_in_force_not_the_listed_ones(gpt):
    _took_effect_a_minute_ago(gpt, {"input": "2", "output": "8"})

    services.update_model(gpt, user=None, reason="input only", changes={"input_price": Decimal("3")})

    gpt.refresh_from_db()
    assert gpt.price_schedule[-1]["pricing"] == {"input": "3", "output": "8"}  # not output 10
    assert (gpt.input_price, gpt.output_price) == (Decimal("3"), Decimal("8"))  # the listed prices caught up


def test_a_form_opened_before_a_scheduled_price_took_effect_is_refused(editor_client, gpt):
    form = editor_client.get(url("change", gpt.pk)).context["adminform"].form
    data = change_form_data(
        gpt,
        reason="Output cut",
        output_price="9",
        prices_in_force_since=form.initial.get("prices_in_force_since", ""),
    )
    _took_effect_a_minute_ago(gpt, {"input": "2", "output": "8"})

    response = editor_client.post(url("change", gpt.pk), data)

    assert response.status_code == 200
    assert "A scheduled price took effect while you were editing" in response.text
    gpt.refresh_from_db()
    assert stored_version(gpt) == 1


def test_a_timeline_of_only_scheduled_entries_keeps_the_listed_prices_as_its_past(gpt):
    later = format_datetime_utc(timezone.now() + timedelta(days=5))
    AIModel.objects.filter(pk=gpt.pk).update(
        price_schedule=[{"effective_from": later, "pricing": {"input": "1", "output": "5"}}]
    )
    gpt.refresh_from_db()

    services.update_model(gpt, user=None, reason="now", changes={"input_price": Decimal("2")})

    gpt.refresh_from_db()
    assert [entry["pricing"]["input"] for entry in gpt.price_schedule] == ["2.5", "2", "1"]
