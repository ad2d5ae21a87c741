"""The usage dashboard in the admin and the landing page's headline figures, over rollup rows made here.

Rollup rows are created directly (as ``add_to_rollups`` would leave them), so the figures the page
shows can be checked against sums worked out by hand.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from models_registry.admin import usage as usage_admin
from models_registry.domain.usage_rollups import empty_histogram, latency_bucket
from models_registry.models import ProposedChange, SyncRun
from models_registry.rollout.flags import DB_MODELS_FLAG, set_flag_percent
from models_registry.usage import reports
from models_registry.usage.models import UsageRollup, UsageSubjectRollup

TODAY = date(2025, 3, 10)
URL = "/admin/models_registry/usagerollup/"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch, settings):
    """The page's "today" (UTC) is fixed: no test depends on the clock or on midnight. (It is
    older than the hourly rollups' retention: none here, except where a test sets one.)"""
    monkeypatch.setattr(usage_admin, "today_utc", lambda: TODAY)
    settings.USAGE_ROLLUP_RETENTION_DAYS = 0


def at(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def histogram(*latencies_ms: int) -> list[int]:
    counts = empty_histogram()
    for latency in latencies_ms:
        counts[latency_bucket(latency)] += 1
    return counts


def rollup(period: str, start: datetime, model_id: str, provider: str, **values) -> UsageRollup:
    latencies = values.pop("latencies", ())
    return UsageRollup(
        period=period,
        bucket_start=start,
        model_id=model_id,
        provider=provider,
        catalog_source=values.pop("catalog_source", "database"),
        routed=values.pop("routed", False),
        router_tier=values.pop("router_tier", ""),
        category=values.pop("category", ""),
        latency_count=len(latencies),
        latency_histogram=histogram(*latencies),
        **values,
    )


def both(start: datetime, model_id: str, provider: str, **values) -> list[UsageRollup]:
    """An hour's rollup and its day's (one hour of traffic: the day holds the same sums)."""
    day = at(start.date())
    return [
        rollup("hour", start, model_id, provider, **values),
        rollup("day", day, model_id, provider, **values),
    ]


@pytest.fixture
def usage_rows(db):
    """Three days of usage (8 to 10 March), known sums:

    - gpt (openai): 8 March 10:00, 100 requests, 5 errors, cost 1.000000000001, picked;
      10 March 09:00, 50 routed requests (mid, coding), 10 sticky, 2 fallbacks, 0 errors, cost 0.5;
    - claude (anthropic): 9 March 23:00, 30 routed requests (premium, analysis), 3 errors, 6 sticky,
      cost 2.25.
    """
    rows = [
        *both(
            at(TODAY - timedelta(days=2), 10), "openai:gpt", "openai",
            requests=100, errors=5, input_tokens=1000, cached_input_tokens=200, output_tokens=500,
            reasoning_tokens=50, cost=Decimal("1.000000000001"), latencies=(100, 200, 300, 3000),
        ),
        *both(
            at(TODAY, 9), "openai:gpt", "openai",
            requests=50, routed=True, router_tier="mid", category="coding", sticky=10, fallbacks=2,
            input_tokens=400, output_tokens=100, cost=Decimal("0.5"), latencies=(250,),
        ),
        *both(
            at(TODAY - timedelta(days=1), 23), "anthropic:claude", "anthropic",
            requests=30, errors=3, routed=True, router_tier="premium", category="analysis", sticky=6,
            input_tokens=3000, output_tokens=1000, cost=Decimal("2.25"), latencies=(1000, 1200, 1500),
        ),
    ]  # fmt: skip
    UsageRollup.objects.bulk_create(rows)
    UsageSubjectRollup.objects.bulk_create(
        [
            UsageSubjectRollup(day=TODAY, subject_key="alice", requests=40, errors=0, tokens=400,
                               cost=Decimal("0.4")),
            UsageSubjectRollup(day=TODAY - timedelta(days=1), subject_key="alice", requests=10, errors=1,
                               tokens=100, cost=Decimal("0.75")),
            UsageSubjectRollup(day=TODAY - timedelta(days=1), subject_key="=bob", requests=20, errors=2,
                               tokens=3900, cost=Decimal("1.5")),
            UsageSubjectRollup(day=TODAY - timedelta(days=2), subject_key="carol", requests=100, errors=5,
                               tokens=1500, cost=Decimal("1.000000000001")),
        ]
    )  # fmt: skip
    return rows


def get(client, user, **params):
    client.force_login(user)
    return client.get(URL, params)


# --- who may see it ---


def test_viewer_and_editor_see_the_dashboard(client, viewer, editor, usage_rows):
    for user in (viewer, editor):
        response = get(client, user, preset="7d")
        assert response.status_code == 200
        assert "<svg" in response.content.decode()
        assert response.context["title"] == "Usage"


def test_anonymous_is_sent_to_the_login_page(client, usage_rows):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert client.get(URL, {"export": "models"}).status_code == 302


def test_staff_without_a_role_is_refused(client, django_user_model):
    staff = django_user_model.objects.create_user("nobody", password="pw-nobody", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 403


def test_the_app_list_links_to_the_dashboard(client, viewer):
    client.force_login(viewer)
    assert URL in client.get(reverse("admin:index")).content.decode()


# --- figures ---


def test_three_days_read_the_daily_rollups_and_sum_exactly(client, viewer, usage_rows):
    response = get(client, viewer, first_day="2025-03-08", last_day="2025-03-10")
    assert response.status_code == 200
    dash: reports.Dashboard = response.context["dashboard"]
    assert dash.range == reports.DateRange(date(2025, 3, 8), date(2025, 3, 11))
    assert dash.range.period == "day"

    assert [point.bucket_start for point in dash.series] == [at(date(2025, 3, d)) for d in (8, 9, 10)]
    assert [point.figures.cost for point in dash.series] == [
        Decimal("1.000000000001"),
        Decimal("2.25"),
        Decimal("0.5"),
    ]
    assert dash.totals.requests == 180
    assert dash.totals.errors == 8
    assert dash.totals.cost == Decimal("3.750000000001")  # exact, no float on the way
    assert dash.totals.tokens == 1000 + 500 + 400 + 100 + 3000 + 1000

    gpt, claude = dash.models[1], dash.models[0]  # by cost: claude (2.25) first
    assert (claude.key, claude.provider, claude.figures.requests, claude.figures.cost) == (
        "anthropic:claude", "anthropic", 30, Decimal("2.25"),
    )  # fmt: skip
    assert (gpt.figures.requests, gpt.figures.errors, gpt.figures.cost) == (150, 5, Decimal("1.500000000001"))
    assert gpt.figures.error_rate == pytest.approx(5 / 150)
    # gpt's merged latencies: 100, 200, 250, 300, 3000 -> p50 is the 3rd (250 ms), p95 the 5th (3000 ms).
    assert (gpt.p50_ms, gpt.p95_ms) == (250, 3000)
    assert (claude.p50_ms, claude.p95_ms) == (1250, 1500)
    assert [row.key for row in dash.providers] == ["anthropic", "openai"]
    assert dash.providers[1].figures.cost == Decimal("1.500000000001")
    assert dash.providers[1].p95_ms == 3000

    # Top subjects: summed over the days of the range, by cost.
    assert [(row.subject_key, row.cost, row.requests) for row in dash.subjects] == [
        ("=bob", Decimal("1.5"), 20),
        ("alice", Decimal("1.15"), 50),
        ("carol", Decimal("1.000000000001"), 100),
    ]

    router = dash.router
    assert (router.requests, router.sticky, router.fallbacks) == (80, 16, 2)
    assert router.routed_share == pytest.approx(80 / 180)
    assert router.stickiness_rate == pytest.approx(16 / 80)
    assert router.fallback_rate == pytest.approx(2 / 80)
    assert [(line.key, line.requests) for line in router.by_tier] == [("mid", 50), ("premium", 30)]
    assert router.by_tier[0].share == pytest.approx(50 / 80)
    assert [line.key for line in router.by_category] == ["coding", "analysis"]
    assert [line.key for line in router.by_model] == ["openai:gpt", "anthropic:claude"]

    page = response.content.decode()
    assert "$3.75" in page  # the headline's spend
    assert "2025-03-08 00:00 UTC" in page and "All times are UTC" in page
    for chart in ("spend", "requests", "tokens", "models", "providers", "tiers", "categories"):
        assert f'id="chart-{chart}"><svg' in page
    assert "kozea.github.io" not in page and "<script" not in page.split('id="content-main"')[1]


def test_today_reads_the_hourly_rollups(client, viewer, usage_rows):
    # Make the day's row disagree with its hours: the page must read the hours.
    UsageRollup.objects.filter(period="day", bucket_start=at(TODAY)).update(requests=999)
    dash = get(client, viewer, preset="today").context["dashboard"]
    assert dash.range.period == "hour"
    assert len(dash.series) == 24
    assert dash.series[9].bucket_start == at(TODAY, 9)
    assert dash.series[9].figures.requests == 50
    assert dash.totals.requests == 50
    assert [row.key for row in dash.models] == ["openai:gpt"]


def test_two_days_are_hourly_and_three_are_daily():
    assert reports.DateRange(date(2025, 3, 9), date(2025, 3, 11)).period == "hour"
    assert reports.DateRange(date(2025, 3, 8), date(2025, 3, 11)).period == "day"
    assert reports.DateRange.last_days(7, TODAY) == reports.DateRange(date(2025, 3, 4), date(2025, 3, 11))


def test_an_empty_range_shows_zeros_and_empty_charts(client, viewer, usage_rows):
    response = get(client, viewer, first_day="2024-01-01", last_day="2024-01-31")
    dash = response.context["dashboard"]
    assert dash.totals.requests == 0 and dash.totals.cost == 0
    assert len(dash.series) == 31
    assert "No usage in this range" in response.content.decode()


# --- CSV ---


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_of_the_models_table(client, viewer, usage_rows):
    rows = read_csv(get(client, viewer, first_day="2025-03-08", last_day="2025-03-10", export="models"))
    header, *lines = rows
    assert header[:3] == ["model", "provider", "requests"]
    line = dict(zip(header, lines[1], strict=True))
    assert line["model"] == "openai:gpt"
    assert line["cost (USD)"] == "1.500000000001"  # exact
    assert line["cached input tokens"] == "200"
    assert line["reasoning tokens"] == "50"
    assert line["error rate"] == "0.033333"
    assert (line["p50 latency"], line["p95 latency"]) == ("250", "3000")


def test_csv_of_the_subjects_keeps_keys_out_of_formulas(client, viewer, usage_rows):
    rows = read_csv(get(client, viewer, preset="7d", export="subjects"))
    assert rows[0] == ["subject", "requests", "errors", "error rate", "tokens", "cost (USD)"]
    assert rows[1] == ["'=bob", "20", "2", "0.100000", "3900", "1.5"]
    assert rows[2][0] == "alice" and rows[2][-1] == "1.15"


def test_csv_of_the_series_is_in_utc(client, viewer, usage_rows):
    rows = read_csv(get(client, viewer, preset="today", export="series"))
    assert rows[0][0] == "hour (UTC)"
    assert len(rows) == 1 + 24
    assert rows[10][0] == "2025-03-10T09:00:00+00:00"
    assert rows[10][1] == "50"


def test_csv_of_the_router_tables(client, viewer, usage_rows):
    tiers = read_csv(get(client, viewer, preset="7d", export="router_tiers"))
    assert tiers == [
        ["tier", "routed requests", "share", "cost (USD)"],
        ["mid", "50", "0.625000", "0.5"],
        ["premium", "30", "0.375000", "2.25"],
    ]


@pytest.mark.parametrize("table", usage_admin.EXPORTS)
def test_every_table_exports(client, viewer, usage_rows, table):
    response = get(client, viewer, preset="30d", export=table)
    assert len(read_csv(response)) >= 2


def test_the_page_links_every_table_to_its_csv(client, viewer, usage_rows):
    page = get(client, viewer, preset="30d").content.decode()
    for table in usage_admin.EXPORTS:
        assert f"?preset=30d&amp;export={table}" in page


# --- bad input ---


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"first_day": "2025-13-01"}, "“From” is not a date: give it as YYYY-MM-DD."),
        ({"last_day": "yesterday"}, "“To” is not a date: give it as YYYY-MM-DD."),
        ({"first_day": "2025-03-10", "last_day": "2025-03-01"}, "“To” is before “From”."),
        ({"first_day": "2020-01-01", "last_day": "2025-01-01"}, "The range may span at most 366 days."),
        ({"last_day": "9999-12-31"}, "These dates are out of range."),
        ({"preset": "forever"}, "Select a valid choice."),
        ({"preset": "7d", "export": "secrets"}, "There is no table “secrets” to export."),
    ],
)
def test_bad_input_gets_a_clear_message(client, viewer, params, message):
    response = get(client, viewer, **params)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'id="range-errors"' in page
    assert response.context["dashboard"] is None


def test_one_day_given_fills_the_other(client, viewer):
    dash = get(client, viewer, first_day="2025-03-01").context["dashboard"]
    assert dash.range == reports.DateRange(date(2025, 3, 1), TODAY + timedelta(days=1))
    dash = get(client, viewer, last_day="2025-03-01").context["dashboard"]
    assert dash.range == reports.DateRange(date(2025, 2, 23), date(2025, 3, 2))


# --- top subjects: exact over any range ---


def brute_force_top(rows: list[UsageSubjectRollup], limit: int) -> list[tuple[str, Decimal]]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row.subject_key] = totals.get(row.subject_key, Decimal(0)) + row.cost
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_top_subjects_are_exact(db, seed):
    """A steady subject, never among a day's costliest, still tops the range; every limit is exact."""
    import random

    rng = random.Random(seed)
    rows = []
    for offset in range(6):
        day = TODAY - timedelta(days=offset)
        for n in range(12):  # stars of one day: each day's costliest, but only once
            cost = Decimal(rng.randrange(10_000, 20_000)) / 100
            rows.append(UsageSubjectRollup(day=day, subject_key=f"star-{offset}-{n}", requests=1, cost=cost))
        for n in range(60):  # the crowd: small every day
            cost = Decimal(rng.randrange(1, 300)) / 100
            rows.append(UsageSubjectRollup(day=day, subject_key=f"s{n:02d}", requests=1, cost=cost))
        rows.append(UsageSubjectRollup(day=day, subject_key="steady", requests=1, cost=Decimal("95")))
    UsageSubjectRollup.objects.bulk_create(rows)
    span = reports.DateRange.last_days(6, TODAY)
    for limit in (1, 5, 20):
        found = [(row.subject_key, row.cost) for row in reports.top_subjects(span, limit)]
        assert found == brute_force_top(rows, limit)
    assert found[0] == ("steady", Decimal(570))
    if connection.features.supports_slicing_ordering_in_compound:  # PostgreSQL: the threshold way
        by_threshold = reports._top_subjects_by_threshold(span, 1)
        assert by_threshold is not None
        assert [(row.subject_key, row.cost) for row in by_threshold] == [("steady", Decimal(570))]
    one_day = reports.DateRange.last_days(1, TODAY)
    assert [(row.subject_key, row.cost) for row in reports.top_subjects(one_day, 7)] == brute_force_top(
        [row for row in rows if row.day == TODAY], 7
    )


# --- bounded queries ---


def make_volume(count: int) -> None:
    """``count`` daily rollup rows over the 30 days (and as many subject rows): many models and dimensions."""
    rows, subjects = [], []
    for n in range(count):
        day = TODAY - timedelta(days=n % 30)
        rows.append(
            rollup(
                "day", at(day), f"p{n % 7}:model-{n % 97}", f"p{n % 7}", routed=bool(n % 2),
                router_tier=("cheap", "mid", "premium")[n % 3] if n % 2 else "",
                category=f"c{n % 8}" if n % 2 else "", catalog_source=("static", "database")[n // 97 % 2],
                requests=n + 1, errors=n % 3, cost=Decimal(n) / 1000, latencies=(n % 5000,),
            )
        )  # fmt: skip
        subjects.append(UsageSubjectRollup(day=day, subject_key=f"s{n}", requests=1, cost=Decimal(n)))
    UsageRollup.objects.bulk_create(rows, ignore_conflicts=True)
    UsageSubjectRollup.objects.bulk_create(subjects, ignore_conflicts=True)


def queries_of(client, url: str, **params) -> int:
    client.get(url, params)  # warm: sessions, content types, template loading
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def test_the_page_makes_as_many_queries_for_1000_rows_as_for_10(client, viewer):
    client.force_login(viewer)
    make_volume(10)
    few = queries_of(client, URL, preset="30d")
    make_volume(1000)
    assert UsageRollup.objects.count() > 900
    many = queries_of(client, URL, preset="30d")
    assert few == many
    # Session, user, permissions, then the reports: the series, the breakdown, the top subjects (on
    # PostgreSQL: each day's top, then the candidates' totals, in a savepoint that turns JIT off).
    assert many <= 12


# --- the landing page ---


def test_the_landing_page_shows_the_headline_figures(client, viewer, usage_rows, seeded, django_user_model):
    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="first stage")
    run = SyncRun.objects.create(source="models-dev", origin="test", started_at=at(TODAY), status="review")
    for n in range(3):
        ProposedChange.objects.create(run=run, kind="new_model", model_key=f"x:{n}", upstream_key=str(n))
    ProposedChange.objects.create(
        run=run, kind="new_model", model_key="x:9", upstream_key="9", decision="accepted"
    )

    client.force_login(viewer)
    response = client.get(reverse("admin:index"))
    figures = {figure.key: figure for figure in response.context["landing_figures"]}
    assert figures["spend-today"].value == "$0.50"
    assert figures["requests-today"].value == "50"
    assert figures["error-rate-today"].value == "0.00%"
    assert figures[f"rollout-{DB_MODELS_FLAG}"].value == "10%"
    assert figures["pending-sync-changes"].value == "3"
    assert int(figures["models-without-profile"].value.replace(",", "")) > 0  # no profile seeded
    page = response.content.decode()
    assert 'id="landing-figures"' in page and "Spend today (UTC)" in page
    assert f'href="{URL}?preset=today"' in page


def test_the_landing_page_hides_figures_without_their_permission(client, django_user_model):
    staff = django_user_model.objects.create_user("nobody", password="pw-nobody", is_staff=True)
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    assert response.context["landing_figures"] == []
    assert 'id="landing-figures"' not in response.content.decode()


def test_the_landing_page_is_constant_query(client, viewer, seeded):
    client.force_login(viewer)
    before = queries_of(client, reverse("admin:index"))
    make_volume(300)
    run = SyncRun.objects.create(source="models-dev", origin="test", started_at=at(TODAY), status="review")
    ProposedChange.objects.bulk_create(
        ProposedChange(run=run, kind="new_model", model_key=f"x:{n}", upstream_key=str(n)) for n in range(200)
    )
    assert queries_of(client, reverse("admin:index")) == before


def test_a_short_range_past_the_hourly_retention_reads_the_daily_rollups(settings, client, viewer):
    """prune_usage deletes hourly rows after USAGE_ROLLUP_RETENTION_DAYS and keeps the daily ones:
    a one-day range that old must show the day's figures from them, not zeros."""
    old = timezone.now().date() - timedelta(days=500)
    settings.USAGE_ROLLUP_RETENTION_DAYS = 400
    UsageRollup.objects.create(
        period="day", bucket_start=at(old), model_id="openai:gpt", provider="openai",
        catalog_source="static", requests=3, cost=Decimal("0.3"),
    )  # fmt: skip
    response = get(client, viewer, first_day=old.isoformat(), last_day=old.isoformat())
    dash: reports.Dashboard = response.context["dashboard"]
    assert dash.range.period == "day"
    assert dash.totals.requests == 3
    recent = timezone.now().date() - timedelta(days=1)
    assert reports.DateRange(recent, recent + timedelta(days=1)).period == "hour"


def test_calls_recorded_through_the_api_are_what_the_page_shows(client, viewer, seeded):
    """End to end, no rollup made by hand: record_usage → rollups → the page's figures."""
    from models_registry import registry

    calls = [  # (hour, model, subject, status)
        (9, "openai:gpt-5", "alice", "ok"),
        (9, "openai:gpt-5", "alice", "error"),
        (10, "openai:gpt-5-mini", "bob", "ok"),
        (23, "anthropic:claude-sonnet-4.5", "alice", "ok"),
    ]
    stored = [
        registry.record_usage(
            model_id, {"input_tokens": 1_000 * (n + 1), "output_tokens": 100}, usage_format="generic",
            request_id=f"call-{n}", subject=subject, status=status, at=at(TODAY, hour),
            error_type="timeout" if status == "error" else None, latency_ms=500 * (n + 1),
        )
        for n, (hour, model_id, subject, status) in enumerate(calls)
    ]  # fmt: skip
    registry.record_usage(  # a retry of call-0: stored once, counted once
        "openai:gpt-5", {"input_tokens": 1_000, "output_tokens": 100}, usage_format="generic",
        request_id="call-0", subject="alice", at=at(TODAY, 9),
    )  # fmt: skip

    dash: reports.Dashboard = get(client, viewer, preset="today").context["dashboard"]

    assert dash.totals.requests == 4 and dash.totals.errors == 1
    assert dash.totals.cost == sum((record.cost for record in stored), Decimal(0))
    by_model = {row.key: row.figures.requests for row in dash.models}
    assert by_model == {"openai:gpt-5": 2, "openai:gpt-5-mini": 1, "anthropic:claude-sonnet-4.5": 1}
    [alice, bob] = dash.subjects
    assert (alice.subject_key, alice.requests, alice.errors) == ("alice", 3, 1)
    assert alice.cost == stored[0].cost + stored[1].cost + stored[3].cost
    assert (bob.subject_key, bob.cost) == ("bob", stored[2].cost)
    assert [point.figures.requests for point in dash.series if point.figures.requests] == [2, 1, 1]
