"""Outages made with a TCP proxy in front of PostgreSQL or Redis, while a real chat process reads.

The shared servers are never stopped: each test starts its own proxy, points a
reader process (tests/faults/reader.py) at it, and stalls or kills the proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from models_registry.catalog.services import update_model
from models_registry.models import AIModel, RolloutFlag
from models_registry.rollout.flags import DB_MODELS_FLAG, rollback_flag, set_flag_percent

from .proxy import FaultProxy

ROOT = Path(__file__).resolve().parents[2]
READER = Path(__file__).with_name("reader.py")
MODEL = "openai:gpt-5"
CONVERGENCE_BOUND_SECONDS = 5.0  # REGISTRY_DB_CHECK_SECONDS: a write whose Redis news was lost
SLACK_SECONDS = 2.0  # a busy 2-core CI machine

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="outages of a database server"),
]


_running: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _stop_readers():
    """A failed test must not leave a reader holding a session on the test database."""
    yield
    while _running:
        process = _running.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


class Reader:
    """The reader process, its output lines collected as they come."""

    def __init__(self, seconds: float, *, database_port: int | None = None, redis_url: str = "") -> None:
        db = connection.settings_dict
        port = database_port or db["PORT"] or 5432
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DEBUG"}}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",  # production settings, not the suite's
            SECRET_KEY="fault-reader",
            DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{port}/{db['NAME']}",
            REGISTRY_REFRESH_SECONDS="0.5",
            DB_CONNECT_TIMEOUT="2",
            MODELS_REGISTRY_SOURCE="rollout",
        )
        if redis_url:
            env["REDIS_URL"] = redis_url
        self.process = subprocess.Popen(
            [sys.executable, str(READER), MODEL, str(seconds)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        _running.append(self.process)
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def wait_for(self, prefix: str, timeout: float = 20) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines:
                if line.startswith(prefix):
                    return line
            time.sleep(0.05)
        raise AssertionError(
            f"no {prefix!r} line in {self.lines[-10:]}; stderr: {self.process.stderr.read()}"
        )

    def summary(self) -> dict:
        self.process.wait(timeout=60)
        self._thread.join(timeout=5)
        slow = self.process.stderr.read()
        if "most recent call first" in slow:
            print("slow reads:\n" + slow[-4000:])
        return json.loads(self.lines[-1])


def _everyone_reads_the_database() -> None:
    set_flag_percent(DB_MODELS_FLAG, 100, user=None, reason="fault test")


def _set_price(price: str) -> None:
    update_model(AIModel.objects.get(model_id=MODEL), user=None, reason="fault test",
                 changes={"input_price": Decimal(price)})  # fmt: skip


def test_a_database_stall_keeps_reads_fast_and_recovers(seeded):
    _everyone_reads_the_database()
    proxy = FaultProxy(int(connection.settings_dict["PORT"] or 5432))
    try:
        reader = Reader(28, database_port=proxy.port)
        assert reader.wait_for("ready").split()[1:] == ["2.5", "database"]
        time.sleep(1.5)
        proxy.stall()
        time.sleep(20)
        proxy.restore()
        time.sleep(1)
        _set_price("1.5")  # recovered without a restart: a write after the stall is seen
        reader.wait_for("seen 1.5 database", timeout=10)
        summary = reader.summary()
    finally:
        proxy.close()
    print("database stalled 20 s:", summary)
    assert summary["errors"] == 0
    assert summary["p99_ms"] <= 50, summary
    assert summary["reads"] > 1000


def test_a_database_that_vanishes_is_served_from_the_last_snapshot(seeded):
    _everyone_reads_the_database()
    proxy = FaultProxy(int(connection.settings_dict["PORT"] or 5432))
    try:
        reader = Reader(10, database_port=proxy.port)
        reader.wait_for("ready")
        time.sleep(1)
        proxy.kill()
        time.sleep(5)
        proxy.restore()
        summary = reader.summary()
    finally:
        proxy.close()
    print("database killed 5 s:", summary)
    assert summary["errors"] == 0
    assert summary["p99_ms"] <= 50, summary
    assert not [line for line in reader.lines if line.startswith("seen")]  # never fell back to static


def test_a_process_started_while_the_database_refuses_serves_static_and_backs_off(seeded):
    proxy = FaultProxy(int(connection.settings_dict["PORT"] or 5432))
    proxy.refuse()
    try:
        reader = Reader(12, database_port=proxy.port)
        assert reader.wait_for("ready").split()[1:] == ["2.5", "static"]  # served at once, from static
        time.sleep(4)
        attempts = proxy.connections
        proxy.restore()
        _everyone_reads_the_database()
        _set_price("1.5")
        reader.wait_for("seen 1.5 database", timeout=15)  # back on the database once it answers
        summary = reader.summary()
    finally:
        proxy.close()
    print("started with the database refusing:", summary, f"{attempts} connection attempts while refused")
    assert summary["errors"] == 0
    assert attempts < 30  # retries back off (a retry on every read would be thousands)


def test_a_process_started_during_a_database_stall_serves_static_within_the_first_load_bound(seeded):
    proxy = FaultProxy(int(connection.settings_dict["PORT"] or 5432))
    proxy.stall()
    started = time.monotonic()
    try:
        reader = Reader(10, database_port=proxy.port)
        assert reader.wait_for("ready", timeout=15).split()[1:] == ["2.5", "static"]
        first_read_after = time.monotonic() - started
        proxy.restore()
        _everyone_reads_the_database()
        _set_price("1.5")
        reader.wait_for("seen 1.5 database", timeout=20)
        summary = reader.summary()
    finally:
        proxy.close()
    print(
        f"started during a stall: first read after {first_read_after:.1f}s (process start included)", summary
    )
    assert first_read_after < 10  # connect timeout 2 s, first-load bound 5 s, plus Python's start
    assert summary["errors"] == 0


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis")
def test_a_redis_stall_does_not_slow_reads(seeded):
    _everyone_reads_the_database()
    redis = FaultProxy(6379)
    try:
        reader = Reader(12, redis_url=f"redis://127.0.0.1:{redis.port}/0")
        reader.wait_for("ready")
        time.sleep(1)
        redis.stall()
        time.sleep(8)
        redis.restore()
        summary = reader.summary()
    finally:
        redis.close()
    print("Redis stalled 8 s:", summary)
    assert summary["errors"] == 0
    assert summary["p99_ms"] <= 50, summary


def test_a_process_started_while_redis_refuses_serves_the_database_catalog(seeded):
    _everyone_reads_the_database()
    _set_price("1.25")  # the database differs from the static catalog (2.5)
    redis = FaultProxy(6379)
    redis.kill()  # refuses connections
    try:
        reader = Reader(3, redis_url=f"redis://127.0.0.1:{redis.port}/0")
        assert reader.wait_for("ready").split()[1:] == ["1.25", "database"]
        summary = reader.summary()
    finally:
        redis.close()
    assert summary["errors"] == 0


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis as the fast path")
def test_a_rollback_and_a_price_change_made_with_redis_cut_reach_a_running_process(seeded):
    _everyone_reads_the_database()
    reader = Reader(20, redis_url=settings.REDIS_URL)
    assert reader.wait_for("ready").split()[1:] == ["2.5", "database"]
    cut = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0", CACHES=cut):  # this writer cannot reach Redis
        _set_price("1.75")
        written = time.time()
        price_seen = float(reader.wait_for("seen 1.75", timeout=15).split()[3]) - written
        rollback_flag(DB_MODELS_FLAG, user=None, reason="incident while Redis is down")
        rolled_back = time.time()
        static_seen = float(reader.wait_for("seen 2.5 static", timeout=15).split()[3]) - rolled_back
    summary = reader.summary()
    print(
        f"with Redis cut: price change seen after {price_seen:.2f}s, rollback after {static_seen:.2f}s",
        summary,
    )
    assert price_seen <= CONVERGENCE_BOUND_SECONDS + SLACK_SECONDS
    assert static_seen <= CONVERGENCE_BOUND_SECONDS + SLACK_SECONDS
    assert summary["errors"] == 0


def test_a_rollback_while_the_database_is_gone_fails_cleanly_and_lands_once_it_is_back(seeded):
    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage")
    proxy = FaultProxy(int(connection.settings_dict["PORT"] or 5432))
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SECRET_KEY"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DB_CONNECT_TIMEOUT="2",
               DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}")  # fmt: skip
    command = [sys.executable, "manage.py", "rollout", "rollback", "--reason", "incident"]
    try:
        proxy.kill()
        refused = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).percent == 10  # no phantom write
        proxy.restore()
        landed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    finally:
        proxy.close()
    assert refused.returncode == 1
    assert "the database is unreachable, nothing was changed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert landed.returncode == 0, landed.stderr
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).everyone is False  # not lost either
