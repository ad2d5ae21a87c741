"""The AI model admin as an editor uses it: change form, history, revert, actions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models_registry.audit.history import versions_of
from models_registry.catalog import services
from models_registry.models import AIModel, Provider

from .conftest import add_form_data, change_form_data, history_rows, stored_version, timeline_entries, url


def timeline_prices(text: str) -> list[str]:
    """The prices on each line of a price timeline as the history shows it."""
    return [prices for _, prices in timeline_entries(text)]


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def test_change_with_reason_creates_version_2(editor_client, gpt):
    response = editor_client.post(
        url("change", gpt.pk), change_form_data(gpt, input_price="2.25", reason="Vendor price cut")
    )
    assert response.status_code == 302

    gpt.refresh_from_db()
    assert gpt.input_price == Decimal("2.25")
    latest = versions_of(gpt)[-1]
    assert (latest.number, latest.changed_by, latest.reason) == (2, "editor", "Vendor price cut")
    page = editor_client.get(url("change", gpt.pk)).text
    assert "version 2</strong> · changed by editor" in page
    assert "Vendor price cut" in page


def test_saving_without_a_reason_fails_and_changes_nothing(editor_client, gpt):
    response = editor_client.post(url("change", gpt.pk), change_form_data(gpt, input_price="1", reason="  "))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reason"] == ["This field is required."]
    gpt.refresh_from_db()
    assert (gpt.input_price, stored_version(gpt)) == (Decimal("2.5"), 1)


def test_adding_without_a_reason_fails(editor_client, gpt):
    response = editor_client.post(url("add"), add_form_data(gpt.provider_id, model_id="openai:gpt-added"))
    assert response.context["adminform"].form.errors["reason"] == ["This field is required."]
    assert not AIModel.objects.filter(model_id="openai:gpt-added").exists()


def test_adding_with_a_reason_records_version_1(editor_client, editor, gpt):
    editor_client.post(
        url("add"), add_form_data(gpt.provider_id, model_id="openai:gpt-added", reason="Launch")
    )
    added = AIModel.objects.get(model_id="openai:gpt-added")
    assert [(v.number, v.change_type, v.changed_by, v.user_id, v.reason) for v in versions_of(added)] == [
        (1, "created", "editor", editor.pk, "Launch")
    ]
    assert (added.created_by, added.version) == (editor, 1)


def test_a_stale_form_is_refused_with_what_changed_meanwhile(editor_client, superuser, gpt):
    opened = change_form_data(gpt, name="My rename", reason="Rename")  # carries seen_version=1
    services.update_model(
        AIModel.objects.get(pk=gpt.pk),
        user=superuser,
        reason="Vendor price",
        changes={"output_price": Decimal("9")},
    )

    response = editor_client.post(url("change", gpt.pk), opened)

    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "was changed after you opened it (you edited version 1, it is now at version 2)" in errors
    assert "Version 2 by root" in errors and "(Vendor price): output_price: 10 → 9" in errors
    gpt.refresh_from_db()
    assert (gpt.name, gpt.output_price, stored_version(gpt)) == ("GPT Test", Decimal("9"), 2)


def test_saving_with_nothing_changed_is_refused(editor_client, gpt):
    response = editor_client.post(url("change", gpt.pk), change_form_data(gpt, reason="Touch"))
    assert "Nothing to save" in " ".join(response.context["adminform"].form.non_field_errors())
    assert stored_version(gpt) == 1


def test_json_fields_are_pretty_printed_and_validated_in_place(editor_client, claude):
    page = editor_client.get(url("change", claude.pk)).text
    assert (
        "{\n  &quot;type&quot;: &quot;anthropic-extended-thinking&quot;,\n  &quot;budgetMapping&quot;" in page
    )

    response = editor_client.post(
        url("change", claude.pk),
        change_form_data(
            claude, reasoning_config='{"type": "anthropic-extended-thinking"}', reason="Break it"
        ),
    )
    errors = response.context["adminform"].form.errors
    assert errors["reasoning_config"] == ["anthropic-extended-thinking requires 'budgetMapping'"]
    assert stored_version(claude) == 1


def test_host_order_is_edited_as_an_ordered_list(editor_client, gpt):
    page = editor_client.get(url("change", gpt.pk)).text
    assert ">\nazure\nopenai</textarea>" in page

    editor_client.post(
        url("change", gpt.pk), change_form_data(gpt, host_order="openai\n\nazure\n", reason="Order")
    )
    gpt.refresh_from_db()
    assert gpt.host_order == ["openai", "azure"]

    response = editor_client.post(
        url("change", gpt.pk), change_form_data(gpt, host_order="a\nb\na", reason="Dup")
    )
    assert response.context["adminform"].form.errors["host_order"] == ["Listed twice: a."]


def test_change_form_follows_the_schema(editor_client, gpt):
    form = editor_client.get(url("change", gpt.pk)).context["adminform"]
    sections = [(fieldset.name, tuple(fieldset.fields)) for fieldset in form]
    assert sections == [
        ("Identity", ("model_id", "provider", "name", "description", "context_window", "max_output_tokens")),
        (
            "Pricing (USD per 1M tokens)",
            (
                "input_price",
                "output_price",
                "cached_input_price",
                "reasoning_price",
                "cache_write_5m_price",
                "cache_write_1h_price",
                "audio_input_price",
                "audio_output_price",
                "image_input_price",
                "image_output_price",
                "request_fees",
                "price_tiers",
                "service_tiers",
            ),
        ),
        # The timeline is shown as a table (read-only) and edited through the prices above.
        (
            "Price timeline",
            ("price_timeline", "prices_effective_from", "cancel_scheduled", "prices_in_force_since"),
        ),
        (
            "Capabilities",
            (
                "supports_vision",
                "supports_function_calling",
                "supports_thinking",
                "supports_extended_thinking",
                "supports_image_generation",
            ),
        ),
        ("Reasoning", ("reasoning_config",)),
        ("Routing", ("actual_model_id", "is_local", "gateway", "host_order")),
        (
            "Display",
            ("knowledge_cutoff", "user_friendly_description", "best_for", "benchmarks", "speed_tier"),
        ),
        ("Access", ("is_pro", "is_internal_only", "is_experimental")),
        ("Status", ("status", "deprecation_date", "successor")),
        ("Audit", ("created_at", "created_by", "updated_at", "updated_by")),
        ("Reason for change", ("reason", "seen_version")),
    ]


def test_history_lists_who_when_why_and_old_to_new(editor_client, editor, gpt):
    services.update_model(gpt, user=editor, reason="Raise", changes={"input_price": Decimal("3")})
    services.deprecate_models([gpt], user=editor, reason="Retired")

    response = editor_client.get(url("history", gpt.pk))

    versions = response.context["versions"]
    assert [(v["number"], v["change_type"], v["changed_by"], v["reason"]) for v in versions] == [
        (3, "deprecated", "editor", "Retired"),
        (2, "updated", "editor", "Raise"),
        (1, "created", "system", "Test setup"),
    ]
    price, timeline = versions[1]["changes"]
    assert price == {"field": "input_price", "label": "input price", "old": "2.5", "new": "3"}
    assert (timeline["field"], timeline["label"], timeline["old"]) == (
        "price_schedule",
        "price timeline",
        "none",
    )
    assert timeline_prices(timeline["new"]) == ["input 2.5, output 10", "input 3, output 10"]
    initial = {change["field"]: change["new"] for change in versions[2]["changes"]}
    assert initial["provider"] == "OpenAI"  # shown by name, not by key
    assert response.text.count("Revert to version") == 2  # not offered for the current version


def test_revert_shows_the_diff_asks_why_and_adds_a_version(editor_client, editor, gpt):
    services.update_model(gpt, user=editor, reason="Raise", changes={"input_price": Decimal("3")})

    page = editor_client.get(url("revert", gpt.pk, 1))
    price, timeline = page.context["changes"]
    assert price == {"label": "input price", "current": "3", "target": "2.5"}
    # The raise took effect, so the timeline keeps it; the restored price is added from now on.
    assert timeline["label"] == "price timeline"
    assert timeline_prices(timeline["current"]) == ["input 2.5, output 10", "input 3, output 10"]
    assert timeline["target"].startswith(timeline["current"] + "\n")
    assert timeline_prices(timeline["target"]) == [
        "input 2.5, output 10",
        "input 3, output 10",
        "input 2.5, output 10",
    ]

    no_reason = editor_client.post(url("revert", gpt.pk, 1), {"reason": "", "seen_version": 2})
    assert no_reason.context["form"].errors["reason"] == ["This field is required."]
    assert stored_version(gpt) == 2

    done = editor_client.post(url("revert", gpt.pk, 1), {"reason": "Announced too early", "seen_version": 2})
    assert done.status_code == 302
    latest = versions_of(gpt)[-1]
    assert (latest.number, latest.change_type, latest.reason, latest.changed_by) == (
        3,
        "reverted",
        "Reverted to v1: Announced too early",
        "editor",
    )
    assert AIModel.objects.get(pk=gpt.pk).input_price == Decimal("2.5")


def test_a_stale_revert_is_refused(editor_client, editor, gpt):
    services.update_model(gpt, user=editor, reason="Raise", changes={"input_price": Decimal("3")})
    services.update_model(gpt, user=editor, reason="Rename", changes={"name": "Other"})

    response = editor_client.post(url("revert", gpt.pk, 1), {"reason": "Undo", "seen_version": 2})

    assert "was changed after you opened it" in " ".join(response.context["form"].non_field_errors())
    assert stored_version(gpt) == 3


def test_unknown_version_is_not_found(editor_client, gpt):
    assert editor_client.get(url("revert", gpt.pk, 9)).status_code == 404


def _post_action(client, action: str, models: list[AIModel], *, follow: bool = False, **fields):
    data = {"action": action, "_selected_action": [m.pk for m in models], **fields}
    return client.post(url("changelist"), data, follow=follow)


def test_deprecate_asks_for_a_reason_first(editor_client, editor, gpt, claude):
    page = _post_action(editor_client, "deprecate_selected", [gpt, claude])
    assert page.status_code == 200
    assert [m.model_id for m in page.context["objects"]] == ["anthropic:claude-test", "openai:gpt-test"]

    no_reason = _post_action(editor_client, "deprecate_selected", [gpt], apply="1", reason="")
    assert no_reason.context["form"].errors["reason"] == ["This field is required."]
    assert AIModel.objects.get(pk=gpt.pk).status == "active"

    done = _post_action(editor_client, "deprecate_selected", [gpt, claude], apply="1", reason="Retired")
    assert done.status_code == 302
    assert set(AIModel.objects.values_list("status", flat=True)) == {"deprecated"}
    assert versions_of(gpt)[-1].reason == "Retired"


def test_reactivate_restores_the_chosen_status(editor_client, editor, gpt, claude):
    services.deprecate_models([gpt], user=editor, reason="Retired")
    _post_action(editor_client, "reactivate_selected", [gpt, claude], apply="1", reason="Back", status="beta")
    assert AIModel.objects.get(pk=gpt.pk).status == "beta"
    assert stored_version(claude) == 1  # was not deprecated: untouched


def test_duplicate_asks_for_id_and_name(editor_client, editor, gpt, claude):
    page = _post_action(editor_client, "duplicate_selected", [gpt])
    assert page.context["form"].initial == {
        "new_model_id": "openai:gpt-test-copy",
        "new_name": "GPT Test (copy)",
    }

    taken = _post_action(
        editor_client, "duplicate_selected", [gpt], apply="1", new_model_id=claude.model_id, new_name="X"
    )
    assert "already exists" in taken.context["form"].errors["new_model_id"][0]

    done = _post_action(
        editor_client,
        "duplicate_selected",
        [gpt],
        apply="1",
        new_model_id="openai:gpt-test-2",
        new_name="GPT 2",
    )
    copy = AIModel.objects.get(model_id="openai:gpt-test-2")
    assert done.url == url("change", copy.pk)
    assert versions_of(copy)[0].reason == "Duplicated from openai:gpt-test"
    assert (copy.host_order, copy.supports_vision) == (gpt.host_order, True)


def test_duplicate_needs_exactly_one_model(editor_client, gpt, claude):
    response = _post_action(editor_client, "duplicate_selected", [gpt, claude], follow=True)
    assert "Select exactly one model to duplicate." in response.text


def test_provider_changes_need_a_reason_and_are_in_history(client, editor, gpt):
    client.force_login(editor)
    add_url = "/admin/models_registry/provider/add/"

    refused = client.post(add_url, {"slug": "mistral", "name": "Mistral", "reason": ""})
    assert refused.context["adminform"].form.errors["reason"] == ["This field is required."]

    client.post(add_url, {"slug": "mistral", "name": "Mistral", "reason": "New vendor"})
    provider = Provider.objects.get(slug="mistral")
    assert provider.version == 1
    change_url = f"/admin/models_registry/provider/{provider.pk}/change/"
    assert client.get(change_url).context["adminform"].form.initial["seen_version"] == 1
    without_version = client.post(change_url, {"name": "Mistral AI", "reason": "Rename"})
    assert without_version.status_code == 200
    assert "missing the version" in " ".join(without_version.context["adminform"].form.non_field_errors())
    assert stored_version(provider) == 1

    saved = client.post(change_url, {"name": "Mistral AI", "reason": "Rename", "seen_version": 1})
    assert saved.status_code == 302

    assert [(v.number, v.changed_by, v.reason) for v in versions_of(provider)] == [
        (1, "editor", "New vendor"),
        (2, "editor", "Rename"),
    ]
    assert stored_version(provider) == 2
    history = client.get(f"/admin/models_registry/provider/{provider.pk}/history/")
    assert history.context["versions"][0]["changes"] == [
        {"field": "name", "label": "display name", "old": "Mistral", "new": "Mistral AI"}
    ]
    assert history_rows() == 1  # no model was touched
