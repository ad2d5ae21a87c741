"""Registry read benchmark: prints medians, in one run.

    .venv/bin/python bench/registry_bench.py            # SQLite in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench .venv/bin/python bench/registry_bench.py

Measures a plain dict lookup (the baseline), get_model from the static source,
get_model from the database source when warm, list_models(provider=...),
calculate_cost, and the delay until a second process sees a committed write.
With ``DATABASE_URL`` set, a throwaway ``test_<name>`` database is created
next to the named one and dropped at the end; without it a temporary SQLite
file is used.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal

from _bench_setup import ROOT, start_django, throwaway_database

start_django("registry-bench")

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import override_settings

from models_registry import registry
from models_registry.catalog.services import update_model
from models_registry.models import AIModel

CALLS = 20_000
ROUNDS = 7


def per_call_ns(fn, calls: int = CALLS) -> float:
    """Median over ROUNDS of the mean time per call, in nanoseconds."""
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def freshness_delay(model_id: str) -> float:
    env = dict(
        os.environ,
        DATABASE_URL=_database_url(),
        MODELS_REGISTRY_SOURCE="database",
        REGISTRY_REFRESH_SECONDS="1",
    )
    probe = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "freshness_probe.py"), model_id, "15"],
        env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        probe.stdout.readline()  # ready
        row = AIModel.objects.get(model_id=model_id)
        update_model(
            row, user=None, reason="bench", changes={"input_price": row.input_price + Decimal("0.01")}
        )
        committed = time.time()
        line = probe.stdout.readline().split()
        return float(line[2]) - committed if line and line[0] == "seen" else float("nan")
    finally:
        probe.kill()
        probe.wait()


def main() -> None:
    with throwaway_database():
        run()


def run() -> None:
    call_command("seed_models", verbosity=0, stdout=io.StringIO())
    db = settings.DATABASES["default"]
    print(
        f"database: {db['ENGINE'].rsplit('.', 1)[-1]}; cache: {'redis' if settings.REDIS_URL else 'locmem'}"
    )

    baseline = {model.id: model for model in registry.static_index().models}
    rows = []
    rows.append(("dict lookup (baseline)", per_call_ns(lambda: baseline.get("openai:gpt-5"))))
    with override_settings(MODELS_REGISTRY_SOURCE="static"):
        registry.get_model("openai:gpt-5")
        rows.append(("get_model, static source", per_call_ns(lambda: registry.get_model("openai:gpt-5"))))
    with override_settings(MODELS_REGISTRY_SOURCE="database"):
        registry.get_model("openai:gpt-5")
        rows.append(
            ("get_model, database source, warm", per_call_ns(lambda: registry.get_model("openai:gpt-5")))
        )
        rows.append(
            ("list_models(provider='openai')", per_call_ns(lambda: registry.list_models(provider="openai")))
        )
        rows.append(
            (
                "calculate_cost (cached + reasoning)",
                per_call_ns(
                    lambda: registry.calculate_cost(
                        "google:gemini-2.5-flash",
                        input_tokens=12_000,
                        cached_input_tokens=4_000,
                        output_tokens=2_000,
                        reasoning_tokens=500,
                    )
                ),
            )
        )
        # Long-context tiers and cache writes, as Anthropic bills Claude Sonnet 4.5 past 200k tokens.
        from models_registry.catalog.services import update_model
        from models_registry.models import AIModel

        update_model(
            AIModel.objects.get(model_id="anthropic:claude-sonnet-4.5"),
            user=None,
            reason="bench: tiers and cache writes",
            changes={
                "cache_write_5m_price": Decimal("3.75"),
                "cache_write_1h_price": Decimal("6"),
                "price_tiers": [
                    {"above_input_tokens": 200000, "input": "6", "output": "22.5", "cached_input": "0.6",
                     "cache_write_5m": "7.5", "cache_write_1h": "12"}
                ],
            },
        )  # fmt: skip
        registry.database_snapshot.invalidate()
        anthropic_usage = {
            "input_tokens": 2_000,
            "cache_read_input_tokens": 230_000,
            "cache_creation_input_tokens": 8_000,
            "cache_creation": {"ephemeral_5m_input_tokens": 5_000, "ephemeral_1h_input_tokens": 3_000},
            "output_tokens": 1_500,
        }
        registry.cost_for_usage("anthropic:claude-sonnet-4.5", anthropic_usage, usage_format="anthropic")
        rows.append(
            (
                "cost_for_usage (anthropic, tier, cache writes)",
                per_call_ns(
                    lambda: registry.cost_for_usage(
                        "anthropic:claude-sonnet-4.5", anthropic_usage, usage_format="anthropic"
                    )
                ),
            )
        )
        rows.append(
            (
                "calculate_cost, tiered, cache writes",
                per_call_ns(
                    lambda: registry.calculate_cost(
                        "anthropic:claude-sonnet-4.5",
                        input_tokens=240_000,
                        cached_input_tokens=230_000,
                        cache_write_tokens=5_000,
                        output_tokens=1_500,
                    )
                ),
            )
        )
    with override_settings(MODELS_REGISTRY_SOURCE="rollout"):
        from models_registry.rollout.flags import set_flag_percent

        set_flag_percent("use_db_models", 50, user=None, reason="bench")
        subjects = [f"user-{n}" for n in range(1000)]
        for subject in subjects:
            registry.get_model("openai:gpt-5", subject=subject)
        it = iter(range(10**9))
        rows.append(
            (
                "get_model, rollout 50%, per-user subject",
                per_call_ns(lambda: registry.get_model("openai:gpt-5", subject=subjects[next(it) % 1000])),
            )
        )
    base = rows[0][1]
    for name, ns in rows:
        print(f"{name:45s} {ns / 1000:8.3f} µs   ({ns / base:5.1f}x baseline)")
    delays = [freshness_delay("openai:gpt-5") for _ in range(3)]
    print(
        f"{'second process sees a write (median of 3)':45s} {statistics.median(delays):8.3f} s    "
        f"(refresh interval {settings.REGISTRY_REFRESH_SECONDS:g} s; each: "
        + ", ".join(f"{d:.3f}" for d in delays)
        + ")"
    )


if __name__ == "__main__":
    main()
