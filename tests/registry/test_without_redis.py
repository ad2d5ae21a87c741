"""Every admin page and command works while Redis is down: a visible warning, never a 500."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from models_registry.models import RolloutFlag
from models_registry.rollout.flags import DB_MODELS_FLAG

DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}
redis_down = override_settings(REDIS_URL="redis://127.0.0.1:1/0", CACHES=DOWN)

pytestmark = pytest.mark.django_db


@redis_down
def test_the_rollout_page_warns_and_rollback_still_works(
    client, superuser, seeded, django_capture_on_commit_callbacks
):
    client.force_login(superuser)
    page = client.get(reverse("admin:models_registry_rollout"))
    assert page.status_code == 200
    assert "The shared counters (Redis) are unreachable" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:models_registry_rollout"),
            {"flag": DB_MODELS_FLAG, "action": "set", "percent": "10", "reason": "r",
             f"version_{DB_MODELS_FLAG}": "0"},
        )  # fmt: skip
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:models_registry_rollout"),
                    {"flag": DB_MODELS_FLAG, "action": "rollback", "reason": "incident"})  # fmt: skip
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).everyone is False


@redis_down
def test_rollout_commands_succeed_and_advance_is_refused_with_a_reason(
    seeded, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rollout", "set", "10", "--reason", "r")
        call_command("rollout", "rollback", "--reason", "incident")
    assert "use_db_models: 0%" in capsys.readouterr().out
    with pytest.raises(Exception, match="shared read counters"):
        call_command("rollout", "advance", "--reason", "go")


@redis_down
def test_the_model_pages_and_import_preview_answer(client, superuser, seeded):
    client.force_login(superuser)
    for name in ("changelist", "import"):
        assert client.get(reverse(f"admin:models_registry_aimodel_{name}")).status_code == 200
    assert client.get(reverse("admin:models_registry_changerecord_changelist")).status_code == 200
