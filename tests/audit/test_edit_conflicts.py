"""Two editors start from the same version and both save: the second is refused, nothing is lost.

For every edit surface: the provider form, the model form, the router config
page, the profile list and the rollout page. The refusal lists who changed
what meanwhile, the first editor's change stays, and the second editor's
input is still in the page they get back.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from autorouter.models import ModelProfile, RouterConfig
from models_registry.audit.history import versions_of
from models_registry.catalog import services
from models_registry.models import AIModel, Provider, RolloutFlag
from models_registry.rollout.flags import DB_MODELS_FLAG, set_flag_percent

from .conftest import form_data

pytestmark = pytest.mark.django_db


def _refusal(response) -> str:
    assert response.status_code == 200, "a refused save re-renders the page, it does not redirect"
    return response.content.decode()


def test_provider_form_second_save_is_refused_and_keeps_the_input(as_alice, as_bob):
    provider = services.create_provider(slug="acme", name="Acme", user=None, reason="setup")
    url = reverse("admin:models_registry_provider_change", args=[provider.pk])
    alice_form = form_data(as_alice, url, name="Acme AI", reason="rebrand")
    bob_form = form_data(as_bob, url, name="ACME Labs", reason="legal name")

    assert as_alice.post(url, alice_form).status_code == 302
    page = _refusal(as_bob.post(url, bob_form))

    assert "was changed after you opened it" in page
    assert "Version 2 by alice" in page and "Acme → Acme AI" in page
    assert 'value="ACME Labs"' in page  # bob's input is still there
    provider.refresh_from_db()
    assert (provider.name, provider.version) == ("Acme AI", 2)


def test_model_form_second_save_is_refused_and_keeps_the_input(as_alice, as_bob, seeded):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    url = reverse("admin:models_registry_aimodel_change", args=[model.pk])
    alice_form = form_data(as_alice, url, context_window="300000", reason="bigger window")
    bob_form = form_data(as_bob, url, best_for="Hard problems, long documents", reason="copy edit")

    assert as_alice.post(url, alice_form).status_code == 302
    page = _refusal(as_bob.post(url, bob_form))

    assert "Version 2 by alice" in page and "context_window" in page
    assert "Hard problems, long documents" in page
    model.refresh_from_db()
    assert model.context_window == 300_000 and model.best_for != "Hard problems, long documents"
    assert [v.changed_by for v in versions_of(model)] == ["system", "alice"]


def test_router_config_second_save_is_refused_and_keeps_input_and_reason(as_alice, as_bob, router_db):
    url = reverse("admin:autorouter_routerconfig_change", args=[1])
    alice_form = form_data(as_alice, url, stickiness_bonus="12", reason="stickier")
    bob_form = form_data(as_bob, url, reasoning_bonus="33", reason="bob's reason for reasoning")

    assert as_alice.post(url, alice_form).status_code == 302
    page = _refusal(as_bob.post(url, bob_form))

    assert "Version 2 by alice" in page and "stickiness_bonus" in page
    assert 'value="33"' in page and "bob&#x27;s reason for reasoning" in page
    config = RouterConfig.objects.get()
    assert config.stickiness_bonus == Decimal("12") and config.reasoning_bonus != Decimal("33")


def _profile_list_data(client, changes: dict[str, dict[str, str]], reason: str) -> dict[str, str]:
    """The profile list's POST body as the browser posts it, with ``{model_id: {field: value}}`` applied."""
    response = client.get(reverse("admin:autorouter_modelprofile_changelist"))
    formset = response.context["cl"].formset
    data = {
        f"{formset.prefix}-TOTAL_FORMS": str(len(formset.forms)),
        f"{formset.prefix}-INITIAL_FORMS": str(len(formset.forms)),
        "_save": "Save",
        "_reason": reason,
    }
    for form in formset.forms:
        for name in form.fields:
            value = form[name].value()
            data[form.add_prefix(name)] = "" if value is None else str(value)
        for name, value in changes.get(form.instance.model_id, {}).items():
            data[form.add_prefix(name)] = value
    return data


def test_profile_list_stale_row_is_refused_and_no_row_is_half_saved(as_alice, as_bob, router_db):
    url = reverse("admin:autorouter_modelprofile_changelist")
    quality_before = ModelProfile.objects.get(model_id="openai:gpt-5").quality
    alice_data = _profile_list_data(as_alice, {"openai:gpt-5": {"quality": "70"}}, "quality review")
    bob_data = _profile_list_data(
        as_bob, {"openai:gpt-5": {"coding": "95"}, "openai:gpt-5-mini": {"coding": "66"}}, "coding review"
    )

    assert as_alice.post(url, alice_data).status_code == 302
    page = _refusal(as_bob.post(url, bob_data))

    assert "Profile of openai:gpt-5 was changed after you opened it" in page
    assert f"quality: {quality_before} → 70" in page
    assert 'value="95"' in page and 'value="66"' in page  # bob's input is kept
    gpt5 = ModelProfile.objects.get(model_id="openai:gpt-5")
    mini = ModelProfile.objects.get(model_id="openai:gpt-5-mini")
    assert gpt5.quality == 70 and gpt5.coding != 95  # alice's edit stays, bob's stale one is refused
    assert mini.coding != 66 and mini.version == 1  # the other row is not half-saved
    assert [v.changed_by for v in versions_of(gpt5)] == ["system", "alice"]  # no false blame


def test_profile_list_saves_fresh_rows_as_one_change_set(as_alice, router_db):
    url = reverse("admin:autorouter_modelprofile_changelist")
    data = _profile_list_data(
        as_alice, {"openai:gpt-5": {"quality": "71"}, "openai:gpt-5-mini": {"coding": "66"}}, "review"
    )
    assert as_alice.post(url, data).status_code == 302
    gpt5 = versions_of(ModelProfile.objects.get(model_id="openai:gpt-5"))[-1]
    mini = versions_of(ModelProfile.objects.get(model_id="openai:gpt-5-mini"))[-1]
    assert gpt5.change_set_id == mini.change_set_id
    assert (gpt5.reason, gpt5.changed_by) == ("review", "alice")


def test_rollout_page_second_change_is_refused_and_keeps_the_input(as_alice, as_bob):
    set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="first stage")
    url = reverse("admin:models_registry_rollout")
    seen = as_bob.get(url).context["flags"][0]["version"]
    as_alice.get(url)
    alice = {"flag": DB_MODELS_FLAG, "action": "set", "percent": "10", "reason": "go 10",
             f"version_{DB_MODELS_FLAG}": str(seen)}  # fmt: skip
    bob = {"flag": DB_MODELS_FLAG, "action": "set", "percent": "50", "reason": "bob wants half",
           f"version_{DB_MODELS_FLAG}": str(seen)}  # fmt: skip

    assert as_alice.post(url, alice).status_code == 302
    page = _refusal(as_bob.post(url, bob))

    assert "was changed after you opened it" in page and "Version 2 by alice" in page
    assert "bob wants half" in page  # the form comes back filled in
    flag = RolloutFlag.objects.get(name=DB_MODELS_FLAG)
    assert (flag.percent, flag.version) == (Decimal(10), 2)


def test_a_rollback_is_never_refused_for_a_stale_page(as_alice, as_bob):
    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage")
    url = reverse("admin:models_registry_rollout")
    seen = as_bob.get(url).context["flags"][0]["version"]
    set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="moved on meanwhile")
    response = as_bob.post(
        url,
        {
            "flag": DB_MODELS_FLAG,
            "action": "rollback",
            "reason": "incident",
            f"version_{DB_MODELS_FLAG}": seen,
        },
    )
    assert response.status_code == 302
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).everyone is False


def test_service_write_with_a_stale_version_is_refused_with_what_changed(seeded, alice):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    services.update_model(model, user=alice, reason="price", changes={"input_price": Decimal("1")})
    stale = AIModel.objects.get(pk=model.pk)
    stale.version = 1
    with pytest.raises(services.EditConflict) as refused:
        services.update_model(stale, user=None, reason="late", changes={"best_for": "x"}, expected_version=1)
    assert "Version 2 by alice" in refused.value.messages[1]
    assert "input_price" in refused.value.messages[1]
    model.refresh_from_db()
    assert model.best_for != "x" and model.version == 2


def test_provider_slug_cannot_change(seeded):
    provider = Provider.objects.get(slug="openai")
    with pytest.raises(Exception, match="cannot be changed"):
        services.update_provider(provider, user=None, reason="x", changes={"slug": "openai2"})
