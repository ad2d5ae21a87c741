"""The write services behind the admin: every write has a user, a reason and a history row."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from models_registry import registry
from models_registry.audit.history import versions_of
from models_registry.catalog import services
from models_registry.models import AIModel
from models_registry.read import catalog_version

from .conftest import timeline_entries


def test_update_records_user_and_reason_and_diff(gpt, editor):
    services.update_model(gpt, user=editor, reason="Price drop", changes={"input_price": Decimal("2")})

    latest = versions_of(gpt)[-1]
    assert latest.number == 2
    assert (latest.changed_by, latest.user_id, latest.reason) == ("editor", editor.pk, "Price drop")
    price, timeline = latest.changes
    assert (price.field, price.old, price.new) == ("input_price", "2.5", "2")
    # The price change joins the timeline: the old prices since the model was listed, then the new.
    assert (timeline.field, timeline.old) == ("price_schedule", "none")
    (since, old_prices), (changed_at, new_prices) = timeline_entries(timeline.new)
    assert (since, old_prices, new_prices) == (
        f"{gpt.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        "input 2.5, output 10",
        "input 2, output 10",
    )
    assert changed_at >= since
    gpt.refresh_from_db()
    assert gpt.updated_by == editor
    assert gpt.version == 2


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_every_write_needs_a_reason(gpt, editor, reason):
    with pytest.raises(ValidationError, match="reason"):
        services.update_model(gpt, user=editor, reason=reason, changes={"name": "Renamed"})
    with pytest.raises(ValidationError, match="reason"):
        services.deprecate_models([gpt], user=editor, reason=reason)
    with pytest.raises(ValidationError, match="reason"):
        services.revert_model(gpt, to_version=1, user=editor, reason=reason)
    gpt.refresh_from_db()
    assert (gpt.name, gpt.status, len(versions_of(gpt))) == ("GPT Test", "active", 1)


def test_stale_update_is_refused_and_names_what_changed(gpt, editor, superuser):
    seen = gpt.version
    other_copy = AIModel.objects.get(pk=gpt.pk)
    services.update_model(
        other_copy, user=superuser, reason="Vendor price", changes={"output_price": Decimal("12")}
    )

    with pytest.raises(services.EditConflict) as refused:
        services.update_model(
            gpt, user=editor, reason="Rename", changes={"name": "Mine"}, expected_version=seen
        )

    message = " ".join(refused.value.messages)
    assert "you edited version 1, it is now at version 2" in message
    assert "nothing was saved" in message.lower()
    assert "version 2 by root" in message.lower()
    assert "output_price: 10 → 12" in message
    gpt.refresh_from_db()
    assert (gpt.name, gpt.output_price, gpt.version) == ("GPT Test", Decimal("12"), 2)


def test_revert_adds_a_version_and_keeps_history(gpt, editor):
    services.update_model(
        gpt, user=editor, reason="Raise", changes={"input_price": Decimal("3"), "name": "X"}
    )
    before = [(v.number, v.reason, v.changes) for v in versions_of(gpt)]

    services.revert_model(gpt, to_version=1, user=editor, reason="Announced by mistake")

    versions = versions_of(gpt)
    assert [(v.number, v.reason, v.changes) for v in versions[:2]] == before  # never rewritten
    assert versions[2].reason == "Reverted to v1: Announced by mistake"
    assert (versions[2].number, versions[2].change_type) == (3, "reverted")
    assert (versions[2].changed_by, versions[2].user_id) == ("editor", editor.pk)
    changes = {c.field: (c.old, c.new) for c in versions[2].changes}
    timeline_before, timeline_after = changes.pop("price_schedule")
    assert changes == {
        "input_price": ("3", "2.5"),
        "name": ("X", "GPT Test"),
    }
    # The raise took effect, so it stays in the timeline; the restored price is added from now on.
    assert timeline_before == {c.field: c.new for c in versions[1].changes}["price_schedule"]
    assert [prices for _, prices in timeline_entries(timeline_before)] == [
        "input 2.5, output 10",
        "input 3, output 10",
    ]
    assert timeline_after.startswith(timeline_before + "\n")
    assert [prices for _, prices in timeline_entries(timeline_after)] == [
        "input 2.5, output 10",
        "input 3, output 10",
        "input 2.5, output 10",
    ]
    gpt.refresh_from_db()
    assert (gpt.name, gpt.input_price, gpt.version) == ("GPT Test", Decimal("2.5"), 3)
    assert [entry["pricing"]["input"] for entry in gpt.price_schedule] == ["2.5", "3", "2.5"]


def test_revert_to_the_current_state_is_refused(gpt, editor):
    with pytest.raises(ValidationError, match="nothing to revert"):
        services.revert_model(gpt, to_version=1, user=editor, reason="No-op")
    gpt.refresh_from_db()
    assert gpt.version == 1
    assert len(versions_of(gpt)) == 1


def test_revert_is_validated_like_an_edit(gpt, editor):
    # A version stored before today's rules (written around validation) cannot come back.
    AIModel.objects.filter(pk=gpt.pk).update(name="Bad")
    gpt.history.update(host_order=["a", "a"])  # an old version with a host listed twice
    gpt.refresh_from_db()
    services.update_model(gpt, user=editor, reason="Fix", changes={"name": "Fixed"})

    with pytest.raises(ValidationError) as refused:
        services.revert_model(gpt, to_version=1, user=editor, reason="Back")

    assert "host_order" in refused.value.message_dict
    gpt.refresh_from_db()
    assert (gpt.name, gpt.version) == ("Fixed", 2)


def test_duplicate_copies_everything_but_id_and_name(claude, editor):
    copy = services.duplicate_model(
        claude, new_model_id="anthropic:claude-copy", new_name="Claude Copy", user=editor, reason=""
    )

    assert copy.reasoning_config == claude.reasoning_config
    assert (copy.provider, copy.output_price, copy.created_by) == (claude.provider, Decimal("15"), editor)
    assert versions_of(copy)[0].reason == "Duplicated from anthropic:claude-test"


def test_duplicate_refuses_an_existing_id(claude, gpt, editor):
    with pytest.raises(ValidationError) as refused:
        services.duplicate_model(claude, new_model_id=gpt.model_id, new_name="X", user=editor)
    assert "model_id" in refused.value.message_dict


@override_settings(MODELS_REGISTRY_SOURCE="database")
def test_deprecated_models_leave_the_registry_and_come_back(
    gpt, claude, editor, django_capture_on_commit_callbacks
):
    listed = {m.id for m in registry.list_models()}
    assert {"openai:gpt-test", "anthropic:claude-test"} <= listed

    with django_capture_on_commit_callbacks(execute=True):
        changed = services.deprecate_models([gpt, claude], user=editor, reason="Retired")
    assert changed == [gpt, claude]
    assert not {"openai:gpt-test", "anthropic:claude-test"} & {m.id for m in registry.list_models()}
    assert registry.get_model("openai:gpt-test").status == "deprecated"  # old conversations still resolve
    assert versions_of(gpt)[-1].change_type == "deprecated"

    with django_capture_on_commit_callbacks(execute=True):
        services.reactivate_models([gpt], user=editor, reason="Back by demand", status="beta")
    assert registry.get_model("openai:gpt-test").status == "beta"
    assert "openai:gpt-test" in {m.id for m in registry.list_models()}


def test_deprecating_twice_records_nothing_new(gpt, editor):
    services.deprecate_models([gpt], user=editor, reason="Retired")
    assert services.deprecate_models([gpt], user=editor, reason="Again") == []
    gpt.refresh_from_db()
    assert gpt.version == 2
    assert [v.change_type for v in versions_of(gpt)] == ["created", "deprecated"]


def test_writes_bump_the_catalog_version(gpt, editor, django_capture_on_commit_callbacks):
    before = catalog_version.database_version()
    with django_capture_on_commit_callbacks(execute=True):
        services.update_model(gpt, user=editor, reason="Bump", changes={"name": "Bumped"})
        services.deprecate_models([gpt], user=editor, reason="Bump")
        services.revert_model(gpt, to_version=1, user=editor, reason="Bump")
    assert catalog_version.database_version() == before + 3  # the truth, with or without Redis


def test_deprecating_a_stale_instance_keeps_an_edit_saved_meanwhile(gpt, editor, superuser):
    stale = AIModel.objects.get(pk=gpt.pk)  # loaded by the deprecate page before the edit below
    services.update_model(gpt, user=superuser, reason="price drop", changes={"input_price": Decimal("1")})
    services.deprecate_models([stale], user=editor, reason="superseded")
    stored = AIModel.objects.get(pk=gpt.pk)
    assert stored.status == "deprecated"
    assert stored.input_price == Decimal("1")
    assert [v.changed_fields for v in versions_of(stored)][-1] == ("status",)


def test_an_update_applies_only_its_changes_to_what_is_stored(gpt, editor, superuser):
    stale = AIModel.objects.get(pk=gpt.pk)
    services.update_model(gpt, user=superuser, reason="price drop", changes={"input_price": Decimal("1")})
    services.update_model(stale, user=editor, reason="rename", changes={"name": "GPT-5 (2025)"})
    stored = AIModel.objects.get(pk=gpt.pk)
    assert (stored.name, stored.input_price) == ("GPT-5 (2025)", Decimal("1"))
