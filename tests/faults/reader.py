"""A chat-app process for the fault tests: reads the registry in a loop and reports what it saw.

``python tests/faults/reader.py MODEL_ID SECONDS`` with DATABASE_URL / REDIS_URL
pointing at the test's proxies. Prints ``ready <price> <source>`` after the
first read, ``seen <price> <source> <unix time>`` whenever the price or the
source changes, and a last JSON line: reads, errors, p99 and max latency (ms).
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "fault-reader")

import django

django.setup()

from models_registry import registry  # noqa: E402
from models_registry.domain.types import format_money  # noqa: E402


def main(model_id: str, seconds: float) -> None:
    latencies: list[float] = []
    errors = 0
    last = None
    end = time.monotonic() + seconds
    number = 0
    while time.monotonic() < end:
        number += 1
        faulthandler.dump_traceback_later(1.0)  # a read that long: where it waited goes to stderr
        start = time.perf_counter()
        try:
            model = registry.get_model(model_id, subject=number % 50)
            source = registry.source_for(number % 50)
            registry.calculate_cost(model_id, input_tokens=1000, output_tokens=100, subject=number % 50)
        except Exception as exc:
            errors += 1
            print(f"error {exc!r}", flush=True)
            continue
        finally:
            latencies.append(time.perf_counter() - start)
            faulthandler.cancel_dump_traceback_later()
        # The input price in force now (what the chat app bills), scheduled changes included.
        seen = (format_money(model.pricing_at()[0].input) if model else None, source)
        if last is None:
            print(f"ready {seen[0]} {seen[1]}", flush=True)
        elif seen != last:
            print(f"seen {seen[0]} {seen[1]} {time.time():.6f}", flush=True)
        last = seen
        time.sleep(0.002)
    ordered = sorted(latencies)
    print(json.dumps({
        "reads": len(latencies),
        "errors": errors,
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 2) if ordered else None,
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
