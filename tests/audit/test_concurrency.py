"""Concurrent writers in real processes on PostgreSQL: no lost update, no reverted value, no deadlock.

Each writer is its own Python process (tests/audit/concurrency_worker.py)
with its own database connection, as gunicorn workers and a cron job are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from models_registry.audit.models import ChangeRecord
from models_registry.models import AIModel

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("concurrency_worker.py")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need a database server"),
]


def _run(*workers: list[str]) -> list[dict]:
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{host}/{db['NAME']}",
        "ALLOWED_HOSTS": "testserver",
        "DB_CONN_MAX_AGE": "0",
    }
    processes = [
        subprocess.Popen([sys.executable, str(WORKER), *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for args in workers
    ]  # fmt: skip
    results = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_admin_saves_and_service_writes_of_other_fields_lose_nothing(seeded, django_user_model):
    for name in ("alice", "bob"):
        django_user_model.objects.create_superuser(name, f"{name}@example.com", "pw")
    model = AIModel.objects.get(model_id="openai:gpt-5")
    window = model.context_window

    results = _run(
        ["admin", model.model_id, "12", "alice"],
        ["admin", model.model_id, "12", "bob"],
        ["service", model.model_id, "12", "context_window"],
        ["service", model.model_id, "12", "context_window"],
    )
    print("admin + service writers:", results)

    assert all(result["errors"] == 0 for result in results), results
    model.refresh_from_db()
    assert model.context_window == window + 24  # every read-modify-write landed: no lost increment
    assert model.version == 1 + 48
    records = ChangeRecord.objects.filter(object_repr=model.model_id, version__gt=1)
    for record in records:  # nobody wrote back a value they did not change
        fields = {change["field"] for change in record.diff}
        assert fields == ({"best_for"} if record.user_name else {"context_window"}), (record.version, fields)


def test_read_modify_write_increments_from_several_processes_are_all_kept(seeded):
    model = AIModel.objects.get(model_id="anthropic:claude-sonnet-4.5")
    window = model.context_window
    results = _run(*[["service", model.model_id, "20", "context_window"] for _ in range(4)])
    print("increments:", results)
    model.refresh_from_db()
    assert (model.context_window, model.version) == (window + 80, 1 + 80)


def test_deprecate_against_import_never_deadlocks(seeded):
    results = _run(["deprecate", "openai", "20"], ["import", "openai", "20"])
    print("deprecate vs import:", results)
    assert [result["deadlocks"] for result in results] == [0, 0]
    assert [result["errors"] for result in results] == [0, 0]
    assert [result["saved"] for result in results] == [20, 20]
