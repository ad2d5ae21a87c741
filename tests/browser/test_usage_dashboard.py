"""The usage dashboard in Chromium as a viewer: landing figures, charts drawn, presets, CSV links.

Rollup rows are made directly (30 days of a few models, as ``add_to_rollups`` would leave them).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from models_registry.admin import usage as usage_admin
from models_registry.domain.usage_rollups import empty_histogram, latency_bucket
from models_registry.usage.models import UsageRollup, UsageSubjectRollup

TODAY = date(2025, 3, 10)
MODELS = [
    ("openai:gpt-5", "openai", "premium", 600, Decimal("0.0042")),
    ("openai:gpt-5-mini", "openai", "mid", 300, Decimal("0.0009")),
    ("anthropic:claude-sonnet-4.5", "anthropic", "premium", 900, Decimal("0.0061")),
    ("google:gemini-2.5-flash", "google", "cheap", 250, Decimal("0.0003")),
    ("deepseek:deepseek-chat", "deepseek", "cheap", 400, Decimal("0.0002")),
]
CATEGORIES = ("coding", "reasoning", "creative", "factual", "analysis", "conversation")


def traffic(rng: random.Random, model: tuple, requests: int, routed: bool, category: str) -> dict:
    model_id, provider, tier, latency, unit_cost = model
    histogram = empty_histogram()
    for _ in range(min(requests, 40)):  # a sample of the latencies is enough for a picture
        histogram[latency_bucket(int(rng.lognormvariate(0, 0.5) * latency))] += 1
    return {
        "model_id": model_id,
        "provider": provider,
        "catalog_source": "database",
        "routed": routed,
        "router_tier": tier if routed else "",
        "category": category if routed else "",
        "requests": requests,
        "errors": rng.randrange(0, max(1, requests // 30)),
        "sticky": requests // 4 if routed else 0,
        "fallbacks": requests // 50 if routed else 0,
        "input_tokens": requests * 900,
        "output_tokens": requests * 300,
        "cost": unit_cost * requests,
        "latency_count": sum(histogram),
        "latency_histogram": histogram,
    }


@pytest.fixture
def usage_month(db, monkeypatch, settings):
    monkeypatch.setattr(usage_admin, "today_utc", lambda: TODAY)
    settings.USAGE_ROLLUP_RETENTION_DAYS = 0  # TODAY is older than the hourly rows' default retention
    rng = random.Random(13)
    rows, subjects = [], []
    for back in range(30):
        day = TODAY - timedelta(days=back)
        start = datetime.combine(day, time(), tzinfo=UTC)
        for model in MODELS:
            for routed, category in [(False, ""), *((True, c) for c in rng.sample(CATEGORIES, 2))]:
                requests = rng.randrange(20, 400) * (2 if day.weekday() < 5 else 1)
                values = traffic(rng, model, requests, routed, category)
                rows.append(UsageRollup(period="day", bucket_start=start, **values))
                if back == 0:  # today's hours, for the "Today" preset
                    for hour in range(0, 24, 3):
                        hourly = traffic(rng, model, max(1, requests // 8), routed, category)
                        rows.append(
                            UsageRollup(period="hour", bucket_start=start + timedelta(hours=hour), **hourly)
                        )
        for n in range(25):
            subjects.append(
                UsageSubjectRollup(
                    day=day, subject_key=f"user-{n:03d}", requests=rng.randrange(1, 200),
                    tokens=rng.randrange(1000, 90000), cost=Decimal(rng.randrange(1, 5000)) / 1000,
                )
            )  # fmt: skip
    UsageRollup.objects.bulk_create(rows)
    UsageSubjectRollup.objects.bulk_create(subjects)


def chart(page, name: str):
    return page.locator(f"#chart-{name} svg")


def test_viewer_reads_the_usage_dashboard(page, live_server, login, viewer, seeded, usage_month, screenshot):
    login(viewer)
    figures = page.locator("#landing-figures")
    assert figures.locator("li[data-key=spend-today] .value").inner_text().startswith("$")
    assert figures.locator("li[data-key=pending-sync-changes] .value").inner_text() == "0"
    assert figures.locator("li[data-key=rollout-use_db_models] .value").inner_text() == "0%"
    screenshot("admin-landing-headline-figures")

    figures.locator("li[data-key=spend-today] a").click()
    page.wait_for_url(lambda url: url.endswith("/admin/models_registry/usagerollup/?preset=today"))
    assert "hourly buckets" in page.locator("#usage-span").inner_text()
    assert chart(page, "spend").locator("rect.rect").count() == 24  # one bar per UTC hour

    page.click("#usage-range .presets a[data-preset='30d']")
    page.wait_for_url(lambda url: url.endswith("?preset=30d"))
    assert "(30 days, daily buckets). All times are UTC." in page.locator("#usage-span").inner_text()

    # Every chart is drawn, with data, and takes room on the page.
    assert chart(page, "spend").locator("rect.rect").count() == 30
    assert chart(page, "requests").locator("path.line").count() >= 2  # requests and errors
    assert chart(page, "tokens").locator("rect.rect").count() == 60  # input and output, stacked
    assert chart(page, "models").locator("rect.rect").count() == len(MODELS)
    assert chart(page, "providers").locator("path.slice").count() == 4
    assert chart(page, "tiers").locator("path.slice").count() == 3
    assert chart(page, "categories").locator("rect.rect").count() == len(CATEGORIES)
    for name in ("spend", "requests", "tokens", "models", "providers", "tiers", "categories"):
        box = chart(page, name).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, name
    assert "No usage in this range" not in page.content()

    assert page.locator("#usage-headline [data-key=spend] .value").inner_text().startswith("$")
    assert page.locator("#table-models tbody tr").count() == len(MODELS)
    assert page.locator("#table-subjects tbody tr").count() == 20
    assert "export=models" in page.locator("#table-models a.csv-link").get_attribute("href")
    screenshot("usage-dashboard")

    # A CSV link downloads the table.
    with page.expect_download() as download:
        page.click("#table-providers a.csv-link")
    assert download.value.suggested_filename == "usage-providers-2025-02-09-to-2025-03-10.csv"

    # A range by dates; a bad one gets a message.
    page.fill("#id_first_day", "2025-03-01")
    page.fill("#id_last_day", "2025-03-07")
    page.click("#usage-range input[type=submit]")
    assert "(7 days, daily buckets)" in page.locator("#usage-span").inner_text()
    page.fill("#id_first_day", "2025-03-07")
    page.fill("#id_last_day", "2025-03-01")
    page.click("#usage-range input[type=submit]")
    assert "“To” is before “From”." in page.locator("#range-errors").inner_text()
