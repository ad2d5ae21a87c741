"""Auto-router benchmark: median ``route()`` time over the seeded catalog and a synthetic 5,000-model one.

    .venv/bin/python bench/router_bench.py            # SQLite in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench .venv/bin/python bench/router_bench.py

Sets up its own throwaway database (a temporary SQLite file, or with
``DATABASE_URL`` a ``test_<name>`` database created next to the named one and
dropped at the end), seeds the catalog, the router config and the profiles,
and routes with every rollout flag on (``MODELS_REGISTRY_SOURCE=database``)
and the local classifier: the production read path, snapshots included.
The synthetic catalogs are bulk-inserted (no history rows: throwaway data).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from decimal import Decimal

os.environ["MODELS_REGISTRY_SOURCE"] = "database"
os.environ["AUTOROUTER_CLASSIFIER"] = "local"
os.environ["AUTOROUTER_DECISION_LOG_RATE"] = "0"
from _bench_setup import start_django, throwaway_database

start_django("router-bench")

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from autorouter import route
from autorouter.classifier import classify
from autorouter.engine import decide
from autorouter.models import ModelProfile
from autorouter.services import seed_config, seed_profiles
from autorouter.state import database_state
from autorouter.types import CATEGORIES
from models_registry import registry
from models_registry.catalog.services import seed_models
from models_registry.domain.static_catalog import load_static_catalog
from models_registry.models import AIModel, Provider
from models_registry.read.catalog_version import bump_on_commit

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


def time_route(rounds: int) -> tuple[list[float], int]:
    """Per-call times of ``route()`` over the message mix, and the queries they ran."""
    for i in range(20):  # warm the snapshots
        route(MESSAGES[i % len(MESSAGES)], subject=i)
    samples = []
    with CaptureQueriesContext(connection) as queries:
        for i in range(rounds):
            message = MESSAGES[i % len(MESSAGES)]
            previous = PREVIOUS[i % len(PREVIOUS)]
            start = time.perf_counter()
            route(message, subject=i, previous_model_id=previous, context_tokens=(i % 7) * 9_000)
            samples.append(time.perf_counter() - start)
    return samples, len(queries)


def time_parts(rounds: int) -> tuple[float, float]:
    """Median classify and decide times (the pure parts), microseconds."""
    state = database_state()
    catalog = registry.list_models(status=None, include_internal=True)
    classify_s, decide_s = [], []
    for i in range(rounds):
        message = MESSAGES[i % len(MESSAGES)]
        start = time.perf_counter()
        classification = classify(message, settings=state.settings)
        middle = time.perf_counter()
        decide(
            message,
            catalog=catalog,
            profiles=state.profiles,
            settings=state.settings,
            classification=classification,
            seed_key=str(i),
        )
        end = time.perf_counter()
        classify_s.append(middle - start)
        decide_s.append(end - middle)
    return median_us(classify_s), median_us(decide_s)


def add_synthetic_models(count: int, start: int, rng: random.Random) -> None:
    """Bulk-insert ``count`` models with profiles (throwaway data: no history)."""
    providers = list(Provider.objects.all())
    speed_words = ["", "", "", "-flash", "-lite", "-nano", "-fast", "-thinking"]
    capabilities = ["supports_vision", "supports_function_calling", "supports_thinking"]
    models, profiles = [], []
    for n in range(start, start + count):
        provider = providers[n % len(providers)]
        price = Decimal(str(round(10 ** rng.uniform(-1.5, 1.5), 4)))
        model = AIModel(
            model_id=f"{provider.slug}:synthetic-{n:05d}{rng.choice(speed_words)}",
            provider=provider,
            name=f"Synthetic {n}",
            context_window=rng.choice([32_768, 128_000, 200_000, 1_000_000]),
            input_price=price,
            output_price=price * 4,
            host_order=rng.choice([[], [], ["groq"], ["cerebras", "groq"], ["deepinfra"]]),
            status=rng.choices(["active", "beta", "deprecated"], weights=[85, 10, 5])[0],
            is_internal_only=rng.random() < 0.05,
            **{field: rng.random() < 0.4 for field in capabilities},
        )
        models.append(model)
        scores = {category: rng.randint(30, 98) for category in CATEGORIES}
        profiles.append(ModelProfile(model_id=model.model_id, quality=rng.randint(50, 98), **scores))
    with transaction.atomic():
        AIModel.objects.bulk_create(models, batch_size=500)
        ModelProfile.objects.bulk_create(profiles, batch_size=500)
        bump_on_commit()


def report(label: str, catalog_size: int, rounds: int) -> None:
    samples, queries = time_route(rounds)
    classify_us, decide_us = time_parts(min(rounds, 500))
    median = median_us(samples)
    print(
        f"{label:<26} {catalog_size:>6,} models  route() median {median / 1000:7.3f} ms  "
        f"p95 {p95_us(samples) / 1000:7.3f} ms  ({median / catalog_size:5.2f} µs/model; "
        f"classify {classify_us:5.1f} µs, decide {decide_us / 1000:6.3f} ms; "
        f"{queries} queries in {rounds:,} calls)"
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


def main() -> None:
    with throwaway_database():
        static = load_static_catalog()
        assert seed_models(static.models, provider_names=static.providers).ok
        seed_config()
        seed_profiles()
        print(f"router bench on {connection.vendor}, Python {sys.version.split()[0]}, local classifier")
        report("seeded catalog", AIModel.objects.count(), 5_000)
        report_hostile()
        rng = random.Random(42)
        add_synthetic_models(1_000 - AIModel.objects.count(), 0, rng)
        report("synthetic catalog", AIModel.objects.count(), 1_000)
        add_synthetic_models(5_000 - AIModel.objects.count(), 10_000, rng)
        report("synthetic catalog", AIModel.objects.count(), 300)


if __name__ == "__main__":
    main()
