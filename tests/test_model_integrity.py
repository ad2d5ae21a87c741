"""Integrity rules hold through full_clean() and, where the issue asks, in the database itself."""

import re
from datetime import UTC
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from models_registry.audit.history import version_of, versions_of
from models_registry.catalog.services import deprecate_models, reactivate_models, update_model
from models_registry.models import AIModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def gpt5(seeded):
    return AIModel.objects.get(model_id="openai:gpt-5")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_price", Decimal("-1")),
        ("output_price", Decimal("-0.01")),
        ("cached_input_price", Decimal("-1")),
        ("reasoning_price", Decimal("-1")),
        ("context_window", 0),
        ("status", "retired"),
        ("reasoning_config", {"type": "anthropic-extended-thinking", "effortMapping": {"low": "low"}}),
        ("reasoning_config", {"type": "no-such-type"}),
        ("host_order", ["groq", "groq"]),
    ],
)
def test_full_clean_names_the_field(gpt5, field, value):
    setattr(gpt5, field, value)
    with pytest.raises(ValidationError) as excinfo:
        gpt5.full_clean()
    assert field in excinfo.value.message_dict


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("input_price", Decimal("-1"), "aimodel_input_price_gte_0"),
        ("output_price", Decimal("-1"), "aimodel_output_price_gte_0"),
        ("cached_input_price", Decimal("-1"), "aimodel_cached_input_price_gte_0"),
        ("reasoning_price", Decimal("-1"), "aimodel_reasoning_price_gte_0"),
        ("context_window", 0, "aimodel_context_window_gt_0"),
        ("status", "retired", "aimodel_status_valid"),
    ],
)
def test_database_constraint_holds_when_validation_is_bypassed(gpt5, field, value, constraint):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        AIModel.objects.filter(pk=gpt5.pk).update(**{field: value})
    # SQLite names the constraint; PostgreSQL names it too. Either way the row is unchanged.
    assert constraint in str(excinfo.value) or "check" in str(excinfo.value).lower()
    gpt5.refresh_from_db()
    assert getattr(gpt5, field) != value


def test_model_id_is_unique_in_the_database(gpt5):
    duplicate = AIModel(
        model_id=gpt5.model_id,
        provider=gpt5.provider,
        name="Copy",
        context_window=1,
        input_price=1,
        output_price=1,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_model_id_cannot_change_after_creation(gpt5):
    gpt5.model_id = "openai:gpt-5-renamed"
    with pytest.raises(ValidationError) as excinfo:
        gpt5.full_clean()
    assert "model_id" in excinfo.value.message_dict
    with pytest.raises(ValidationError):
        gpt5.save()
    assert AIModel.objects.filter(model_id="openai:gpt-5").exists()


def test_changing_two_fields_makes_version_2_with_exactly_that_diff(gpt5, editor):
    update_model(
        gpt5,
        user=editor,
        reason="OpenAI price drop",
        changes={"input_price": Decimal("2.00"), "context_window": 400000},
    )
    version = version_of(gpt5, 2)
    assert version.number == 2
    assert version.change_type == "updated"
    assert (version.changed_by, version.user_id) == ("editor", editor.pk)
    assert version.reason == "OpenAI price drop"
    changes = {c.field: (c.old, c.new) for c in version.changes}
    timeline_old, timeline_new = changes.pop("price_schedule")
    assert changes == {
        "input_price": ("2.5", "2"),
        "context_window": ("200000", "400000"),
    }
    # The price change joins the timeline: the old prices since the model was listed, then the new.
    assert timeline_old == "none"
    since, changed = timeline_new.split("\n")
    listed_since = f"{gpt5.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
    assert since == f"from {listed_since} UTC: input 2.5, output 10, cached input 0.25"
    assert re.fullmatch(
        r"from \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC: input 2, output 10, cached input 0\.25", changed
    ), changed
    assert AIModel.objects.get(pk=gpt5.pk).version == 2


def test_deprecating_is_its_own_change_type(gpt5, editor):
    deprecate_models([gpt5], user=editor, reason="Superseded")
    reactivate_models([gpt5], user=editor, reason="Back", status="beta")
    assert [v.change_type for v in versions_of(gpt5)] == ["created", "deprecated", "reactivated"]
    assert [(c.field, c.old, c.new) for c in version_of(gpt5, 2).changes] == [
        ("status", "active", "deprecated")
    ]


def test_deprecating_through_an_edit_is_typed_deprecated_too(gpt5, editor):
    # The change form's status field deprecates a model as well; its history says so.
    update_model(gpt5, user=editor, reason="Superseded", changes={"status": "deprecated"})
    assert [v.change_type for v in versions_of(gpt5)] == ["created", "deprecated"]


def test_a_write_without_a_reason_is_refused(gpt5, editor):
    with pytest.raises(ValidationError) as excinfo:
        update_model(gpt5, user=editor, reason="  ", changes={"name": "X"})
    assert "reason" in excinfo.value.message_dict
    gpt5.refresh_from_db()
    assert gpt5.name == "GPT-5"
    assert len(versions_of(gpt5)) == 1


def test_a_failed_update_writes_no_history(gpt5, editor):
    with pytest.raises(ValidationError):
        update_model(gpt5, user=editor, reason="oops", changes={"input_price": Decimal("-5")})
    assert len(versions_of(gpt5)) == 1
    assert AIModel.objects.get(pk=gpt5.pk).input_price == Decimal("2.5")
