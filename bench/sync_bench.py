"""Catalog sync benchmark: a run over a 5,000-model source file, and the apply of 500 accepted changes.

    .venv/bin/python bench/sync_bench.py            # SQLite in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench .venv/bin/python bench/sync_bench.py

The registry holds the seeded catalog plus 5,000 models, each mapped to its
key in a models.dev-format source; the source moves the price of 1,000 of
them. Prints the run's and the apply's wall time and the process's peak RSS
(setup included, so an upper bound of either step). Targets: run ≤ 10 s,
apply ≤ 5 s, ≤ 300 MB.
"""

from __future__ import annotations

import json
import resource
import time

from _bench_setup import start_django, throwaway_database

start_django("sync-bench")

from models_registry.catalog.services import import_models, seed_models
from models_registry.domain.static_catalog import load_static_catalog
from models_registry.models import AIModel, SourceMapping
from models_registry.sync import services
from models_registry.sync.models import Decision, MappingStatus

COUNT = 5_000
MOVED = 1_000
APPLIED = 500


def registry_entries() -> list[dict]:
    return [
        {
            "id": f"openai:bench-{n:05d}",
            "provider": "openai",
            "name": f"Bench model {n}",
            "context_window": 128_000,
            "max_output_tokens": 16_384,
            "pricing": {"input": "1", "output": "4"},
        }
        for n in range(COUNT)
    ]


def source_file() -> bytes:
    models = {}
    for n in range(COUNT):
        moved = n < MOVED
        models[f"bench-{n:05d}"] = {
            "id": f"bench-{n:05d}",
            "name": f"Bench model {n}",
            "cost": {"input": 1.1 if moved else 1, "output": 4},
            "limit": {"context": 128_000, "output": 16_384},
            "modalities": {"input": ["text"], "output": ["text"]},
            "tool_call": False,
        }
    return json.dumps({"openai": {"id": "openai", "name": "OpenAI", "models": models}}).encode()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measured(step):
    """Wall time of ``step`` and the process's peak RSS after it (tracemalloc would slow the step 2-3x)."""
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, peak_rss_mb(), result


def main() -> None:
    with throwaway_database():
        catalog = load_static_catalog()
        seed_models(catalog.models, provider_names=catalog.providers)
        import_models(registry_entries(), user=None, reason="bench setup")
        # Setup only: the mappings an editor would have confirmed, written in bulk.
        SourceMapping.objects.bulk_create(
            SourceMapping(
                model=model,
                source="models-dev",
                upstream_key=f"openai/{model.model_id[7:]}",
                status=MappingStatus.CONFIRMED,
                version=1,
            )
            for model in AIModel.objects.filter(model_id__startswith="openai:bench-")
        )
        data = source_file()
        print(f"source: {len(data) / 1e6:.1f} MB, {COUNT:,} models, {MOVED:,} with a new price")

        seconds, peak, outcome = measured(
            lambda: services.run_sync(source="models-dev", data=data, origin="bench")
        )
        run = outcome.run
        print(
            f"sync run:  {seconds:6.2f} s, peak RSS so far {peak:4.0f} MB, {run.changes.count():,} proposals"
        )

        chosen = list(run.changes.filter(column="input_price").order_by("pk")[:APPLIED])
        services.decide(chosen, decision=Decision.ACCEPTED, user=None, reason="bench", confirm_flagged=True)
        seconds, peak, result = measured(lambda: services.apply_run(run, user=None, reason="bench"))
        print(
            f"apply:     {seconds:6.2f} s, peak RSS so far {peak:4.0f} MB, "
            f"{result.updated_models:,} models updated"
        )


if __name__ == "__main__":
    main()
