import pytest
from django.urls import reverse

from models_registry.audit.history import versions_of
from models_registry.models import AIModel, RolloutFlag
from models_registry.rollout.flags import DB_MODELS_FLAG, set_flag_percent, stage_history

pytestmark = pytest.mark.django_db
URL = "/admin/models_registry/rolloutflag/rollout/"


def test_rollout_page_shows_percent_history_counters_and_parity(client, superuser, seeded):
    set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="first stage")
    set_flag_percent(DB_MODELS_FLAG, 10, user=superuser, reason="no errors at 1%")
    AIModel.objects.filter(model_id="openai:gpt-5").delete()
    client.force_login(superuser)
    page = client.get(URL).content.decode()
    assert 'use_db_models: <span class="rollout-percent">10.0%</span>' in page
    assert "no errors at 1%" in page and "first stage" in page and "system" in page
    assert "Reads since the last stage change" in page
    assert "openai:gpt-5: in the static catalog but missing from the database" in page


def test_superuser_moves_the_rollout_from_the_page_with_a_reason(client, superuser, seeded, serve_reads):
    client.force_login(superuser)
    serve_reads()
    page = client.get(URL).content.decode()
    assert f'name="version_{DB_MODELS_FLAG}" value="0"' in page  # never set: version 0
    response = client.post(
        URL,
        {"flag": DB_MODELS_FLAG, "action": "advance", "reason": "go 1%", f"version_{DB_MODELS_FLAG}": "0"},
    )
    assert response.status_code == 302
    flag = RolloutFlag.objects.get(name=DB_MODELS_FLAG)
    assert (flag.percent, flag.version) == (1, 1)
    response = client.post(
        URL,
        {
            "flag": DB_MODELS_FLAG,
            "action": "rollback",
            "reason": "incident",
            f"version_{DB_MODELS_FLAG}": "1",
        },
    )
    assert response.status_code == 302
    flag = RolloutFlag.objects.get(name=DB_MODELS_FLAG)
    assert (flag.everyone, flag.version) == (False, 2)
    history = flag.history.order_by("history_id")
    assert [(h.history_user, h.history_change_reason) for h in history] == [
        (superuser, "go 1%"),
        (superuser, "incident"),
    ]
    assert [(s.number, s.percent, s.changed_by, s.reason) for s in stage_history(DB_MODELS_FLAG)] == [
        (1, 1, "root", "go 1%"),
        (2, 0, "root", "incident"),
    ]


@pytest.mark.parametrize("page_version", ["1", None], ids=["stale page", "no version posted"])
def test_a_rollback_is_never_refused_for_the_page_version(client, superuser, seeded, page_version):
    set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="stage 1%")
    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage 10%")  # after the page loaded
    client.force_login(superuser)
    data = {"flag": DB_MODELS_FLAG, "action": "rollback", "reason": "incident"}
    if page_version is not None:
        data[f"version_{DB_MODELS_FLAG}"] = page_version
    response = client.post(URL, data)
    assert response.status_code == 302  # the emergency brake always works
    flag = RolloutFlag.objects.get(name=DB_MODELS_FLAG)
    assert (flag.everyone, flag.version) == (False, 3)


def test_a_set_from_a_stale_page_is_refused_and_changes_nothing(client, superuser, seeded):
    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage 10%")
    set_flag_percent(DB_MODELS_FLAG, 0, user=None, reason="incident")  # lands after the page loaded
    client.force_login(superuser)
    data = {
        "flag": DB_MODELS_FLAG,
        "action": "set",
        "percent": "50",
        "reason": "go 50%",
        f"version_{DB_MODELS_FLAG}": "1",  # what the page showed
    }
    response = client.post(URL, data, follow=True)
    assert "was changed after you opened it" in response.content.decode()
    flag = RolloutFlag.objects.get(name=DB_MODELS_FLAG)
    assert (flag.everyone, flag.percent, flag.version) == (False, None, 2)


def test_a_set_without_the_page_version_is_refused(client, superuser, seeded):
    client.force_login(superuser)
    data = {"flag": DB_MODELS_FLAG, "action": "set", "percent": "50", "reason": "go 50%"}
    response = client.post(URL, data, follow=True)
    assert "missing the flag" in response.content.decode()
    assert not RolloutFlag.objects.exists()


def test_advance_refusal_is_shown_and_changes_nothing(client, superuser, seeded):
    AIModel.objects.filter(model_id="openai:gpt-5").delete()
    client.force_login(superuser)
    response = client.post(URL, {"flag": DB_MODELS_FLAG, "action": "advance", "reason": "go"}, follow=True)
    assert "missing from the database" in response.content.decode()
    assert not RolloutFlag.objects.exists()


def test_flag_history_is_viewable_in_the_admin(client, superuser):
    flag = set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="half of the users")
    client.force_login(superuser)
    response = client.get(f"/admin/models_registry/rolloutflag/{flag.pk}/history/")
    assert response.status_code == 200
    assert "half of the users" in response.content.decode()


def test_editors_and_viewers_cannot_see_or_change_the_rollout(client, editor, viewer):
    for user in (editor, viewer):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        response = client.post(URL, {"flag": DB_MODELS_FLAG, "action": "rollback", "reason": "x"})
        assert response.status_code == 403
    assert not RolloutFlag.objects.exists()


def test_no_history_form_can_revert_a_flag_without_a_reason(client, superuser):
    flag = set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="half")
    set_flag_percent(DB_MODELS_FLAG, 0, user=None, reason="rollback")
    client.force_login(superuser)
    client.post(reverse("admin:models_registry_rolloutflag_as_of", args=[flag.pk, 1]), {})
    refused = client.post(
        reverse("admin:models_registry_rolloutflag_revert", args=[flag.pk, 1]), {"seen_version": 2}
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors["reason"] == ["This field is required."]
    flag.refresh_from_db()
    assert (flag.everyone, flag.version, flag.history.count()) == (False, 2, 2)


def test_a_flag_is_reverted_through_the_rollout_with_a_reason(client, superuser):
    flag = set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="half")
    set_flag_percent(DB_MODELS_FLAG, 0, user=None, reason="rollback")
    client.force_login(superuser)
    revert_url = reverse("admin:models_registry_rolloutflag_revert", args=[flag.pk, 1])
    response = client.post(revert_url, {"reason": "fixed", "seen_version": 2})
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.percent, flag.version) == (50, 3)
    latest = versions_of(flag)[-1]
    assert (latest.change_type, latest.changed_by, latest.reason) == (
        "reverted",
        "root",
        "Reverted to v1: fixed",
    )


def test_the_pages_parity_report_follows_the_catalogs_writes(
    client, superuser, seeded, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from models_registry.catalog.services import update_model

    client.force_login(superuser)
    assert "changed openai:gpt-5" not in client.get(URL).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        update_model(
            AIModel.objects.get(model_id="openai:gpt-5"),
            user=superuser,
            reason="price drop",
            changes={"input_price": Decimal("1")},
        )
    page = client.get(URL).content.decode()
    assert "changed openai:gpt-5" in page
