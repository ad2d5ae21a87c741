"""The drafts' admin pages: add, edit apart from live, replay over the log and a dataset, publish."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from autorouter import services
from autorouter.forms import ProfileOverridesField, SpeedBonusesField
from autorouter.models import DraftStatus, RouterConfig, RouterDraft
from autorouter.router import route
from models_registry.audit.history import versions_of

from .test_replay import MESSAGES

ADD_URL = reverse("admin:autorouter_routerdraft_add")
DATASET = Path(__file__).resolve().parents[2] / "fixtures" / "router_eval" / "weak_strong.jsonl"


@pytest.fixture
def as_editor(client, editor):
    client.force_login(editor)
    return client


def url(name: str, draft: RouterDraft) -> str:
    return reverse(f"admin:autorouter_routerdraft_{name}", args=[draft.pk])


def form_data(client, draft: RouterDraft, **changes) -> dict:
    form = client.get(url("change", draft)).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, SpeedBonusesField | ProfileOverridesField):
            value = field.prepare_value(value)
        data[name] = ", ".join(value) if isinstance(value, list) else ("" if value is None else value)
    return {**data, **changes}


@pytest.fixture
def draft(router_db, database_source, editor) -> RouterDraft:
    return services.create_draft(name="cheaper", user=editor, reason="what if")


def test_an_editor_adds_a_draft_that_copies_the_live_config(router_db, as_editor):
    response = as_editor.post(ADD_URL, {"name": "fewer premium calls", "reason": "try it"})
    draft = RouterDraft.objects.get()
    assert response.status_code == 302 and response["Location"] == url("change", draft)
    assert draft.based_on_version == RouterConfig.objects.get().version and draft.is_open
    page = as_editor.get(url("change", draft)).content.decode()
    assert "no user is routed with it" in page and "Replay" in page and "Publish" in page


def test_editing_a_draft_leaves_the_live_config_alone(draft, as_editor):
    data = form_data(as_editor, draft, premium_difficulty="0.6", profile_overrides="", reason="raise the bar")
    response = as_editor.post(url("change", draft), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    draft.refresh_from_db()
    assert draft.premium_difficulty == Decimal("0.6") and draft.version == 2
    assert RouterConfig.objects.get().premium_difficulty != Decimal("0.6")


def test_bad_profile_lines_are_shown_on_their_field(draft, as_editor):
    data = form_data(as_editor, draft, profile_overrides="openai:gpt-4o speed=3", reason="x")
    response = as_editor.post(url("change", draft), data)
    assert response.status_code == 200
    assert "not 'score=N'" in " ".join(response.context["adminform"].form.errors["profile_overrides"])


def test_the_replay_page_reports_the_log_and_a_dataset(draft, as_editor, settings):
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    for n, message in enumerate(MESSAGES):
        route(message, subject=n)
    services.update_draft(
        draft,
        user=None,
        reason="x",
        changes={"premium_difficulty": Decimal("0"), "mid_difficulty": Decimal("0")},
    )
    upload = SimpleUploadedFile("ws.jsonl", DATASET.read_bytes())
    response = as_editor.post(url("replay", draft), {"days": "1", "dataset": upload, "split": "test"})
    assert response.status_code == 200
    report = response.context["report"]
    assert report["decisions"] == len(MESSAGES) and report["changed"] > 0
    page = response.content.decode()
    assert f"of {len(MESSAGES)} decisions change" in page and "weak→strong gap recovered" in page
    assert response.context["evaluation"]["examples"] == 199


def test_a_bad_dataset_is_refused_in_words(draft, as_editor):
    upload = SimpleUploadedFile("bad.jsonl", b'{"prompt": "hi", "category": "poetry"}\n')
    response = as_editor.post(url("replay", draft), {"days": "1", "dataset": upload})
    assert response.status_code == 200 and response.context["report"] is None
    assert "unknown category 'poetry'" in " ".join(response.context["form"].errors["dataset"])


def test_publish_shows_the_change_then_makes_it_live_with_the_reason(draft, as_editor, editor):
    services.update_draft(draft, user=editor, reason="x", changes={"premium_difficulty": Decimal("0.6")})
    page = as_editor.get(url("publish", draft))
    assert [(str(r["label"]), r["draft"]) for r in page.context["parameter_rows"]] == [
        ("premium from difficulty", "0.600")
    ]
    response = as_editor.post(
        url("publish", draft), {"reason": "Fewer premium calls", "seen_version": draft.version}
    )
    assert response.status_code == 302
    config = RouterConfig.objects.get()
    assert config.premium_difficulty == Decimal("0.6")
    latest = versions_of(config)[-1]
    assert (latest.changed_by, latest.reason) == ("editor", "Fewer premium calls")
    assert RouterDraft.objects.get(pk=draft.pk).status == DraftStatus.PUBLISHED


def test_publish_without_a_reason_or_from_a_stale_page_writes_nothing(draft, as_editor):
    services.update_draft(draft, user=None, reason="x", changes={"premium_difficulty": Decimal("0.6")})
    response = as_editor.post(url("publish", draft), {"reason": "", "seen_version": draft.version})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    response = as_editor.post(url("publish", draft), {"reason": "ship", "seen_version": draft.version - 1})
    assert response.status_code == 200 and "changed after you opened it" in str(
        response.context["form"].errors
    )
    assert RouterConfig.objects.get().premium_difficulty != Decimal("0.6")


def test_viewers_read_drafts_but_cannot_edit_or_publish(draft, client, viewer):
    client.force_login(viewer)
    assert client.get(url("change", draft)).status_code == 200
    assert client.get(url("replay", draft)).status_code == 200
    assert client.get(url("publish", draft)).status_code == 403
    assert client.post(url("discard", draft), {"reason": "x", "seen_version": 1}).status_code == 403
    assert client.post(ADD_URL, {"name": "x", "reason": "y"}).status_code == 403


EVALUATE_URL = reverse("admin:autorouter_routerconfig_evaluate")
PROMPTS = DATASET.with_name("prompts.jsonl")


def test_the_evaluate_page_reports_an_uploaded_dataset_with_a_chosen_config(draft, as_editor):
    upload = SimpleUploadedFile("prompts.jsonl", PROMPTS.read_bytes())
    page = as_editor.get(EVALUATE_URL)
    assert f"draft:{draft.pk}" in [value for value, _ in page.context["form"].fields["config"].choices]
    response = as_editor.post(EVALUATE_URL, {"dataset": upload, "split": "test", "config": "live"})
    report = response.context["report"]
    assert report["examples"] == 199 and report["category_labelled"] == 199
    hits = sum(row[i] for i, (_, row) in enumerate(report["confusions"][0]["rows"]))
    assert hits / 199 == pytest.approx(report["category_accuracy"])
    assert b'id="confusion-category"' in response.content and b'id="confusion-complexity"' in response.content


def test_the_evaluate_page_refuses_bad_input_in_words(draft, as_editor, client, viewer):
    response = as_editor.post(EVALUATE_URL, {"split": "", "config": "live"})
    assert "dataset" in response.context["form"].errors and response.context["report"] is None
    upload = SimpleUploadedFile("x.jsonl", b"not json\n")
    response = as_editor.post(EVALUATE_URL, {"dataset": upload, "config": "draft:999"})
    assert "config" in response.context["form"].errors  # not an open draft
    client.force_login(viewer)
    assert client.get(EVALUATE_URL).status_code == 403
