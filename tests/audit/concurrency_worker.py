"""One writer process of the concurrency test (tests/audit/test_concurrency.py).

Run as ``python tests/audit/concurrency_worker.py MODE ARGS...`` with
DATABASE_URL pointing at the test database. Prints one JSON line with counts.
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django

django.setup()

from django.test.utils import setup_test_environment  # noqa: E402

setup_test_environment()  # the test client records the rendered form's context

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import OperationalError  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from models_registry.catalog import services  # noqa: E402
from models_registry.models import AIModel  # noqa: E402
from tests.audit.admin_forms import form_data  # noqa: E402

counts = {"saved": 0, "conflicts": 0, "deadlocks": 0, "errors": 0}


def admin_saves(model_id: str, times: int, username: str) -> None:
    """Change only ``best_for`` through the admin form, retrying a refused (stale) save from a fresh page."""
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    url = reverse("admin:models_registry_aimodel_change", args=[AIModel.objects.get(model_id=model_id).pk])
    for n in range(times):
        while True:
            data = form_data(client, url, best_for=f"{username} {n}", reason=f"edit {n}")
            response = client.post(url, data)
            if response.status_code == 302:
                counts["saved"] += 1
                break
            if b"was changed after you opened it" in response.content:
                counts["conflicts"] += 1
                continue
            counts["errors"] += 1
            break


def service_writes(model_id: str, times: int, field: str) -> None:
    """Read-modify-write of one field with the version read: ``context_window`` += 1 each time."""
    for _ in range(times):
        while True:
            model = AIModel.objects.get(model_id=model_id)
            value = getattr(model, field) + 1
            try:
                services.update_model(
                    model,
                    user=None,
                    reason="increment",
                    changes={field: value},
                    expected_version=model.version,
                )
            except services.EditConflict:
                counts["conflicts"] += 1
                continue
            counts["saved"] += 1
            break


def deprecate_and_reactivate(provider: str, times: int) -> None:
    """Bulk status changes over a selection sorted the opposite way to the import's."""
    for n in range(times):
        selection = list(AIModel.objects.filter(provider__slug=provider).order_by("-model_id"))
        try:
            if n % 2 == 0:
                services.deprecate_models(selection, user=None, reason="bulk deprecate")
            else:
                services.reactivate_models(selection, user=None, reason="bulk reactivate")
            counts["saved"] += 1
        except OperationalError as error:
            counts["deadlocks" if "deadlock" in str(error) else "errors"] += 1


def imports(provider: str, times: int) -> None:
    """Imports that update every model of ``provider`` (a price), in id order."""
    ids = list(
        AIModel.objects.filter(provider__slug=provider)
        .order_by("model_id")
        .values_list("model_id", flat=True)
    )
    for n in range(times):
        entries = [{"id": model_id, "pricing": {"output": str(Decimal(50 + n))}} for model_id in ids]
        try:
            services.import_models(entries, user=None, reason=f"price sheet {n}")
            counts["saved"] += 1
        except OperationalError as error:
            counts["deadlocks" if "deadlock" in str(error) else "errors"] += 1


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    try:
        if mode == "admin":
            admin_saves(args[0], int(args[1]), args[2])
        elif mode == "service":
            service_writes(args[0], int(args[1]), args[2])
        elif mode == "deprecate":
            deprecate_and_reactivate(args[0], int(args[1]))
        elif mode == "import":
            imports(args[0], int(args[1]))
        else:
            raise SystemExit(f"unknown mode {mode}")
    except Exception as error:  # reported to the test, which fails on it
        counts["errors"] += 1
        counts["error"] = repr(error)
    print(json.dumps(counts), flush=True)
