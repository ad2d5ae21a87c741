"""Edges found by review: refused seeds and resets report instead of crashing, bad filters, the backfill."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.urls import reverse

from models_registry.audit.backfill import backfill
from models_registry.audit.models import ChangeRecord, ChangeSet
from models_registry.catalog import services
from models_registry.models import Provider

pytestmark = pytest.mark.django_db


def test_a_seed_whose_every_entry_fails_lists_the_errors(tmp_path, capsys):
    services.create_provider(slug="openai", name="OpenAI", user=None, reason="setup")
    bad = {
        "providers": [{"slug": "openai", "name": "OpenAI"}],
        "models": [{"id": "openai:too-long", "provider": "openai", "name": "x" * 200,
                    "context_window": 1000, "pricing": {"input": "1", "output": "2"}}],
    }  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("seed_models", "--file", str(path))
    output = capsys.readouterr()
    assert "openai:too-long" in output.out + output.err and "name" in output.out + output.err
    assert not ChangeSet.objects.filter(reason__startswith="Initial seed").exists()


def test_forcing_the_router_defaults_twice_says_nothing_changed(router_db, capsys):
    call_command("seed_autorouter", "--force-replace")
    assert "already has the default values" in capsys.readouterr().out


def test_a_bad_object_type_filter_is_an_empty_list(client, superuser, seeded):
    client.force_login(superuser)
    response = client.get(reverse("admin:models_registry_changerecord_changelist"), {"type": "abc"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_backfill_numbers_versions_and_skips_deleted_objects():
    kept = services.create_provider(slug="acme", name="Acme", user=None, reason="setup")
    services.update_provider(kept, user=None, reason="rename", changes={"name": "Acme AI"})
    gone = services.create_provider(slug="gone", name="Gone", user=None, reason="setup")
    gone.delete()  # recorded by simple-history as a deletion
    ChangeRecord.objects.all().delete()  # as before the change log existed
    Provider.objects.update(version=0)

    backfill(apps, "models_registry", "Provider", lambda row: row.name)

    records = ChangeRecord.objects.order_by("version")
    assert [(r.object_repr, r.version, r.change_type) for r in records] == [
        ("Acme", 1, "created"),
        ("Acme AI", 2, "updated"),
    ]
    assert records[1].diff == [{"field": "name", "old": "Acme", "new": "Acme AI"}]
    kept.refresh_from_db()
    assert kept.version == 2
