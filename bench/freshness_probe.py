"""A second, real process that watches one model's input price through the registry.

Run by the freshness test and by registry_bench.py: it prints ``ready <price>``
once warm, then ``seen <price> <unix time>`` as soon as the price it reads
changes, and exits. Settings come from the environment (DATABASE_URL,
REDIS_URL, REGISTRY_REFRESH_SECONDS, ...).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("MODELS_REGISTRY_SOURCE", "database")

import django

django.setup()

from models_registry import registry


def main(model_id: str, timeout: float) -> int:
    initial = registry.get_model(model_id).pricing.input
    print(f"ready {initial}", flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        price = registry.get_model(model_id).pricing.input
        if price != initial:
            print(f"seen {price} {time.time():.6f}", flush=True)
            return 0
        time.sleep(0.002)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 10.0))
