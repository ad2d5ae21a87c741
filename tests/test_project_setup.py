import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from models_registry.roles import EDITORS, VIEWERS

ROOT = Path(__file__).resolve().parent.parent


def test_settings_refuse_to_start_without_a_secret_key_when_not_debugging():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_leftover_one_off_variable_does_not_let_a_server_start_without_a_key():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", REGISTRY_ONE_OFF_COMMAND="1")
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


# The production environment the README documents (besides DATABASE_URL and REDIS_URL).
PRODUCTION_ENV = {
    "SECRET_KEY": "x7Rk2pQv9LmN4sT8wZ1cY6bH3jF5gD0aE2uI7oP9qW4eR6tY8uI0oP2aS4dF6gH8",
    "ALLOWED_HOSTS": "registry.example.com",
    "SECURE_HSTS_PRELOAD": "1",
}


def test_check_deploy_passes_with_the_documented_production_environment():
    # The production environment only: not the suite's (the browser tests relax async safety).
    ignored = {"DEBUG", "SECURE_SSL_REDIRECT", "SECURE_COOKIES", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _without_key_or_debug() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return env


def test_runserver_refuses_to_start_without_a_secret_key():
    result = subprocess.run(
        [sys.executable, "manage.py", "runserver", "--noreload", "127.0.0.1:0"],
        cwd=ROOT, env=_without_key_or_debug(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_one_off_commands_run_without_a_secret_key():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT, env=_without_key_or_debug(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


@pytest.mark.django_db
def test_roles_exist_with_their_permissions():
    editors = set(Group.objects.get(name=EDITORS).permissions.values_list("codename", flat=True))
    viewers = set(Group.objects.get(name=VIEWERS).permissions.values_list("codename", flat=True))
    assert {
        "view_aimodel",
        "add_aimodel",
        "change_aimodel",
        "import_aimodel",
        "export_aimodel",
        "view_provider",
        "add_provider",
        "change_provider",
    } <= editors
    assert "delete_aimodel" not in editors
    assert {"view_aimodel", "view_provider"} <= viewers
    assert not any(code.startswith(("add_", "change_", "delete_", "import_")) for code in viewers)


@pytest.mark.django_db
def test_admin_lists_the_58_seeded_models_after_login(client, superuser, seeded):
    assert client.get("/admin/models_registry/aimodel/").status_code == 302  # to the login page
    client.force_login(superuser)
    response = client.get("/admin/models_registry/aimodel/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 58
    history = client.get(
        f"/admin/models_registry/aimodel/{response.context['cl'].result_list[0].pk}/history/"
    )
    assert history.status_code == 200
    assert b"Initial seed from static catalog" in history.content
