import pytest

from models_registry.models import AIModel, RolloutFlag
from models_registry.rollout.flags import DB_MODELS_FLAG, set_flag_percent

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


def test_superuser_moves_the_rollout_from_the_page_with_a_reason(client, superuser, seeded):
    client.force_login(superuser)
    response = client.post(URL, {"flag": DB_MODELS_FLAG, "action": "advance", "reason": "go 1%"})
    assert response.status_code == 302
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).percent == 1
    client.post(URL, {"flag": DB_MODELS_FLAG, "action": "rollback", "reason": "incident"})
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).everyone is False
    history = RolloutFlag.objects.get(name=DB_MODELS_FLAG).history.order_by("history_id")
    assert [(h.history_user, h.history_change_reason) for h in history] == [
        (superuser, "go 1%"),
        (superuser, "incident"),
    ]


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
    first = flag.history.order_by("history_id").first()
    client.force_login(superuser)
    client.post(f"/admin/models_registry/rolloutflag/{flag.pk}/history/{first.history_id}/", {})
    flag.refresh_from_db()
    assert flag.everyone is False and flag.history.count() == 2
