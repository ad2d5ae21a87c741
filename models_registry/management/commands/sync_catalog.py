"""``manage.py sync_catalog``: read an upstream price source and record what it proposes for review.

Exit status, for cron: 0 when there is nothing to review, 3 when proposals wait
for review, 1 on an error (then nothing is written at all).
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from models_registry.domain.sources import SOURCES
from models_registry.sync import services
from models_registry.sync.fetch import SourceFetchError, read_file, read_url

NEEDS_REVIEW = 3


class Command(BaseCommand):
    help = (
        "Compare the catalog with an upstream price source and record the differences as a sync run "
        "for review in the admin. Writes nothing to the catalog."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, choices=SOURCES)
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--file", help="The source's file (JSON, plain or gzipped).")
        where.add_argument("--url", help="The source's file over HTTP(S).")
        parser.add_argument(
            "--provider", action="append", default=[], help="Only this registry provider (repeatable)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Print what differs; record nothing.")

    def handle(
        self,
        *args,
        source: str,
        file: str | None,
        url: str | None,
        provider: list[str],
        dry_run: bool,
        **options,
    ) -> None:
        origin = file or url or ""
        try:
            data = read_file(file) if file else read_url(url or "")
            outcome = services.run_sync(
                source=source, data=data, origin=origin, providers=provider, dry_run=dry_run
            )
        except (SourceFetchError, ValueError) as error:
            # Nothing is recorded: the exit status and this message are the alert.
            raise CommandError(f"{source} sync failed: {error}", returncode=1) from None

        self._report(outcome)
        if outcome.needs_review:
            sys.exit(NEEDS_REVIEW)

    def _report(self, outcome: services.SyncOutcome) -> None:
        catalog = outcome.catalog
        problems = len(services.source_problems(catalog)) if catalog else 0
        self.stdout.write(
            f"{outcome.source}: {len(catalog.models) if catalog else 0} upstream models read"
            + (f"; {problems} value(s) could not be read exactly (listed in the run)" if problems else "")
        )
        counts: dict[str, int] = {}
        flagged = 0
        for proposal in outcome.proposals:
            counts[proposal.kind] = counts.get(proposal.kind, 0) + 1
            flagged += bool(proposal.flags)
            if outcome.dry_run:
                what = proposal.column or proposal.kind
                flags = f"  [{', '.join(proposal.flags)}]" if proposal.flags else ""
                self.stdout.write(
                    f"  {proposal.model_id} {what}: {proposal.old!r} -> {proposal.new!r}{flags}"
                )
        summary = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items()) or "none"
        self.stdout.write(f"proposed changes: {summary}; flagged: {flagged}")
        if outcome.suggestions:
            self.stdout.write(
                f"new id mapping suggestions: {len(outcome.suggestions)} (confirm them in the admin)"
            )
        if outcome.dry_run:
            self.stdout.write("Dry run: nothing recorded.")
        elif outcome.run is not None:
            state = "waits for review" if outcome.needs_review else "nothing to review"
            self.stdout.write(f"sync run {outcome.run.pk} recorded: {state}")
