"""Bounded JSON imports: a row limit, a preview of one page, and no upload left behind."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape

from models_registry.catalog import services
from models_registry.domain.imports import TooManyRows, parse_import_text
from models_registry.models import AIModel, ImportUpload

from .conftest import entry, history_rows, url

LIMIT_MESSAGE = "The file has 5 models; the limit is 3 (IMPORT_MAX_ROWS). Split the file."
EXPIRED = "This preview has expired; upload the file again."


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def upload(client, content: str, *, create_providers: bool = False):
    file = SimpleUploadedFile("models.json", content.encode(), content_type="application/json")
    data = {"import_file": file, "format": "0", "resource": "0", "reason": ""}
    if create_providers:
        data["create_providers"] = "on"
    return client.post(url("import"), data)


def confirm_data(preview) -> dict:
    form = preview.context["confirm_form"]
    return {name: form[name].value() for name in form.fields}


def new_entries(count: int) -> list[dict]:
    return [entry(f"openai:gpt-many-{n:04d}") for n in range(count)]


# --- the row limit ---


@override_settings(IMPORT_MAX_ROWS=3)
def test_a_file_above_the_row_limit_is_refused_with_a_message_and_nothing_is_written(editor_client, gpt):
    before = (AIModel.objects.count(), history_rows())

    response = upload(editor_client, json.dumps(new_entries(5)))

    assert response.status_code == 200
    assert LIMIT_MESSAGE in response.text
    assert response.context.get("confirm_form") is None  # nothing to confirm
    assert (AIModel.objects.count(), history_rows()) == before
    assert not ImportUpload.objects.exists()  # the refused upload is not kept either


@override_settings(IMPORT_MAX_ROWS=3)
def test_a_file_at_the_row_limit_is_accepted(editor_client, gpt):
    response = upload(editor_client, json.dumps(new_entries(3)))
    assert response.context["confirm_form"] is not None
    assert response.context["result"].totals["new"] == 3


def test_rows_above_the_limit_are_counted_not_kept():
    text = json.dumps([{"id": f"x:{n}", "description": "d" * 50} for n in range(2_000)])
    with pytest.raises(TooManyRows) as refused:
        parse_import_text(text, max_rows=10)
    assert (refused.value.count, refused.value.limit) == (2_000, 10)
    assert str(refused.value) == (
        "The file has 2,000 models; the limit is 10 (IMPORT_MAX_ROWS). Split the file."
    )
    # Within the limit, the same reading returns every entry, as json.loads would.
    assert parse_import_text(text, max_rows=2_000) == json.loads(text)


def test_a_catalog_shaped_file_above_the_limit_is_counted_before_it_is_parsed(monkeypatch):
    document = {
        "providers": [{"slug": "x", "name": "X", "first_party": True}],
        "models": [{"id": f"x:{n}", "provider": "x", "description": "d" * 50} for n in range(2_000)],
        "_about": "any other member is skipped",
    }
    text = json.dumps(document)

    def refuse_to_parse(*args, **kwargs):
        raise AssertionError("the whole file was parsed before the count")

    with monkeypatch.context() as patched:
        patched.setattr(json, "loads", refuse_to_parse)
        with pytest.raises(TooManyRows) as refused:
            parse_import_text(text, max_rows=10)
    assert refused.value.count == 2_000
    entries = parse_import_text(text, max_rows=2_000)
    assert len(entries) == 2_000 and entries[0]["provider_first_party"] is True


def test_a_malformed_file_above_the_limit_is_explained_as_malformed():
    with pytest.raises(ValueError, match="not valid JSON: Expecting ',' delimiter"):
        parse_import_text("[1, 2, 3, 4 5]", max_rows=2)


# --- the preview stays one page ---


def test_a_preview_of_many_changed_rows_holds_one_page_and_links_the_others(editor_client, gpt):
    services.import_models(new_entries(250), user=None, reason="Setup")
    changed = [{"id": f"openai:gpt-many-{n:04d}", "name": f"Renamed {n}"} for n in range(250)]

    preview = upload(editor_client, json.dumps(changed))

    assert preview.text.count("data-model-id=") == 100  # not 250
    assert len(preview.context["result"].rows) == 100  # nor are the others' diffs kept
    assert "Changed rows 1\N{EN DASH}100 of 250 (page 1 of 3)" in preview.text
    query = preview.context["preview_query"]
    assert escape(f"{url('import_preview')}?{query}&page=2") in preview.text

    last = editor_client.get(f"{url('import_preview')}?{query}&page=3")

    assert last.status_code == 200
    assert last.text.count("data-model-id=") == 50
    assert "Changed rows 201\N{EN DASH}250 of 250 (page 3 of 3)" in last.text
    assert 'data-model-id="openai:gpt-many-0249"' in last.text
    assert "Renamed 249" in last.text
    # Confirming from any page applies the whole file.
    done = editor_client.post(url("process_import"), confirm_data(last), follow=True)
    assert "Import finished: 0 new, 250 updated, 0 unchanged." in done.text
    assert AIModel.objects.get(model_id="openai:gpt-many-0249").name == "Renamed 249"


def test_a_preview_of_unchanged_rows_lists_none_of_them(editor_client, gpt):
    services.import_models(new_entries(150), user=None, reason="Setup")

    preview = upload(editor_client, json.dumps(new_entries(150)))

    assert "data-model-id=" not in preview.text
    assert "150 unchanged row(s), hidden" in preview.text
    # Listed by id up to one page's worth, the rest counted.
    assert "openai:gpt-many-0099" in preview.text
    assert "openai:gpt-many-0100" not in preview.text
    assert "… and 50 more" in preview.text
    assert "Nothing in the file differs from the catalog." in preview.text


def test_a_preview_page_after_the_catalog_moved_is_refused(editor_client, gpt):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "From file"}]))
    services.update_model(gpt, user=None, reason="Meanwhile", changes={"name": "Meanwhile"})

    page = editor_client.get(f"{url('import_preview')}?{preview.context['preview_query']}&page=1")

    assert page.status_code == 200
    assert "The catalog changed since the preview" in page.text
    assert page.context.get("confirm_form") is None
    assert not ImportUpload.objects.exists()


def test_a_file_of_many_bad_rows_lists_the_first_500_problems(editor_client, gpt):
    response = upload(
        editor_client, json.dumps([entry(f"openai:bad-{n}", status="gone") for n in range(600)])
    )
    assert response.text.count('<tr class="import-error">') == 500
    assert "and 100 more problem(s), not shown" in response.text
    assert not ImportUpload.objects.exists()


# --- no upload left behind ---


def test_confirm_and_cancel_delete_the_upload(editor_client, gpt):
    confirmed = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Confirmed"}]))
    editor_client.post(url("process_import"), confirm_data(confirmed), follow=True)
    assert not ImportUpload.objects.exists()

    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Cancelled"}]))
    assert ImportUpload.objects.count() == 1
    before = history_rows()

    cancelled = editor_client.post(url("import_cancel"), confirm_data(preview), follow=True)

    assert cancelled.redirect_chain[-1][0] == url("import")
    assert "Import cancelled: nothing was imported and the uploaded file was deleted." in cancelled.text
    assert not ImportUpload.objects.exists()
    assert (AIModel.objects.get(pk=gpt.pk).name, history_rows()) == ("Confirmed", before)
    # The cancelled preview cannot be confirmed any more.
    late = editor_client.post(url("process_import"), confirm_data(preview), follow=True)
    assert EXPIRED in late.text
    assert AIModel.objects.get(pk=gpt.pk).name == "Confirmed"


def test_the_preview_offers_cancel(editor_client, gpt):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "N"}]))
    assert f'name="cancel" value="Cancel import" formaction="{url("import_cancel")}"' in preview.text


def test_cancel_needs_a_post_and_the_import_permission(client, editor_client, viewer, gpt):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "N"}]))
    assert editor_client.get(url("import_cancel")).status_code == 405
    client.force_login(viewer)
    assert client.post(url("import_cancel"), confirm_data(preview)).status_code == 403
    assert ImportUpload.objects.count() == 1


def test_confirming_an_expired_preview_says_so_and_writes_nothing(editor_client, gpt, settings):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Too late"}]))
    ImportUpload.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.IMPORT_UPLOAD_TTL_SECONDS + 60)
    )
    before = history_rows()

    done = editor_client.post(url("process_import"), confirm_data(preview), follow=True)

    assert done.status_code == 200
    assert f"Nothing was imported: {EXPIRED}" in done.text
    assert (AIModel.objects.get(pk=gpt.pk).name, history_rows()) == ("GPT Test", before)
    assert not ImportUpload.objects.exists()  # the dead upload went too


@pytest.mark.parametrize("format_index", ["7", "x", ""])
def test_a_tampered_preview_link_goes_back_to_the_upload_form(editor_client, gpt, format_index):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "N"}]))
    query = preview.context["preview_query"].replace("format=0", f"format={format_index}")
    page = editor_client.get(f"{url('import_preview')}?{query}&page=1", follow=True)
    assert page.status_code == 200
    assert "This preview link is incomplete; upload the file again." in page.text


def test_an_expired_preview_page_says_so(editor_client, gpt):
    preview = upload(editor_client, json.dumps([{"id": "openai:gpt-test", "name": "Too late"}]))
    ImportUpload.objects.all().delete()
    page = editor_client.get(
        f"{url('import_preview')}?{preview.context['preview_query']}&page=1", follow=True
    )
    assert EXPIRED in page.text


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_cleanup_command_removes_old_uploads_and_keeps_fresh_ones(db, settings, dry_run):
    settings.IMPORT_UPLOAD_MAX_AGE_HOURS = 24
    now = timezone.now()
    for token, age in (("a" * 32, 25), ("b" * 32, 30), ("c" * 32, 23), ("d" * 32, 0)):
        ImportUpload.objects.create(token=token, data="[]")
        ImportUpload.objects.filter(token=token).update(created_at=now - timedelta(hours=age))
    out = StringIO()

    call_command("cleanup_import_uploads", *(["--dry-run"] if dry_run else []), stdout=out)

    remaining = set(ImportUpload.objects.values_list("token", flat=True))
    if dry_run:
        assert out.getvalue().strip() == "Would remove 2 import upload(s) older than 24 hours."
        assert len(remaining) == 4
    else:
        assert out.getvalue().strip() == "Removed 2 import upload(s) older than 24 hours."
        assert remaining == {"c" * 32, "d" * 32}
