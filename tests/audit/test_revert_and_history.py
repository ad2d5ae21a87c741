"""Revert, compare and "as of" for every audited object type, and a trail that survives deleted users."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from autorouter import services as router_services
from autorouter.models import ModelProfile, RouterConfig
from models_registry.audit.history import versions_of
from models_registry.catalog import services
from models_registry.models import AIModel, Provider, RolloutFlag
from models_registry.rollout.flags import DB_MODELS_FLAG, set_flag_percent

pytestmark = pytest.mark.django_db


def _revert(client, obj, number: int, reason: str = "undo"):
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_revert", args=[obj.pk, number])
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, {"reason": reason, "seen_version": page.context["form"].initial["seen_version"]})


def _edited_objects(alice):
    """One object of each audited type, each edited once by alice (so it is at version 2)."""
    provider = Provider.objects.get(slug="openai")
    services.update_provider(provider, user=alice, reason="rename", changes={"name": "OpenAI Inc."})
    model = AIModel.objects.get(model_id="openai:gpt-5")
    services.update_model(model, user=alice, reason="price", changes={"input_price": Decimal("9")})
    config = RouterConfig.objects.get()
    router_services.save_config(
        config, user=alice, reason="stickier", changes={"stickiness_bonus": Decimal(40)}
    )
    profile = ModelProfile.objects.get(model_id="openai:gpt-5")
    router_services.update_profile(profile, user=alice, reason="lower", changes={"quality": 10})
    set_flag_percent(DB_MODELS_FLAG, 1, user=alice, reason="start")
    set_flag_percent(DB_MODELS_FLAG, 10, user=alice, reason="go on")
    flag = RolloutFlag.objects.get(name=DB_MODELS_FLAG)
    return {"provider": provider, "model": model, "config": config, "profile": profile, "flag": flag}


@pytest.mark.parametrize("kind", ["provider", "model", "config", "profile", "flag"])
def test_revert_each_audited_type_records_a_reverted_version(kind, as_alice, alice, router_db):
    obj = _edited_objects(alice)[kind]
    before = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}

    response = _revert(as_alice, obj, 1, reason="back to the seed")

    assert response.status_code == 302, response.content.decode()[:2000]
    obj.refresh_from_db()
    latest = versions_of(obj)[-1]
    assert (latest.number, latest.change_type, latest.changed_by) == (3, "reverted", "alice")
    assert latest.reason == "Reverted to v1: back to the seed"
    assert {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields} != before
    history = as_alice.get(
        reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history", args=[obj.pk])
    )
    assert "reverted" in history.content.decode()


def test_reverting_a_flag_goes_through_the_rollout_rules(as_alice, alice, router_db):
    flag = _edited_objects(alice)["flag"]
    _revert(as_alice, flag, 1)
    flag.refresh_from_db()
    assert flag.percent == Decimal(1) and flag.everyone is None


def test_viewers_cannot_revert(client, viewer, alice, router_db):
    model = _edited_objects(alice)["model"]
    client.force_login(viewer)
    url = reverse("admin:models_registry_aimodel_revert", args=[model.pk, 1])
    assert client.post(url, {"reason": "x", "seen_version": 2}).status_code == 403
    assert AIModel.objects.get(pk=model.pk).version == 2


def test_compare_two_versions_and_view_as_of(as_alice, alice, seeded):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    services.update_model(model, user=alice, reason="a", changes={"input_price": Decimal("9")})
    services.update_model(model, user=alice, reason="b", changes={"best_for": "Everything"})
    base = "admin:models_registry_aimodel_"

    compare = as_alice.get(reverse(base + "compare", args=[model.pk]), {"a": 3, "b": 1}).content.decode()
    assert "version 1 compared with version 3" in compare
    assert "Input price" in compare and ">9<" in compare and "Everything" in compare

    as_of = as_alice.get(reverse(base + "as_of", args=[model.pk, 2])).content.decode()
    assert "as of version 2" in as_of and ">9<" in as_of and "Everything" not in as_of

    bad = as_alice.get(reverse(base + "compare", args=[model.pk]), {"a": 1, "b": 99})
    assert bad.status_code == 302  # back to the history with a message, not a 500
    assert as_alice.get(reverse(base + "as_of", args=[model.pk, 99])).status_code == 404


def test_deleting_a_user_keeps_every_history_page_readable(as_bob, django_user_model, alice, router_db):
    objects = _edited_objects(alice)
    django_user_model.objects.filter(pk=alice.pk).delete()

    for obj in objects.values():
        opts = obj._meta
        history = as_bob.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk]))
        assert history.status_code == 200
        assert "by <strong>alice</strong>" in history.content.decode()
        revert = as_bob.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_revert", args=[obj.pk, 1]))
        assert revert.status_code == 200
    model_list = as_bob.get(reverse("admin:models_registry_aimodel_changelist"), {"q": "openai:gpt-5"})
    assert "by alice" in model_list.content.decode()  # the list's "last change" column
    log = as_bob.get(reverse("admin:models_registry_changerecord_changelist"), {"user": "alice"})
    assert log.status_code == 200
    assert log.context["cl"].result_count == 6


def test_stale_save_after_the_editor_was_deleted_reports_a_conflict(as_bob, django_user_model, alice, seeded):
    from .conftest import form_data

    model = AIModel.objects.get(model_id="openai:gpt-5")
    url = reverse("admin:models_registry_aimodel_change", args=[model.pk])
    bob_form = form_data(as_bob, url, best_for="late", reason="late")
    services.update_model(model, user=alice, reason="first", changes={"best_for": "early"})
    django_user_model.objects.filter(pk=alice.pk).delete()

    page = as_bob.post(url, bob_form)
    assert page.status_code == 200
    assert "Version 2 by alice" in page.content.decode()
