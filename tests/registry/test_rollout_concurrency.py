"""Simultaneous `rollout advance` commands in real processes move the flag exactly one stage.

Needs PostgreSQL (row locks) and Redis (the read counters every process shares).
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from models_registry.models import RolloutFlag
from models_registry.read import monitoring
from models_registry.rollout.flags import DB_MODELS_FLAG, set_flag_percent

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="needs PostgreSQL and the shared counters of Redis",
    ),
]


def _advance_at_once(count: int) -> list[subprocess.CompletedProcess]:
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{host}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
    }
    command = [sys.executable, "manage.py", "rollout", "advance", "--reason", "everyone at once"]
    processes = [
        subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


@pytest.mark.parametrize(("start", "expected"), [(None, Decimal(1)), (1, Decimal(10))])
def test_six_simultaneous_advances_move_one_stage(start, expected, seeded, serve_reads, serve_usage):
    if start is not None:
        set_flag_percent(DB_MODELS_FLAG, start, user=None, reason="stage")  # committed: a new period
    else:
        monitoring.start_new_period()
    serve_reads(settings.ROLLOUT_MIN_READS)
    serve_usage()  # clean model calls on both catalogs (the traffic gate judges the 1% stage)
    monitoring.flush()

    results = _advance_at_once(6)

    assert [result.returncode for result in results].count(0) == 1, [r.stderr[-500:] for r in results]
    for result in results:
        assert "Traceback" not in result.stderr, result.stderr
    flag = RolloutFlag.objects.get(name=DB_MODELS_FLAG)
    assert flag.everyone is None and flag.percent == expected
    assert flag.version == (1 if start is None else 2)
