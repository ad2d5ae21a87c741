"""Who may do what in the catalog admin: every page and action for every role.

anonymous and non-staff → sent to the login page; viewers → read-only pages
only; editors and superusers → everything (except deleting, which nobody
does: models are deprecated).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.admin import site
from django.urls import reverse

from models_registry.audit.models import ChangeRecord
from models_registry.catalog import services
from models_registry.models import AIModel

from .conftest import ROLES, add_form_data, change_form_data, entry, stored_version, url, user_for


@dataclass
class World:
    gpt: AIModel  # at version 2
    claude: AIModel  # deprecated


@pytest.fixture
def world(gpt, claude) -> World:
    services.update_model(gpt, user=None, reason="Setup v2", changes={"input_price": Decimal("3")})
    services.deprecate_models([claude], user=None, reason="Setup")
    return World(gpt=gpt, claude=claude)


def _action(name: str, **fields) -> Callable:
    def post(client, world: World):
        target = world.claude if name == "reactivate_selected" else world.gpt
        data = {"action": name, "_selected_action": [target.pk], "apply": "1", "reason": "Matrix", **fields}
        return client.post(url("changelist"), data)

    return post


def _confirm_import(client, world: World):
    entries = [entry("openai:gpt-imported")]
    storage = site._registry[AIModel].get_tmp_storage_class()(encoding="utf-8-sig", read_mode="r")
    storage.save(json.dumps(entries).encode())
    preview = services.import_models(entries, user=None, reason="preview", dry_run=True)
    data = {
        "import_file_name": storage.name,
        "original_file_name": "models.json",
        "format": "0",
        "resource": "0",
        "plan_digest": preview.plan.digest,  # what the preview page hands the confirm step
    }
    return client.post(url("process_import"), data)


def _upload(client, world: World):
    upload = _json_file([entry("openai:gpt-imported")])
    return client.post(url("import"), {"import_file": upload, "format": "0", "resource": "0"})


def _json_file(entries: list) -> object:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("models.json", json.dumps(entries).encode(), content_type="application/json")


def _status(world: World, model: str) -> str:
    return AIModel.objects.get(pk=getattr(world, model).pk).status


# name → (request, effect that proves the write happened, or None for reads)
ENDPOINTS: dict[str, tuple[Callable, Callable[[World], bool] | None]] = {
    "list": (lambda c, w: c.get(url("changelist")), None),
    "add page": (lambda c, w: c.get(url("add")), None),
    "add": (
        lambda c, w: c.post(
            url("add"), add_form_data(w.gpt.provider_id, model_id="openai:gpt-added", reason="Matrix")
        ),
        lambda w: AIModel.objects.filter(model_id="openai:gpt-added").exists(),
    ),
    "change page": (lambda c, w: c.get(url("change", w.gpt.pk)), None),
    "change": (
        lambda c, w: c.post(
            url("change", w.gpt.pk), change_form_data(w.gpt, name="Changed", reason="Matrix")
        ),
        lambda w: AIModel.objects.get(pk=w.gpt.pk).name == "Changed",
    ),
    "history": (lambda c, w: c.get(url("history", w.gpt.pk)), None),
    "revert page": (lambda c, w: c.get(url("revert", w.gpt.pk, 1)), None),
    "revert": (
        lambda c, w: c.post(url("revert", w.gpt.pk, 1), {"reason": "Matrix", "seen_version": 2}),
        lambda w: stored_version(w.gpt) == 3,
    ),
    "import page": (lambda c, w: c.get(url("import")), None),
    "import preview": (_upload, None),
    "import confirm": (
        _confirm_import,
        lambda w: AIModel.objects.filter(model_id="openai:gpt-imported").exists(),
    ),
    "export": (lambda c, w: c.get(url("export")), None),
    "duplicate action": (
        _action("duplicate_selected", new_model_id="openai:gpt-copy", new_name="Copy"),
        lambda w: AIModel.objects.filter(model_id="openai:gpt-copy").exists(),
    ),
    "deprecate action": (_action("deprecate_selected"), lambda w: _status(w, "gpt") == "deprecated"),
    "reactivate action": (
        _action("reactivate_selected", status="active"),
        lambda w: _status(w, "claude") == "active",
    ),
    "export action": (_action("export_selected"), None),
}

READ_ONLY_FOR_VIEWERS = {"list", "change page", "history"}


def expected(role: str, endpoint: str) -> str:
    if role in ("anonymous", "non_staff"):
        return "login"
    if role == "viewer":
        return "allowed" if endpoint in READ_ONLY_FOR_VIEWERS else "forbidden"
    return "allowed"


def classify(response) -> str:
    if response.status_code == 302 and response.url.startswith(reverse("admin:login")):
        return "login"
    if response.status_code == 403:
        return "forbidden"
    if response.status_code in (200, 302):
        return "allowed"
    return f"HTTP {response.status_code}"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(client, request, world, role, endpoint):
    user = user_for(request, role)
    if user is not None:
        client.force_login(user)
    send, effect = ENDPOINTS[endpoint]
    history_before = (AIModel.history.count(), ChangeRecord.objects.count())

    response = send(client, world)

    assert classify(response) == expected(role, endpoint)
    if effect is not None:
        assert effect(world) is (expected(role, endpoint) == "allowed")
    if expected(role, endpoint) != "allowed":
        # a refused request writes nothing, neither history nor change log
        assert (AIModel.history.count(), ChangeRecord.objects.count()) == history_before


def test_non_staff_users_are_told_they_lack_access(client, non_staff, gpt):
    client.force_login(non_staff)
    response = client.get(url("changelist"), follow=True)
    assert "You are authenticated as member, but are not authorized to access this page" in response.text


def test_viewer_pages_are_read_only(client, viewer, world):
    client.force_login(viewer)

    listing = client.get(url("changelist")).text
    change = client.get(url("change", world.gpt.pk)).text
    history = client.get(url("history", world.gpt.pk)).text

    assert 'name="action"' not in listing  # no bulk actions
    assert "import_link" not in listing and "export_link" not in listing and "addlink" not in listing
    assert 'name="_save"' not in change and 'name="_continue"' not in change
    assert "Reason for change" not in change
    assert "Revert to version" not in history


def test_editor_sees_every_tool(client, editor, world):
    client.force_login(editor)

    listing = client.get(url("changelist")).text
    change = client.get(url("change", world.gpt.pk)).text
    history = client.get(url("history", world.gpt.pk)).text

    for action in ("duplicate_selected", "deprecate_selected", "reactivate_selected", "export_selected"):
        assert f'value="{action}"' in listing
    assert "delete_selected" not in listing
    assert "import_link" in listing and "export_link" in listing
    assert 'name="_save"' in change and "Reason for change" in change
    assert "Revert to version 1" in history


@pytest.mark.parametrize("role", ["editor", "superuser"])
def test_nobody_deletes_models(client, request, world, role):
    client.force_login(user_for(request, role))
    assert client.get(url("delete", world.gpt.pk)).status_code == 403
    assert AIModel.objects.filter(pk=world.gpt.pk).exists()
