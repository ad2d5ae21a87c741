"""Delete raw usage records past their retention, keeping their aggregates in the rollups.

Raw ``UsageRecord`` rows older than ``USAGE_RETENTION_DAYS`` (default 90; ``--days`` overrides)
are deleted in batches, each its own short transaction, so recording never waits long. The
rollups already hold every record (they are updated in the transaction that inserts it), so the
dashboard loses nothing. Hourly rollups and the daily per-subject totals older than
``USAGE_ROLLUP_RETENTION_DAYS`` (default 400; 0 keeps them) are deleted too; the daily rollups
per model and dimensions are small (a few rows per model a day) and kept forever.

Run it daily, e.g. from cron::

    30 3 * * *  cd /srv/registry && .venv/bin/python manage.py prune_usage

``--dry-run`` only counts. With raw rows in monthly partitions (docs/usage_production.md),
dropping whole old partitions is cheaper; this command then finds nothing left to delete.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils import timezone

from models_registry.domain.usage_rollups import HOUR
from models_registry.models import UsageRecord, UsageRollup, UsageSubjectRollup


class Command(BaseCommand):
    help = "Delete usage records older than USAGE_RETENTION_DAYS (rollups keep their totals)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=None, help="Keep this many days of raw records (default: setting)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=10_000, help="Rows deleted per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else int(settings.USAGE_RETENTION_DAYS)
        if days < 1:
            raise CommandError("--days must be at least 1")
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        now = timezone.now()
        cutoff = now - timedelta(days=days)
        rollup_days = int(getattr(settings, "USAGE_ROLLUP_RETENTION_DAYS", 400))
        # (what, rows, indexed column to delete along)
        targets: list[tuple[str, QuerySet, str]] = [
            (
                f"usage record(s) older than {days} day(s) (before {cutoff:%Y-%m-%d %H:%M} UTC)",
                UsageRecord.objects.filter(at__lt=cutoff),
                "at",
            )
        ]
        if rollup_days > 0:
            rollup_cutoff = now - timedelta(days=rollup_days)
            older = f"older than {rollup_days} day(s)"
            targets += [
                (
                    f"hourly rollup row(s) {older}",
                    UsageRollup.objects.filter(period=HOUR, bucket_start__lt=rollup_cutoff),
                    "bucket_start",
                ),
                (
                    f"subject rollup row(s) {older}",
                    UsageSubjectRollup.objects.filter(day__lt=rollup_cutoff.date()),
                    "day",
                ),
            ]
        verb = "Would delete" if options["dry_run"] else "Deleted"
        for what, queryset, order in targets:
            count = (
                queryset.count() if options["dry_run"] else _delete_in_batches(queryset, order, batch_size)
            )
            self.stdout.write(f"{verb} {count} {what}.")
        kept = "Daily rollups kept." if rollup_days > 0 else "Rollups kept (USAGE_ROLLUP_RETENTION_DAYS=0)."
        self.stdout.write(kept)


def _delete_in_batches(queryset: QuerySet, order: str, batch_size: int) -> int:
    """Delete in batches of primary keys, oldest first, each batch its own transaction (autocommit):
    locks and WAL stay small, and an interrupted run keeps what it deleted."""
    deleted = 0
    while True:
        # Oldest first along an indexed column, so each batch is an index range scan.
        batch = list(queryset.order_by(order, "pk").values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += queryset.model._base_manager.filter(pk__in=batch).delete()[0]
