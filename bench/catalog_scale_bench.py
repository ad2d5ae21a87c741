"""The registry and the router at 5,000 models: the figures issue 12 asks for, in one run.

    .venv/bin/python bench/catalog_scale_bench.py            # SQLite in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \
        .venv/bin/python bench/catalog_scale_bench.py

Builds a throwaway database with the static catalog, the router's config and profiles, and a
synthetic 5,000-model catalog in the shape of a public price map (``synthetic_catalog.py``:
20 makers, 63 resellers listing the makers' models again, half the models without a router
profile), bulk-inserted. Reads go through the production path (``MODELS_REGISTRY_SOURCE=database``:
snapshots, rollout flags). Prints medians and p95 of the read API and ``route()``, the
decision's size, what a one-model write and a profile write cost each worker, the rollout
page's queries and time, and the peak memory of a 5,000-row import (in a process of its own).
Asserts nothing.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal

os.environ["MODELS_REGISTRY_SOURCE"] = "database"
os.environ["AUTOROUTER_CLASSIFIER"] = "local"
os.environ["AUTOROUTER_DECISION_LOG_RATE"] = "0"
from _bench_setup import ROOT, start_django, throwaway_database

start_django("catalog-scale-bench")

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.urls import reverse

from autorouter import route
from autorouter.models import ModelProfile
from autorouter.services import seed_config, seed_profiles, update_profile
from autorouter.state import database_state
from models_registry import registry
from models_registry.catalog.services import seed_models, update_model
from models_registry.domain.static_catalog import load_static_catalog
from models_registry.models import AIModel
from tests.scale import bulk_catalog

SIZE = 5_000
SEARCHES = [
    "claude", "gpt-5", "sonnet", "gemini flash", "llama 3", "deepseek r", "grok", "qwen coder", "o3",
    "mistral", "Claude Opus", "gpt-4o-mini", "openai:gpt-5", "azure", "flash lite", "kimi", "nova",
    "thinking", "xyz", "phi",
]  # fmt: skip
MESSAGES = [
    "hi!",
    "thanks, can you make it shorter?",
    "Write a Python function that parses ISO 8601 dates and add unit tests",
    "Prove that there are infinitely many primes, step by step",
    "What are the side effects of ibuprofen combined with alcohol?",
    "Summarise the main arguments of this article about central bank policy in three bullet points",
    "Write a short poem about autumn in Lisbon",
    "Find the latest research on solid-state batteries and cite sources",
    "Refactor this React component to use hooks and explain the changes",
    "Compare the tax implications of a Roth IRA and a traditional IRA for a 35-year-old",
]


def timed(call: Callable[[int], object], rounds: int) -> list[float]:
    """Per-call seconds of ``call(i)`` for i in range(rounds)."""
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: list[float], unit: str = "µs") -> str:
    scale = 1e6 if unit == "µs" else 1e3
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(samples) * scale:9.2f} {unit}   p95 {p95 * scale:9.2f} {unit}"


def line(label: str, figures: str, target: str = "") -> None:
    print(f"  {label:<46} {figures}" + (f"   (target {target})" if target else ""))


def read_api(rng: random.Random) -> None:
    index = registry.database_snapshot.get()
    ids = [model.id for model in index.models]
    providers = sorted(index.providers)
    picks = [rng.choice(ids) for _ in range(2_000)]
    print(f"read API over {len(ids):,} models (database source):")
    line("get_model", summary(timed(lambda i: registry.get_model(picks[i]), 2_000)))
    for provider in providers:  # warm the per-filter memo, as a running worker has it
        registry.list_models(provider=provider)
    line(
        "list_models(provider=…)",
        summary(timed(lambda i: registry.list_models(provider=providers[i % len(providers)]), 2_000)),
    )
    registry.search_models("warm")  # the search index is built on the first search of a snapshot
    searches = [SEARCHES[i % len(SEARCHES)] for i in range(2_000)]
    line(
        "search_models (20 typed queries)",
        summary(timed(lambda i: registry.search_models(searches[i]), 2_000)),
        "≤ 50 µs median",
    )
    priced = [model_id for model_id in picks if registry.get_model(model_id).pricing.input is not None]
    line(
        "calculate_cost",
        summary(
            timed(
                lambda i: registry.calculate_cost(
                    priced[i % len(priced)], input_tokens=12_000, cached_input_tokens=0, output_tokens=800
                ),
                2_000,
            )
        ),
    )  # fmt: skip


def routing() -> None:
    state = database_state()
    profiled = len(state.profiles)
    print(f"route() over {AIModel.objects.count():,} models, {profiled:,} with a profile:")
    route(MESSAGES[0], subject=0)  # builds the routing index of this snapshot
    sizes: list[int] = []

    def one(i: int) -> None:
        decision = route(MESSAGES[i % len(MESSAGES)], subject=i, context_tokens=(i % 7) * 9_000)
        if i % 10 == 0:
            sizes.append(len(json.dumps(decision.to_dict(), default=str)))

    with CaptureQueriesContext(connection) as queries:
        samples = timed(one, 1_000)
    line("route()", summary(samples, "ms"), "≤ 0.5 ms median")
    line(
        "decision as JSON (the decision log's row)",
        f"median {statistics.median(sizes) / 1024:6.1f} KB   max {max(sizes) / 1024:6.1f} KB",
        "≤ 20 KB",
    )
    line("queries in 1,000 route() calls", f"{len(queries)}")


def rebuilds() -> None:
    # A write of this process is loaded in the reader's own thread (read your own writes), so the
    # reload is timed here; another worker runs the same reload in its poll thread.
    print("what a write costs each worker (median of 7):")
    index = registry.database_snapshot.get()
    model_ids = [model.id for model in index.models[:: max(1, len(index.models) // 7)]][:7]
    reload_s, search_s, route_s = [], [], []
    for n, model_id in enumerate(model_ids):
        row = AIModel.objects.get(model_id=model_id)
        price = row.input_price or Decimal("1")
        update_model(
            row, user=None, reason="bench: one-model write", changes={"input_price": price + Decimal("0.01")}
        )
        start = time.perf_counter()
        registry.database_snapshot.get()
        reload_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        registry.search_models("claude")
        search_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        route(MESSAGES[n % len(MESSAGES)], subject=n)
        route_s.append(time.perf_counter() - start)
    line("one-model write: catalog snapshot reload", summary(reload_s, "ms"), "≤ 20 ms")
    line("  then the first search (builds its index)", summary(search_s, "ms"))
    line("  then the first route() (builds its index)", summary(route_s, "ms"))

    profiles = list(ModelProfile.objects.order_by("model_id")[:7])
    catalog_s, router_s, catalog_kept = [], [], 0
    for profile in profiles:
        before = registry.database_snapshot.get()
        update_profile(
            profile, user=None, reason="bench: profile write", changes={"coding": (profile.coding + 1) % 100}
        )
        start = time.perf_counter()
        after = registry.database_snapshot.get()
        catalog_s.append(time.perf_counter() - start)
        catalog_kept += after is before
        start = time.perf_counter()
        database_state()
        router_s.append(time.perf_counter() - start)
    line(
        "profile write: catalog snapshot",
        summary(catalog_s, "ms") + f"   (kept {catalog_kept}/{len(profiles)})",
    )
    line("profile write: router snapshot reload", summary(router_s, "ms"))


def rollout_page() -> None:
    setup_test_environment()  # the test client's host, 'testserver', is allowed
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    url = reverse("admin:models_registry_rollout")
    client.get(url)
    print("rollout page (the parity report is recomputed after a catalog write, then kept):")
    row = AIModel.objects.get(model_id="openai:gpt-5")
    for label, write in (("after a catalog write", True), ("again (report kept)", False)):
        samples, counts, size = [], [], 0
        for n in range(3):
            if write:
                update_model(row, user=None, reason="bench", changes={"input_price": row.input_price + n + 1})
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url)
                samples.append(time.perf_counter() - start)
            counts.append(len(queries))
            size = len(response.content)
        line(
            f"GET rollout page, {label}",
            f"{summary(samples, 'ms')}   {counts[-1]} queries   {size / 1024:.0f} KB",
        )


def import_memory() -> None:
    """Peak RSS of a 5,000-row import (preview and confirm), each in a fresh process of its own."""
    print("5,000-row JSON import through the admin (preview + confirm), own process:")
    env = dict(os.environ, DATABASE_URL=_database_url())
    for kind in ("new", "changed"):
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "import_memory_probe.py"), str(SIZE), kind],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        for output_line in (result.stdout or result.stderr).strip().splitlines()[-2:]:
            print(f"  {output_line}")


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def main() -> None:
    with throwaway_database():
        static = load_static_catalog()
        assert seed_models(static.models, provider_names=static.providers).ok
        seed_config()
        seed_profiles()
        start = time.perf_counter()
        created = bulk_catalog(SIZE, profiles_share=0.5)
        print(
            f"catalog scale bench on {connection.vendor}, Python {sys.version.split()[0]}: "
            f"{AIModel.objects.count():,} models ({len(created.models):,} synthetic, "
            f"{len(created.providers)} synthetic providers, {len(created.profiles):,} synthetic profiles; "
            f"bulk insert {time.perf_counter() - start:.1f} s)"
        )
        start = time.perf_counter()
        registry.database_snapshot.get()
        line("catalog snapshot, first (whole) load", f"{(time.perf_counter() - start) * 1e3:9.2f} ms")
        read_api(random.Random(12))
        routing()
        rebuilds()
        rollout_page()
        import_memory()
        print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
