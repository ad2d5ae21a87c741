"""A price scheduled for a later time reaches a running chat-app process at that time, with no
further write: the process already holds the timeline and bills by the clock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from models_registry.catalog.services import update_model
from models_registry.models import AIModel
from models_registry.read.models import SnapshotVersion

from .test_outages import MODEL, SLACK_SECONDS, Reader, _everyone_reads_the_database

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a second process needs a shared database"),
]


def _catalog_version() -> int:
    return SnapshotVersion.objects.get(area="catalog").version


def test_a_price_scheduled_two_seconds_ahead_is_billed_by_a_running_process_then(seeded):
    _everyone_reads_the_database()
    reader = Reader(seconds=9)
    assert reader.wait_for("ready").split()[1] == "2.5"

    effective = timezone.now() + timedelta(seconds=2)
    update_model(
        AIModel.objects.get(model_id=MODEL),
        user=None,
        reason="price drop announced for later",
        changes={"input_price": Decimal("3")},
        prices_effective_from=effective,
    )
    version_after_schedule = _catalog_version()

    seen = reader.wait_for("seen 3 ", timeout=10)
    seen_at = float(seen.split()[3])
    assert seen_at >= effective.timestamp(), "billed at the new price before it took effect"
    assert seen_at <= effective.timestamp() + SLACK_SECONDS
    assert reader.summary()["errors"] == 0
    # Nobody wrote after scheduling: the change came from the clock, not from a write.
    assert _catalog_version() == version_after_schedule
    assert AIModel.objects.get(model_id=MODEL).input_price == Decimal(
        "2.5"
    )  # the listed price is not rewritten
