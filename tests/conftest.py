"""Shared fixtures: a seeded catalog and one user per role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from models_registry.catalog.services import seed_models
from models_registry.domain.static_catalog import load_static_catalog
from models_registry.roles import EDITORS, VIEWERS


@pytest.fixture
def static_catalog():
    return load_static_catalog()


@pytest.fixture
def seeded(db, static_catalog):
    """The database filled from the static catalog, as `seed_models` does it."""
    result = seed_models(static_catalog.models, provider_names=static_catalog.providers)
    assert result.ok, result.errors
    return result


def _user(
    django_user_model, username: str, *, staff: bool = True, group: str | None = None, superuser: bool = False
):
    user = django_user_model.objects.create_user(
        username=username,
        password="pw-" + username,
        is_staff=staff or superuser,
        is_superuser=superuser,
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def superuser(db, django_user_model):
    return _user(django_user_model, "root", superuser=True)


@pytest.fixture
def editor(db, django_user_model):
    return _user(django_user_model, "editor", group=EDITORS)


@pytest.fixture
def viewer(db, django_user_model):
    return _user(django_user_model, "viewer", group=VIEWERS)


@pytest.fixture
def non_staff(db, django_user_model):
    return _user(django_user_model, "member", staff=False)


@pytest.fixture
def serve_reads():
    """``serve_reads(n)``: the chat app reads the registry n times (what the rollout gate counts)."""
    from models_registry import registry

    def serve(count: int = 1000) -> None:
        """``count`` reads (from the first stage on, by subjects the database serves)."""
        from models_registry.rollout.flags import DB_MODELS_FLAG, current_percent

        database_only = current_percent(DB_MODELS_FLAG) > 0
        served = subject = 0
        while served < count:
            subject += 1
            if database_only and registry.source_for(subject) != "database":
                continue
            registry.get_model("openai:gpt-5", subject=subject)
            served += 1

    return serve


@pytest.fixture
def serve_usage(db):
    """``serve_usage(database=n, static=m)``: the chat app records n model calls on the database
    catalog and m on the static one (what the rollout's traffic gate compares).

    Clean by default: 1% errors and the same price (0.0025 USD per 1,000 tokens) on both sides,
    at least ``ROLLOUT_MIN_TRAFFIC_REQUESTS`` each. Rows are inserted directly (``bulk_create``),
    without the recording API, stamped now: after the stage's start.
    """
    import uuid
    from decimal import Decimal

    from django.conf import settings
    from django.utils import timezone

    from models_registry.usage.models import UsageRecord

    def serve(
        database: int | None = None,
        static: int | None = None,
        *,
        database_error_rate: float = 0.01,
        static_error_rate: float = 0.01,
        database_cost_per_1k: str = "0.0025",
        static_cost_per_1k: str = "0.0025",
    ) -> None:
        minimum = settings.ROLLOUT_MIN_TRAFFIC_REQUESTS
        now = timezone.now()
        rows = []
        for source, count, error_rate, cost in (
            (
                "database",
                minimum if database is None else database,
                database_error_rate,
                database_cost_per_1k,
            ),
            ("static", minimum if static is None else static, static_error_rate, static_cost_per_1k),
        ):
            errors = round(count * error_rate)
            rows += [
                UsageRecord(
                    request_id=f"usage-{uuid.uuid4().hex}",
                    at=now,
                    model_id="openai:gpt-5",
                    provider="openai",
                    catalog_source=source,
                    input_tokens=600,
                    output_tokens=400,  # 1,000 tokens a call: its cost is the price per 1,000 tokens
                    cost=Decimal(cost),
                    latency_ms=800,
                    status="error" if n < errors else "ok",
                    error_type="provider_error" if n < errors else "",
                )
                for n in range(count)
            ]
        UsageRecord.objects.bulk_create(rows, batch_size=2000)

    return serve


@pytest.fixture(autouse=True)
def fresh_registry_snapshots():
    """Each test starts with snapshots that reload on first read.

    Tests run inside a transaction that is rolled back, so the catalog version
    can repeat between tests; without this a snapshot could serve the previous
    test's data. (Writes inside a test reach the snapshots through
    ``django_capture_on_commit_callbacks(execute=True)``, as a commit would.)
    """
    from models_registry.read import monitoring
    from models_registry.read.snapshot import invalidate_all

    invalidate_all()
    # Read counters too: one test's fallbacks must not gate another test's `rollout advance`.
    for name in monitoring.pending:
        monitoring.pending[name] = 0
    monitoring.start_new_period()
    yield
    invalidate_all()
