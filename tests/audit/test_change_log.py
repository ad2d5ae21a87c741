"""The change log across all audited objects: change sets, filters, search, permissions, query count."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from autorouter import services as router_services
from autorouter.models import RouterConfig
from models_registry.audit.models import ChangeRecord, ChangeSet
from models_registry.catalog import services
from models_registry.models import AIModel

pytestmark = pytest.mark.django_db
LOG = reverse("admin:models_registry_changerecord_changelist")


def _entries(count: int) -> list[dict]:
    return [
        {
            "id": f"openai:bulk-{n:03d}",
            "provider": "openai",
            "name": f"Bulk {n}",
            "context_window": 8_000,
            "pricing": {"input": "1", "output": "2"},
        }
        for n in range(count)
    ]


def _import_through_the_admin(client, entries: list[dict], reason: str) -> None:
    url = reverse("admin:models_registry_aimodel_import")
    upload = SimpleUploadedFile("models.json", json.dumps(entries).encode(), content_type="application/json")
    preview = client.post(url, {"resource": 0, "format": 0, "import_file": upload, "reason": reason})
    assert preview.status_code == 200
    confirm = preview.context["confirm_form"]
    data = {name: confirm[name].value() for name in confirm.fields}
    response = client.post(reverse("admin:models_registry_aimodel_process_import"), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_an_import_of_100_models_is_one_change_set_of_100_versions(as_alice, seeded):
    _import_through_the_admin(as_alice, _entries(100), "quarterly price sheet")

    change_set = ChangeSet.objects.get(reason="quarterly price sheet")
    assert change_set.user_name == "alice"
    assert change_set.records.count() == 100
    assert set(change_set.records.values_list("change_type", flat=True)) == {"created"}

    page = as_alice.get(LOG, {"change_set": str(change_set.pk)})
    assert page.context["cl"].result_count == 100
    assert "version(s)" in page.content.decode() and "by alice — 100 version(s)" in page.content.decode()


def test_a_bulk_deprecate_is_one_change_set(alice, seeded):
    chosen = list(AIModel.objects.filter(provider__slug="anthropic"))
    services.deprecate_models(chosen, user=alice, reason="end of life")
    records = ChangeRecord.objects.filter(reason="end of life")
    assert records.count() == len(chosen) > 1
    assert records.values("change_set").distinct().count() == 1
    assert set(records.values_list("change_type", flat=True)) == {"deprecated"}


def test_filters_and_search(as_alice, alice, bob, router_db):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    services.update_model(
        model, user=alice, reason="price cut announced", changes={"input_price": Decimal("1")}
    )
    router_services.save_config(
        RouterConfig.objects.get(),
        user=bob,
        reason="router tuning",
        changes={"stickiness_bonus": Decimal(21)},
    )

    def count(**params) -> int:
        response = as_alice.get(LOG, params)
        assert response.status_code == 200
        return response.context["cl"].result_count

    config_type = ContentType.objects.get_for_model(RouterConfig).pk
    assert count(type=config_type) == 2  # the seed and bob's edit
    assert count(user="bob") == 1
    assert count(user="alice", change_type="updated") == 1
    assert count(q="price cut") == 1
    assert count(q="openai:gpt-5") >= 2  # its creation and alice's edit
    today = timezone.now().date()
    assert count(at__gte=str(today), at__lt=str(today + timedelta(days=1))) == ChangeRecord.objects.count()
    assert count(at__gte=str(today + timedelta(days=1))) == 0
    assert count(change_set="not-a-uuid") == 0  # a bad filter value is an empty list, not a 500


def test_each_row_shows_type_object_version_user_reason_and_diff(as_alice, alice, seeded):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    services.update_model(model, user=alice, reason="price cut", changes={"input_price": Decimal("1")})
    page = as_alice.get(LOG, {"user": "alice"}).content.decode()
    history = reverse("admin:models_registry_aimodel_history", args=[model.pk])
    assert f'href="{history}#version-2"' in page
    assert "AI model" in page and "price cut" in page and "UTC" in page
    assert "<b>input_price</b>: 2.5 → 1" in page


def test_viewers_read_the_log_and_nobody_edits_it(client, viewer, seeded):
    client.force_login(viewer)
    assert client.get(LOG).status_code == 200
    record = ChangeRecord.objects.first()
    change = reverse("admin:models_registry_changerecord_change", args=[record.pk])
    assert client.post(change, {"reason": "rewritten"}).status_code == 403
    assert (
        reverse("admin:models_registry_changerecord_changelist")
        and not hasattr(client.get(LOG).context["cl"], "formset")
    ) or client.get(LOG).context["cl"].formset is None


def test_the_log_page_runs_the_same_queries_at_any_size(
    as_alice, alice, seeded, django_assert_max_num_queries
):
    as_alice.get(LOG)
    with django_assert_max_num_queries(10):
        as_alice.get(LOG)
    services.import_models(_entries(300), user=alice, reason="big")
    with django_assert_max_num_queries(10):
        as_alice.get(LOG)
