"""Hourly and daily rollups of usage records, kept up to date with every write of records.

Contract (both write paths call it, in the transaction that inserts the records):
``add_to_rollups(records)`` adds the given, newly inserted ``UsageRecord`` rows to the
``UsageRollup`` (hour and day) and ``UsageSubjectRollup`` rows, incrementally.
"""

from __future__ import annotations

from collections.abc import Sequence

from models_registry.usage.models import UsageRecord


def add_to_rollups(records: Sequence[UsageRecord]) -> None:
    """Add newly inserted records to the rollups (to be implemented)."""
