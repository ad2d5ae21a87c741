"""Usage dashboard benchmark: each page over the rollups of 10,000,000 generated raw usage rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \
        .venv/bin/python bench/usage_dashboard_bench.py
    RAW_ROWS=1000000 DATABASE_URL=... .venv/bin/python bench/usage_dashboard_bench.py   # a smaller run

PostgreSQL only (the generation is SQL). On a throwaway ``test_<name>`` database:

1. ``RAW_ROWS`` raw usage events (default 10,000,000) spread over the last ``DAYS`` days (default
   90, up to now) are generated with ``generate_series`` into an unlogged scratch table (not
   ``UsageRecord``: the dashboard never reads raw rows, and its indexes would only slow the
   generation). 60 models of 8 providers, skewed popularity; half on each catalog source; 60%
   routed (the model's tier, one of 8 categories, 25% sticky, 2% fallbacks); 1.5% errors;
   log-normal latencies; 50,000 subjects, skewed.
2. SQL aggregates them into the hourly and daily ``UsageRollup`` rows and the daily
   ``UsageSubjectRollup`` rows they make (the rows ``add_to_rollups`` keeps up to date), with
   latency histograms over ``LATENCY_BOUNDS_MS``, stored in time order (as rollups written hour
   after hour are); the scratch table is dropped. Totals are checked equal at every level.
3. Each dashboard page (today, 7, 30 and 90 days) is fetched through Django's test client as a
   logged-in viewer: the median of ``ROUNDS`` renders after a warm-up one, and its query count.
   Target: at most 1 s per page.
"""

from __future__ import annotations

import os
import statistics
import time

from _bench_setup import USE_TEST_DATABASE, start_django, throwaway_database

start_django("usage-dashboard-bench")

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from models_registry.domain.usage_rollups import BUCKETS, LATENCY_BOUNDS_MS
from models_registry.roles import VIEWERS
from models_registry.usage.models import UsageRollup, UsageSubjectRollup

RAW_ROWS = int(os.environ.get("RAW_ROWS", "10000000"))
DAYS = int(os.environ.get("DAYS", "90"))
MODELS, PROVIDERS, SUBJECTS = 60, 8, 50_000
CHUNKS = 10  # generation statements (progress, and each stays well below any timeout)
ROUNDS = int(os.environ.get("ROUNDS", "5"))
PAGES = [
    ("today", "preset=today"),
    ("7 days", "preset=7d"),
    ("30 days", "preset=30d"),
    ("90 days", "preset=90d"),
]
URL = "/admin/models_registry/usagerollup/"

ROLLUP = "models_registry_usagerollup"
SUBJECT_ROLLUP = "models_registry_usagesubjectrollup"
BOUNDS = "ARRAY[" + ",".join(str(bound) for bound in LATENCY_BOUNDS_MS) + "]::int[]"


def report(label: str, text: str) -> None:
    print(f"{label:<38}{text}", flush=True)


def execute(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def generate_raw() -> None:
    """The scratch table of raw events: only the columns the rollups read."""
    execute("DROP TABLE IF EXISTS bench_raw")
    execute(
        """CREATE UNLOGGED TABLE bench_raw (
            at timestamptz, model int, source boolean, routed boolean, category int, sticky boolean,
            fallback boolean, error boolean, input_tokens int, cached_input_tokens int,
            cache_write_tokens int, output_tokens int, reasoning_tokens int, cost numeric(24, 12),
            bucket int, subject int)"""
    )
    execute("SELECT setseed(0.13)")
    per_chunk = -(-RAW_ROWS // CHUNKS)
    for chunk in range(CHUNKS):
        first, last = chunk * per_chunk, min(RAW_ROWS, (chunk + 1) * per_chunk) - 1
        started = time.perf_counter()
        # Events evenly over [now - DAYS, now); a model's prices (USD per 1M tokens) follow its index,
        # popular models are the low indexes (random()^2), heavy subjects too (random()^3). A picked
        # (not routed) event has no category (-1).
        execute(
            f"""
            INSERT INTO bench_raw
            SELECT at, model, random() < 0.5, routed, category,
                   routed AND random() < 0.25, routed AND random() < 0.02, random() < 0.015,
                   input_tokens, input_tokens / 5, 0, output_tokens, output_tokens / 4,
                   round((input_tokens * (0.1 + model * 0.25) + output_tokens * (0.4 + model)) / 1e6, 12),
                   width_bucket(latency - 1, {BOUNDS}),
                   floor(power(random(), 3) * {SUBJECTS})::int
            FROM (
                SELECT at, model, routed, input_tokens, output_tokens, latency,
                       CASE WHEN routed THEN floor(random() * 8)::int ELSE -1 END AS category
                FROM (
                SELECT now() - make_interval(secs => (%s - i) * %s) AS at,
                       floor(power(random(), 2) * {MODELS})::int AS model,
                       random() < 0.6 AS routed,
                       floor(random() * 4000)::int AS input_tokens,
                       floor(random() * 1200)::int AS output_tokens,
                       -- log-normal around 500 ms (Box-Muller)
                       greatest(1, exp(ln(500) + 0.8 * sqrt(-2 * ln(1 - random()))
                                       * cos(2 * pi() * random())))::int AS latency
                FROM generate_series(%s, %s) AS i
                ) AS drawn
            ) AS event
            """,
            [RAW_ROWS, DAYS * 86_400 / RAW_ROWS, first, last],
        )
        report(f"  raw rows {first:>10,}..{last:,}", f"{time.perf_counter() - started:6.1f} s")


def dimension_sql(prefix: str = "") -> str:
    """The rollup dimensions of a raw event (model m of provider p{m % 8}, tier by the model)."""
    return f"""
        'p' || ({prefix}model % {PROVIDERS}) || ':model-' || lpad({prefix}model::text, 2, '0'),
        'p' || ({prefix}model % {PROVIDERS}),
        CASE WHEN {prefix}source THEN 'database' ELSE 'static' END,
        {prefix}routed,
        CASE WHEN {prefix}routed THEN (ARRAY['cheap', 'mid', 'premium'])[{prefix}model % 3 + 1] ELSE '' END,
        CASE WHEN {prefix}routed THEN (ARRAY['coding', 'reasoning', 'creative', 'factual', 'analysis',
            'conversation', 'multimodal', 'research'])[{prefix}category + 1] ELSE '' END"""


COLUMNS = """period, bucket_start, model_id, provider, catalog_source, routed, router_tier, category,
    requests, errors, sticky, fallbacks, input_tokens, cached_input_tokens, cache_write_tokens,
    output_tokens, reasoning_tokens, cost, latency_count, latency_histogram"""


def hourly_rollups() -> int:
    counts = ", ".join(f"count(*) FILTER (WHERE bucket = {index})" for index in range(BUCKETS))
    return execute(
        f"""
        INSERT INTO {ROLLUP} ({COLUMNS})
        SELECT 'hour', date_trunc('hour', at), {dimension_sql()},
               count(*), count(*) FILTER (WHERE error), count(*) FILTER (WHERE sticky),
               count(*) FILTER (WHERE fallback), sum(input_tokens), sum(cached_input_tokens),
               sum(cache_write_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost),
               count(*), jsonb_build_array({counts})
        FROM bench_raw
        GROUP BY date_trunc('hour', at), model, source, routed, category
        ORDER BY 2  -- stored in time order, as rollups kept up to date hour by hour are
        """
    )


def daily_rollups() -> int:
    """The days, summed from the hours (histograms bucket by bucket)."""
    sums = ", ".join(f"sum((latency_histogram ->> {index})::bigint)" for index in range(BUCKETS))
    return execute(
        f"""
        INSERT INTO {ROLLUP} ({COLUMNS})
        SELECT 'day', date_trunc('day', bucket_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
               model_id, provider, catalog_source, routed, router_tier, category, sum(requests),
               sum(errors), sum(sticky), sum(fallbacks), sum(input_tokens), sum(cached_input_tokens),
               sum(cache_write_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost),
               sum(latency_count), jsonb_build_array({sums})
        FROM {ROLLUP} WHERE period = 'hour'
        GROUP BY 2, model_id, provider, catalog_source, routed, router_tier, category
        ORDER BY 2
        """
    )


def subject_rollups() -> int:
    return execute(
        f"""
        INSERT INTO {SUBJECT_ROLLUP} (day, subject_key, requests, errors, tokens, cost)
        SELECT (at AT TIME ZONE 'UTC')::date, 'subject-' || lpad(subject::text, 5, '0'), count(*),
               count(*) FILTER (WHERE error), sum(input_tokens + output_tokens), sum(cost)
        FROM bench_raw GROUP BY 1, 2 ORDER BY 1
        """
    )


def timed(label: str, fn) -> object:
    started = time.perf_counter()
    result = fn()
    report(label, f"{time.perf_counter() - started:6.1f} s" + (f"   ({result:,} rows)" if result else ""))
    return result


def vacuum() -> int:
    execute(f"VACUUM ANALYZE {ROLLUP}")
    execute(f"VACUUM ANALYZE {SUBJECT_ROLLUP}")
    return 0


def build() -> None:
    execute("SET statement_timeout = 0")  # the generation's statements run for minutes
    execute("SET work_mem = '256MB'")
    timed(f"generate {RAW_ROWS:,} raw rows", generate_raw)
    timed("hourly rollups", hourly_rollups)
    timed("daily rollups", daily_rollups)
    timed("subject rollups", subject_rollups)
    execute("DROP TABLE bench_raw")
    timed("vacuum analyze", vacuum)
    execute("RESET work_mem")
    execute("RESET statement_timeout")  # the pages run under the settings' timeout, as served


def check_totals() -> None:
    from django.db.models import Sum

    hours = UsageRollup.objects.filter(period="hour").aggregate(requests=Sum("requests"), cost=Sum("cost"))
    days = UsageRollup.objects.filter(period="day").aggregate(requests=Sum("requests"), cost=Sum("cost"))
    subjects = UsageSubjectRollup.objects.aggregate(requests=Sum("requests"), cost=Sum("cost"))
    assert hours == days == subjects, (hours, days, subjects)
    assert hours["requests"] == RAW_ROWS, hours
    report(
        "rollup rows",
        f"{UsageRollup.objects.filter(period='hour').count():,} hourly, "
        f"{UsageRollup.objects.filter(period='day').count():,} daily, "
        f"{UsageSubjectRollup.objects.count():,} subject-days; {hours['requests']:,} requests, "
        f"{hours['cost']:,.2f} USD in each",
    )


def viewer_client() -> Client:
    user = get_user_model().objects.create_user("bench-viewer", password="bench-password", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWERS))
    client = Client()
    client.force_login(user)
    return client


def bench_page(client: Client, label: str, query: str) -> None:
    url = f"{URL}?{query}"
    response = client.get(url)  # warm: templates, sessions, the database's cache
    assert response.status_code == 200, response.status_code
    samples, slowest = [], []
    for _ in range(ROUNDS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    database = sum(float(query["time"]) for query in queries.captured_queries)
    slowest = max(float(query["time"]) for query in queries.captured_queries)
    dash = response.context["dashboard"] if response.context else None
    size = f", {dash.totals.requests:,} requests in range" if dash else ""
    report(
        f"page: {label}",
        f"median {statistics.median(samples) * 1000:7.1f} ms (max {max(samples) * 1000:.0f}) over {ROUNDS}, "
        f"{len(queries)} queries ({database * 1000:.0f} ms in SQL, slowest {slowest * 1000:.0f} ms)"
        f"{size}, {len(response.content) / 1000:.0f} KB",
    )


def run() -> None:
    report(
        "database",
        f"{connection.vendor} {connection.pg_version if connection.vendor == 'postgresql' else ''}",
    )
    build()
    check_totals()
    client = viewer_client()
    for label, query in PAGES:
        bench_page(client, label, query)
    bench_page(client, "CSV of the 90-day model table", "preset=90d&export=models")
    bench_page(client, "CSV of the 90-day top subjects", "preset=90d&export=subjects")
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/")
    report(
        "landing page (headline figures)",
        f"{(time.perf_counter() - started) * 1000:7.1f} ms, {len(queries)} queries",
    )


def main() -> None:
    if not USE_TEST_DATABASE:
        raise SystemExit("PostgreSQL only: set DATABASE_URL (the generation is SQL).")
    from django.test.utils import setup_test_environment

    setup_test_environment()  # response.context for the figures, DEBUG-independent query capture
    with throwaway_database():
        run()


if __name__ == "__main__":
    main()
