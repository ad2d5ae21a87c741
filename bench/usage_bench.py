"""Usage recording benchmark: ``record_usage`` on both write paths, and the ingester's rate.

    .venv/bin/python bench/usage_bench.py                     # SQLite in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/usage_bench.py [--ingest-records 200000] [--batch 1000]

Prints, asserts nothing:

- ``record_usage`` median and p95 per call on the direct path (one INSERT and the rollups'
  upsert, in one transaction) on this database;
- the same on the Redis path (validate, price, one XADD), when Redis answers (``REDIS_URL``,
  default ``redis://127.0.0.1:6379/0``); the target is a median of 0.3 ms or less;
- the ingest rate of ``ingest_usage``'s loop over ``--ingest-records`` streamed records in
  batches, in this process (rollups included; once more without them, to show what the insert
  alone costs), then with ``--processes`` real ``manage.py ingest_usage`` workers sharing the
  stream (the way to scale it); the target is 20,000 rows/s or more on PostgreSQL;
- on PostgreSQL, each dashboard page's time over the rollups of ``--dashboard-rows`` generated
  raw rows (default 10,000,000; 0 skips it): ``bench/usage_dashboard_bench.py``, run as a
  process of its own on its own throwaway database; the target is 1 s per page or less.

A throwaway database is used (``test_<name>`` next to ``DATABASE_URL``'s, or a temporary SQLite
file), and a stream key of its own, deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from _bench_setup import ROOT, start_django, throwaway_database

start_django("usage-bench")

import redis
from django.db import connection
from django.test.utils import override_settings

from models_registry import registry
from models_registry.usage import rollups, stream
from models_registry.usage.ingest import Ingester
from models_registry.usage.models import UsageRecord, UsageRollup, UsageSubjectRollup

MODELS = ["openai:gpt-5", "openai:gpt-5-mini", "anthropic:claude-sonnet-4.5", "google:gemini-2.5-flash"]
USAGE = {
    "prompt_tokens": 1_200,
    "completion_tokens": 350,
    "prompt_tokens_details": {"cached_tokens": 400},
    "completion_tokens_details": {"reasoning_tokens": 120},
}


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    """(median, p95) in milliseconds."""
    ordered = sorted(samples_ns)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) / 1e6, p95 / 1e6


def time_record_usage(calls: int, prefix: str) -> tuple[float, float]:
    """Each call timed on its own: a different request id, model and subject, like real traffic."""
    samples = []
    clock = time.perf_counter_ns
    for n in range(calls):
        model_id = MODELS[n % len(MODELS)]
        start = clock()
        registry.record_usage(
            model_id,
            USAGE,
            usage_format="openai-chat",
            request_id=f"{prefix}-{n}",
            subject=n % 5_000,
            latency_ms=900 + n % 500,
        )
        samples.append(clock() - start)
    return percentiles(samples)


def direct_path(calls: int) -> None:
    time_record_usage(200, "warm-direct")  # connection, snapshots, statement caches
    median, p95 = time_record_usage(calls, "direct")
    stored = UsageRecord.objects.filter(request_id__startswith="direct-").count()
    print(
        f"record_usage, direct path ({connection.vendor}): median {median:.3f} ms, p95 {p95:.3f} ms "
        f"over {calls:,} calls ({stored:,} rows stored; INSERT + rollups upsert, one transaction)"
    )


def redis_reachable(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


def redis_path(url: str, calls: int) -> None:
    key = f"bench:usage:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(url)
    try:
        with override_settings(REDIS_URL=url, USAGE_BUFFER="redis", USAGE_STREAM_KEY=key):
            time_record_usage(500, "warm-redis")
            median, p95 = time_record_usage(calls, "redis")
        print(
            f"record_usage, Redis path: median {median:.3f} ms, p95 {p95:.3f} ms over {calls:,} calls "
            f"(validate, price, one XADD; stream length {client.xlen(key):,})"
        )
    finally:
        client.delete(key)


def fill_stream(client: redis.Redis, key: str, count: int) -> None:
    """``count`` priced records on the stream, spread over a day, 4 models, 10,000 subjects."""
    lookup = registry._usage_lookup
    from models_registry.usage.services import build_record

    start = datetime(2026, 1, 1, tzinfo=UTC)
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        record = build_record(
            MODELS[n % len(MODELS)],
            USAGE,
            usage_format="openai-chat",
            request_id=f"ingest-{n}",
            subject=n % 10_000,
            latency_ms=200 + (n * 37) % 20_000,
            status="error" if n % 50 == 0 else "ok",
            error_type="timeout" if n % 50 == 0 else None,
            at=start + timedelta(seconds=(n * 86_400) // count),
            lookup=lookup,
        )
        pipe.xadd(key, {stream.FIELD: stream.encode(record)})
        if n % 5_000 == 4_999:
            pipe.execute()
    pipe.execute()


def ingest_rate(url: str, count: int, batch: int, *, with_rollups: bool) -> None:
    key = f"bench:usage:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(url)
    UsageRecord.objects.filter(request_id__startswith="ingest-").delete()
    UsageRollup.objects.all().delete()
    UsageSubjectRollup.objects.all().delete()
    real = rollups.add_to_rollups
    try:
        fill_stream(client, key, count)
        with override_settings(REDIS_URL=url, USAGE_STREAM_KEY=key):
            if not with_rollups:
                rollups.add_to_rollups = lambda records, **options: None
            ingester = Ingester(stream_key=key, consumer="bench", batch=batch, block_ms=0)
            started = time.perf_counter()
            stats = ingester.run(once=True)
            seconds = time.perf_counter() - started
        stored = UsageRecord.objects.filter(request_id__startswith="ingest-").count()
        what = "with rollups" if with_rollups else "insert only, rollups off"
        print(
            f"ingest_usage ({connection.vendor}, batches of {batch:,}, {ingester.writers} writers, {what}): "
            f"{stats.inserted:,} rows in "
            f"{seconds:.2f} s = {stats.inserted / seconds:,.0f} rows/s ({stored:,} stored, "
            f"{stats.batches} batches, {client.xpending(key, stream.GROUP)['pending']} left pending)"
        )
    finally:
        rollups.add_to_rollups = real
        client.delete(key)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def ingest_rate_processes(url: str, count: int, batch: int, processes: int) -> None:
    """``processes`` real ``manage.py ingest_usage --once`` workers on one stream (one consumer
    group: each entry goes to one of them). Timed from the group's first read to the last row
    stored, so the workers' start-up (Django, ~1 s) is not counted."""
    key = f"bench:usage:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(url)
    UsageRecord.objects.filter(request_id__startswith="ingest-").delete()
    UsageRollup.objects.all().delete()
    UsageSubjectRollup.objects.all().delete()
    workers: list[subprocess.Popen] = []
    try:
        fill_stream(client, key, count)
        env = dict(
            os.environ,
            DATABASE_URL=_database_url(),
            REDIS_URL=url,
            USAGE_STREAM_KEY=key,
            CACHE_KEY_PREFIX=f"{key}:cache",
            SECRET_KEY="bench",
        )
        command = [sys.executable, "manage.py", "ingest_usage", "--once", "--batch", str(batch)]
        for n in range(processes):
            worker = subprocess.Popen(
                [*command, "--consumer", f"bench-{n}"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            workers.append(worker)
        first_read = None
        while any(worker.poll() is None for worker in workers):
            if first_read is None:
                groups = client.xinfo_groups(key) if client.exists(key) else []
                if any(int(group.get("entries-read") or 0) > 0 for group in groups):
                    first_read = time.perf_counter()
            time.sleep(0.01)
        finished = time.perf_counter()
        outputs = [worker.communicate()[0] for worker in workers]
        stored = UsageRecord.objects.filter(request_id__startswith="ingest-").count()
        failed = [out for worker, out in zip(workers, outputs, strict=True) if worker.returncode != 0]
        if failed or first_read is None:
            print(f"ingest_usage x{processes}: failed:\n" + "\n".join(failed)[-2000:])
            return
        seconds = finished - first_read
        print(
            f"ingest_usage, {processes} process(es) ({connection.vendor}, batches of {batch:,}, "
            f"with rollups): {stored:,} rows in {seconds:.2f} s = {stored / seconds:,.0f} rows/s"
        )
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--direct-calls", type=int, default=3_000)
    parser.add_argument("--redis-calls", type=int, default=20_000)
    parser.add_argument("--ingest-records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--dashboard-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--processes",
        type=lambda text: [int(n) for n in text.split(",") if n],
        default=[1, 2],
        help="Also time this many real ingest_usage processes at once (comma-separated runs).",
    )
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

    with throwaway_database():
        postgresql = connection.vendor == "postgresql"
        direct_path(args.direct_calls)
        if not redis_reachable(url):
            print(f"Redis path and ingest: skipped, Redis does not answer at {url}")
        else:
            redis_path(url, args.redis_calls)
            ingest_rate(url, args.ingest_records, args.batch, with_rollups=True)
            ingest_rate(url, args.ingest_records, args.batch, with_rollups=False)
            for processes in args.processes:
                ingest_rate_processes(url, args.ingest_records, args.batch, processes)
    if args.dashboard_rows and postgresql:
        print(f"Dashboard over the rollups of {args.dashboard_rows:,} generated raw rows:", flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "usage_dashboard_bench.py")],
            env=dict(os.environ, RAW_ROWS=str(args.dashboard_rows)),
            check=True,
        )
    elif args.dashboard_rows:
        print("Dashboard over generated rows: skipped (PostgreSQL only: set DATABASE_URL)")


if __name__ == "__main__":
    main()
