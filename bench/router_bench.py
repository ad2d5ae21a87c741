"""Auto-router benchmark: ``route()`` over the seeded catalog and a synthetic 5,000-model one.

    .venv/bin/python bench/router_bench.py            # SQLite in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench .venv/bin/python bench/router_bench.py

Sets up its own throwaway database (a temporary SQLite file, or with
``DATABASE_URL`` a ``test_<name>`` database created next to the named one and
dropped at the end), seeds the catalog, the router config and the profiles,
and routes with every rollout flag on (``MODELS_REGISTRY_SOURCE=database``)
and the semantic classifier (the keyword one too, for comparison): the production read
path, snapshots included.
The synthetic catalog is ``synthetic_catalog.py``'s document at 5,000 models,
half of them with a router profile, bulk-inserted (no history rows: throwaway
data). Prints ``route()``'s median and p95, the parts (classify, the bounded
decision, the exhaustive ``decide()`` for comparison), the routing index's
build time and the decision's JSON size. Asserts nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

os.environ["MODELS_REGISTRY_SOURCE"] = "database"
os.environ["AUTOROUTER_DECISION_LOG_RATE"] = "0"
from _bench_setup import ROOT, start_django, throwaway_database

start_django("router-bench")

from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from autorouter import route
from autorouter.classifier import classify
from autorouter.engine import decide
from autorouter.models import ModelProfile
from autorouter.routing_index import RoutingIndex, decide_bounded, routing_index_for
from autorouter.semantic import classify_semantic
from autorouter.services import seed_config, seed_profiles
from autorouter.state import database_state, semantic_model
from autorouter.types import CATEGORIES
from models_registry import registry
from models_registry.catalog.services import seed_models
from models_registry.domain.static_catalog import load_static_catalog
from models_registry.models import AIModel
from tests.scale import bulk_catalog

MESSAGES = [
    "hi!",
    "thanks, can you make it shorter?",
    "Write a Python function that parses ISO 8601 dates and add unit tests",
    "Prove that the square root of 2 is irrational, step by step",
    "Write a short poem about autumn rain in Kyoto",
    "What is the capital of Australia?",
    "Compare the pros and cons of Postgres and MySQL for a small SaaS and summarize",
    "What is the latest news on the EU AI act this week? Cite sources",
    "What dose of ibuprofen is safe with my blood pressure medication?",
    "Design a scalable architecture for a chat app with 1M users: trade-offs, failure modes, costs",
    "Draw a logo for my bakery, warm colours",
    "Debug this: TypeError: 'NoneType' object is not subscriptable in my Django view",
]
PREVIOUS = [None, "openai:gpt-5", "anthropic:claude-sonnet-4.5", None]


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def p95_us(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.95)] * 1e6


def time_route(rounds: int) -> tuple[list[float], list[float], int, list[int]]:
    """``route()`` over the message mix: wall-clock and CPU times per call, queries, decisions' JSON sizes.

    The CPU time (this thread's) leaves out the time the process waited for a CPU: on a
    shared machine a preemption adds a scheduler tick (4 ms) to the wall-clock p95.
    """
    for i in range(20):  # warm the snapshots and the routing index
        route(MESSAGES[i % len(MESSAGES)], subject=i)
    samples, cpu, sizes = [], [], []
    with CaptureQueriesContext(connection) as queries:
        for i in range(rounds):
            message = MESSAGES[i % len(MESSAGES)]
            previous = PREVIOUS[i % len(PREVIOUS)]
            start, start_cpu = time.perf_counter(), time.thread_time()
            decision = route(message, subject=i, previous_model_id=previous, context_tokens=(i % 7) * 9_000)
            cpu.append(time.thread_time() - start_cpu)
            samples.append(time.perf_counter() - start)
            if i < 500:
                sizes.append(len(json.dumps(decision.to_dict())))
    return samples, cpu, len(queries), sizes


def catalog_and_state():
    """The snapshots ``route()`` reads: the database's catalog index and router state."""
    return registry._index_for(None, "database"), database_state()


def time_parts(rounds: int, exhaustive_rounds: int) -> tuple[float, float, float]:
    """Median classify, bounded decision and exhaustive ``decide()`` times (the pure parts), microseconds."""
    catalog, state = catalog_and_state()
    index = routing_index_for(catalog.models, state.profiles, state.settings, day=datetime.now(UTC).date())
    classify_s, bounded_s, exhaustive_s = [], [], []
    for i in range(rounds):
        message = MESSAGES[i % len(MESSAGES)]
        start = time.perf_counter()
        classification = classify(message, settings=state.settings)
        middle = time.perf_counter()
        decide_bounded(message, index=index, classification=classification, seed_key=str(i))
        end = time.perf_counter()
        classify_s.append(middle - start)
        bounded_s.append(end - middle)
        if i < exhaustive_rounds:
            start = time.perf_counter()
            decide(
                message,
                catalog=catalog.models,
                profiles=state.profiles,
                settings=state.settings,
                classification=classification,
                seed_key=str(i),
            )
            exhaustive_s.append(time.perf_counter() - start)
    return median_us(classify_s), median_us(bounded_s), median_us(exhaustive_s)


def time_index_build(rounds: int = 7) -> tuple[float, float]:
    """Median build time of a routing index, and of one category pair's ordering (built on first use), ms."""
    catalog, state = catalog_and_state()
    today = datetime.now(UTC).date()
    builds, orderings = [], []
    for i in range(rounds):
        start = time.perf_counter()
        index = RoutingIndex.build(catalog.models, state.profiles, state.settings, day=today)
        middle = time.perf_counter()
        index.ordering(CATEGORIES[i % len(CATEGORIES)], CATEGORIES[(i + 3) % len(CATEGORIES)])
        orderings.append(time.perf_counter() - middle)
        builds.append(middle - start)
    return statistics.median(builds) * 1000, statistics.median(orderings) * 1000


def report(label: str, rounds: int) -> None:
    catalog_size = AIModel.objects.count()
    profiled = ModelProfile.objects.count()
    samples, cpu, queries, sizes = time_route(rounds)
    classify_us, bounded_us, exhaustive_us = time_parts(min(rounds, 500), 50)
    build_ms, ordering_ms = time_index_build()
    median = median_us(samples)
    print(
        f"{label:<18} {catalog_size:>6,} models ({profiled:,} with a profile)  "
        f"route() median {median / 1000:6.3f} ms  p95 {p95_us(samples) / 1000:6.3f} ms  "
        f"(CPU time: median {median_us(cpu) / 1000:6.3f} ms, p95 {p95_us(cpu) / 1000:6.3f} ms; "
        f"{queries} queries in {rounds:,} calls)"
    )
    print(
        f"{'':<18} parts: keyword classify {classify_us:5.1f} µs, decide {bounded_us / 1000:6.3f} ms "
        f"(exhaustive decide() {exhaustive_us / 1000:6.3f} ms); routing index build {build_ms:5.1f} ms "
        f"+ {ordering_ms:4.1f} ms per category pair on first use"
    )
    print(
        f"{'':<18} decision JSON: median {statistics.median(sizes) / 1000:5.1f} KB, "
        f"max {max(sizes) / 1000:5.1f} KB"
    )


HOSTILE = {
    "50k newlines": "\n" * 50_000,
    "numbered list, 50k lines": "1. item\n" * 50_000,
    "1 MB of text": ("Explain the proof of this theorem step by step. " * 25_000)[:1_000_000],
    "lone surrogates": "why \ud800 " * 10_000,
}


def report_hostile(rounds: int = 20) -> None:
    """route() on messages built to be slow: each must stay bounded (target: 20 ms for up to 1 MB)."""
    for label, message in HOSTILE.items():
        samples = []
        for i in range(rounds):
            start = time.perf_counter()
            route(message, subject=i)
            samples.append(time.perf_counter() - start)
        median_ms, max_ms = median_us(samples) / 1000, max(samples) * 1000
        print(
            f"  route() on {label:<26} ({len(message):>9,} chars): "
            f"median {median_ms:6.2f} ms, max {max_ms:6.2f} ms"
        )


def report_tiers_by_difficulty(classifier: str) -> None:
    """The project's labelled set (fixtures/router_eval): a classifier's latency per prompt and
    accuracy on the test split, and the tier shares the calibrated thresholds give there against
    the shares the tier weights ask for."""
    from autorouter.calibration import calibrate, target_shares

    settings = database_state().settings
    lines = (ROOT / "fixtures" / "router_eval" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    test = [row for row in rows if row["split"] == "test"]
    model = semantic_model()
    if classifier == "semantic":
        assert model is not None, "the semantic classifier did not load"
        print(f"semantic classifier trained on {model.examples} examples")
    samples, found = [], []
    for row in test:
        attachments = row.get("needs") == "vision"
        started = time.perf_counter()
        if classifier == "semantic":
            classification = classify_semantic(
                row["prompt"], model=model, settings=settings, has_attachments=attachments
            )
        else:
            classification = classify(row["prompt"], settings=settings, has_attachments=attachments)
        samples.append(time.perf_counter() - started)
        found.append(classification)
    category = sum(c.primary == row["category"] for c, row in zip(found, test, strict=True)) / len(test)
    complexity = sum(c.complexity == row["complexity"] for c, row in zip(found, test, strict=True)) / len(
        test
    )
    print(
        f"{classifier} classifier on the {len(test)} test prompts: median {median_us(samples):5.1f} µs, "
        f"p95 {p95_us(samples):5.1f} µs; category {category:.1%}, complexity {complexity:.1%}"
    )
    achieved = calibrate([(c.difficulty, c.complexity) for c in found], settings)
    wanted = target_shares([c.complexity for c in found], settings)
    mid, premium = settings.mid_difficulty, settings.premium_difficulty
    shares = {
        "cheap": sum(Decimal(str(c.difficulty)) < mid for c in found) / len(found),
        "premium": sum(Decimal(str(c.difficulty)) >= premium for c in found) / len(found),
    }
    print(
        f"tiers by difficulty (mid from {mid}, premium from {premium}) on the test split: cheap "
        f"{shares['cheap']:.1%}, premium {shares['premium']:.1%}; the weights ask cheap "
        f"{float(wanted['cheap']):.1%}, premium {float(wanted['premium']):.1%}; "
        "calibrated on this split itself: mid from "
        f"{achieved.mid_difficulty}, premium from {achieved.premium_difficulty}"
    )


def main() -> None:
    with throwaway_database():
        static = load_static_catalog()
        assert seed_models(static.models, provider_names=static.providers).ok
        seed_config()
        seed_profiles()
        print(f"router bench on {connection.vendor}, Python {sys.version.split()[0]}")
        report("seeded catalog, semantic classifier", 5_000)
        with override_settings(AUTOROUTER_CLASSIFIER="local"):
            report("seeded catalog, keyword classifier", 5_000)
        for classifier in ("semantic", "local"):
            report_tiers_by_difficulty(classifier)
        report_hostile()
        # The synthetic price map's 5,000 models (those the static catalog already has are skipped),
        # half of them with a router profile.
        bulk_catalog(5_000, profiles_share=0.5)
        report("synthetic catalog", 2_000)


if __name__ == "__main__":
    main()
