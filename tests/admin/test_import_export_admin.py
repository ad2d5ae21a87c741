"""JSON import and export through the admin: upload → preview → confirm, and downloads."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from models_registry.audit.history import versions_of
from models_registry.catalog import services
from models_registry.models import AIModel, ImportUpload, Provider

from .conftest import entry, history_rows, stored_version, url


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def upload(client, content: str | bytes, *, name: str = "models.json", reason: str = ""):
    data = content.encode() if isinstance(content, str) else content
    file = SimpleUploadedFile(name, data, content_type="application/json")
    return client.post(url("import"), {"import_file": file, "format": "0", "resource": "0", "reason": reason})


def confirm(client, preview):
    form = preview.context["confirm_form"]
    data = {name: form[name].value() for name in form.fields}
    return client.post(url("process_import"), data, follow=True)


def test_preview_lists_new_update_and_unchanged_with_diffs_then_confirm_applies(
    editor_client, editor, gpt, claude
):
    content = json.dumps(
        [
            {"id": "openai:gpt-test", "pricing": {"input": "2", "output": "10"}, "name": "GPT Test 2"},
            entry("openai:gpt-new"),
            {"id": "anthropic:claude-test"},
        ]
    )

    preview = upload(editor_client, content, name="prices.json")

    assert preview.context["confirm_form"] is not None
    rows = {row.model_id: row for row in preview.context["result"].rows}
    # Unchanged rows are counted, not kept: the preview holds row results for changes only.
    assert {model_id: row.import_type for model_id, row in rows.items()} == {
        "openai:gpt-test": "update",
        "openai:gpt-new": "new",
    }
    assert preview.context["result"].totals["skip"] == 1
    assert [(c["field"], c["old"], c["new"]) for c in rows["openai:gpt-test"].change_lines] == [
        ("name", "GPT Test", "GPT Test 2"),
        ("input_price", "2.5", "2"),
    ]
    assert "1</strong> new" in preview.text
    assert "1 unchanged row(s), hidden" in preview.text  # listed by id in a closed section
    assert 'data-model-id="anthropic:claude-test"' not in preview.text
    assert (AIModel.objects.count(), history_rows()) == (2, 2)  # the preview wrote nothing

    done = confirm(editor_client, preview)

    assert "Import finished: 1 new, 1 updated, 1 unchanged." in done.text
    gpt.refresh_from_db()
    assert (gpt.name, gpt.input_price) == ("GPT Test 2", Decimal("2"))
    for model in (gpt, AIModel.objects.get(model_id="openai:gpt-new")):
        latest = versions_of(model)[-1]
        assert (latest.changed_by, latest.user_id, latest.reason) == (
            "editor",
            editor.pk,
            "Imported from prices.json",
        )
    assert stored_version(gpt) == 2
    assert stored_version(claude) == 1


def test_the_import_reason_can_be_given(editor_client, gpt):
    preview = upload(
        editor_client, json.dumps([{"id": "openai:gpt-test", "name": "N"}]), reason="Q3 price sheet"
    )
    confirm(editor_client, preview)
    assert versions_of(gpt)[-1].reason == "Q3 price sheet"


BAD_FILES = {
    "malformed JSON": ('[{"id": "openai:x"', "The file is not valid JSON: Expecting"),
    "not a list": (
        '{"id": "openai:gpt-test"}',
        "The file must contain a JSON list of models or a catalog object with a list of models, "
        "not an object.",
    ),
    "not UTF-8": (b"\xff\xfe[]", "The file is not UTF-8 text."),
    "unknown field": (json.dumps([entry(colour="red")]), "colour"),
    "duplicate id": (json.dumps([entry(), entry()]), "appears twice in the file (rows 1 and 2)"),
    "negative price": (
        json.dumps([entry(pricing={"input": "-2", "output": "1"})]),
        "must be a non-negative number",
    ),
    "unknown provider": (
        json.dumps([entry("acme:m1", provider="acme")]),
        "unknown provider &#x27;acme&#x27;",
    ),
    "unknown status": (json.dumps([entry(status="gone")]), "must be one of active, beta, deprecated"),
    "wrong reasoning shape": (
        json.dumps([entry(reasoning={"type": "telepathy"})]),
        "&#x27;type&#x27; must be one of openai-reasoning-effort",
    ),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_files_are_explained_and_nothing_is_written(editor_client, gpt, kind):
    content, message = BAD_FILES[kind]
    before = (AIModel.objects.count(), history_rows())

    response = upload(editor_client, content)

    assert response.status_code == 200
    assert message in response.text
    assert response.context.get("confirm_form") is None  # no way to confirm
    assert (AIModel.objects.count(), history_rows()) == before


def test_row_errors_name_row_model_and_field(editor_client, gpt):
    response = upload(editor_client, json.dumps([{"id": "openai:gpt-test"}, entry(status="gone")]))
    assert [(e.row, e.model_id, e.field) for e in response.context["result"].row_error_list] == [
        (2, "openai:gpt-new", "status")
    ]
    assert "<td>2</td><td>openai:gpt-new</td><td>status</td>" in response.text


def test_confirm_after_the_catalog_moved_imports_nothing(editor_client, superuser, gpt):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "From file"}]))
    services.update_model(gpt, user=superuser, reason="Meanwhile", changes={"name": "Meanwhile"})

    done = confirm(editor_client, preview)

    assert "Nothing was imported. The catalog changed since the preview" in done.text
    gpt.refresh_from_db()
    assert (gpt.name, gpt.version) == ("Meanwhile", 2)


def test_export_downloads_the_filtered_list(editor_client, editor, gpt, claude):
    services.deprecate_models([claude], user=editor, reason="Retired")

    everything = editor_client.get(url("export"))
    deprecated = editor_client.get(url("export") + "?status__exact=deprecated")

    assert everything["Content-Type"] == "application/json"
    assert everything["Content-Disposition"].startswith('attachment; filename="ai-models-')
    assert [item["id"] for item in json.loads(everything.content)] == [
        "anthropic:claude-test",
        "openai:gpt-test",
    ]
    assert [item["id"] for item in json.loads(deprecated.content)] == ["anthropic:claude-test"]


def test_export_selected_action(editor_client, gpt, claude):
    response = editor_client.post(
        url("changelist"), {"action": "export_selected", "_selected_action": [gpt.pk]}
    )
    exported = json.loads(response.content)
    assert [item["id"] for item in exported] == ["openai:gpt-test"]
    pricing = exported[0]["pricing"]
    assert {key: pricing[key] for key in ("input", "output", "cached_input", "reasoning")} == {
        "input": "2.5",
        "output": "10",
        "cached_input": None,
        "reasoning": None,
    }
    assert pricing["tiers"] == [] and pricing["service_tiers"] == {} and pricing["request_fees"] == {}


def test_exported_file_reimports_as_a_no_op(editor_client, seeded):
    exported = editor_client.get(url("export")).content
    before = history_rows()

    preview = upload(editor_client, exported)
    assert preview.context["result"].totals["skip"] == 58
    done = confirm(editor_client, preview)

    assert "Import finished: 0 new, 0 updated, 58 unchanged." in done.text
    assert history_rows() == before


def test_an_expired_upload_imports_nothing(editor_client, gpt):
    data = {
        "import_file_name": "gone",
        "original_file_name": "x.json",
        "format": "0",
        "resource": "0",
        "plan_digest": "seen-in-preview",
    }
    response = editor_client.post(url("process_import"), data, follow=True)
    assert "Nothing was imported: This preview has expired; upload the file again." in response.text


def test_an_upload_waits_in_the_database_and_is_gone_after_confirm(editor_client, gpt):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Confirmed"}]))
    token = preview.context["confirm_form"].initial["import_file_name"]
    assert ImportUpload.objects.filter(token=token).exists()  # any worker, any host, no Redis needed
    confirm(editor_client, preview)
    assert not ImportUpload.objects.filter(token=token).exists()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/tmp/models.json", "tmpabc123", ""])
def test_a_confirm_naming_anything_but_an_issued_token_imports_nothing(editor_client, gpt, name):
    data = {
        "import_file_name": name,
        "original_file_name": "x.json",
        "format": "0",
        "resource": "0",
        "plan_digest": "seen-in-preview",
        "reason": "x",
    }
    response = editor_client.post(url("process_import"), data, follow=True)
    assert response.status_code == 200
    assert ("Nothing was imported" in response.text) or not name  # an empty name: the form is refused
    assert AIModel.objects.get(pk=gpt.pk).version == 1


def test_an_upload_never_confirmed_expires(editor_client, gpt, settings):
    upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Forgotten"}]))
    ImportUpload.objects.update(created_at=timezone.now() - timedelta(hours=3))
    upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Fresh"}]))
    assert ImportUpload.objects.count() == 1  # the forgotten one was purged


def test_a_file_above_the_size_limit_is_refused_before_parsing(editor_client, gpt, settings):
    settings.IMPORT_MAX_BYTES = 1000
    response = upload(editor_client, json.dumps([entry(description="x" * 2000)]))
    assert "imports are limited to" in response.text
    assert not ImportUpload.objects.exists()


def test_import_through_the_shared_cache_storage(editor_client, settings, gpt):
    settings.REDIS_URL = "redis://cache:6379/0"  # the test cache stands in for Redis
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Via cache"}]))
    done = confirm(editor_client, preview)
    assert "Import finished: 0 new, 1 updated, 0 unchanged." in done.text
    assert AIModel.objects.get(pk=gpt.pk).name == "Via cache"


def test_a_confirm_without_the_previewed_plan_is_refused(editor_client, gpt):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Sneaky"}]))
    assert preview.status_code == 200
    data = {"import_file_name": "whatever", "original_file_name": "x.json", "format": "0", "resource": "0"}
    editor_client.post(url("process_import"), data, follow=True)
    assert AIModel.objects.get(pk=gpt.pk).name != "Sneaky"


def test_the_preview_hides_unchanged_rows_and_pages_the_changes(editor_client, gpt):
    entries = [entry(f"openai:gpt-many-{n:03d}") for n in range(250)] + [{"id": "openai:gpt-test"}]

    preview = upload(editor_client, json.dumps(entries))

    result = preview.context["result"]
    assert (result.page, result.page_count, result.changed_count, len(result.page_rows)) == (1, 3, 250, 100)
    assert preview.text.count("data-model-id=") == 100  # one page of rows in the HTML, not three
    assert "Changed rows 1\N{EN DASH}100 of 250 (page 1 of 3)" in preview.text
    assert "1 unchanged row(s), hidden" in preview.text


def test_every_problem_of_a_row_is_reported(editor_client, gpt):
    bad = {
        "id": "openai:gpt-bad",
        "provider": "openai",
        "name": "",
        "context_window": -1,
        "pricing": {"input": "-1", "output": 2.5},
        "speed_tier": "warp",
    }

    preview = upload(editor_client, json.dumps([bad]))

    fields = [error.field for error in preview.context["result"].row_error_list]
    assert sorted(fields) == ["context_window", "name", "pricing.input", "pricing.output", "speed_tier"]


def test_missing_providers_are_created_only_when_ticked(editor_client, gpt):
    content = json.dumps(
        [{**entry("fireworks_ai:llama-v3"), "provider": "fireworks_ai", "provider_name": "Fireworks AI"}]
    )

    refused = upload(editor_client, content)
    assert [error.field for error in refused.context["result"].row_error_list] == ["provider"]

    file = SimpleUploadedFile("models.json", content.encode(), content_type="application/json")
    preview = editor_client.post(
        url("import"),
        {"import_file": file, "format": "0", "resource": "0", "reason": "", "create_providers": "on"},
    )
    assert "New providers to create: <strong>fireworks_ai</strong>" in preview.text
    assert not Provider.objects.filter(slug="fireworks_ai").exists()  # the preview wrote nothing
    done = confirm(editor_client, preview)

    assert "Import finished: 1 new" in done.text
    provider = Provider.objects.get(slug="fireworks_ai")
    assert provider.name == "Fireworks AI" and versions_of(provider)[-1].reason.startswith("Imported from")
    assert AIModel.objects.get(model_id="fireworks_ai:llama-v3").provider == provider
    assert not provider.first_party  # a provider an import adds is a reseller unless the file says


def test_a_catalog_shaped_file_says_which_new_providers_are_first_party(editor_client, gpt):
    document = {
        "providers": [
            {"slug": "acme", "name": "Acme Labs", "first_party": True},
            {"slug": "resell", "name": "Resell Cloud"},
        ],
        "models": [
            {**entry("acme:thinker-1"), "provider": "acme"},
            {**entry("resell:thinker-1"), "provider": "resell"},
        ],
    }
    file = SimpleUploadedFile("catalog.json", json.dumps(document).encode(), content_type="application/json")
    preview = editor_client.post(
        url("import"),
        {"import_file": file, "format": "0", "resource": "0", "reason": "", "create_providers": "on"},
    )
    assert "Import finished: 2 new" in confirm(editor_client, preview).text
    acme = Provider.objects.get(slug="acme")
    assert acme.first_party and acme.name == "Acme Labs"
    assert not Provider.objects.get(slug="resell").first_party


def test_a_catalog_shaped_file_with_a_bad_first_party_is_refused_in_words(editor_client, gpt):
    document = {"providers": [{"slug": "acme", "first_party": "yes"}], "models": [entry("openai:x-1")]}
    preview = upload(editor_client, json.dumps(document))
    assert "Provider acme: first_party must be true or false." in preview.text
    assert not AIModel.objects.filter(model_id="openai:x-1").exists()
