"""``manage.py replay_router [--days N | --from DATE [--to DATE]] [--config CONFIG] [--json]``.

CONFIG: ``live`` (default), ``defaults``, ``draft`` (the newest open draft) or ``draft:ID``.

Re-decides the routing decisions logged in a date range (UTC days) with a config, from their
stored inputs (no message text is kept or needed), and reports what would change
(:mod:`autorouter.replay`). Writes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from autorouter.whatif import replay_range, state_named


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from None


class Command(BaseCommand):
    help = "Replay the logged routing decisions of a date range with a config and report what changes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=7, help="The last N days, today included (default 7)."
        )
        parser.add_argument(
            "--from", dest="first", metavar="YYYY-MM-DD", help="First UTC day (instead of --days)."
        )
        parser.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="Last UTC day (default: today).")
        parser.add_argument(
            "--config",
            default="live",
            metavar="live|defaults|draft|draft:ID",
            help="The live config (default), the built-in defaults, the newest open draft or draft ID.",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        today = datetime.now(UTC).date()
        last = _day(options["last"]) if options["last"] else today
        if options["first"]:
            first = _day(options["first"])
        elif options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        else:
            first = last - timedelta(days=options["days"] - 1)
        if first > last:
            raise CommandError("the range ends before it starts.")
        start = datetime.combine(first, time(), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
        try:
            state = state_named(options["config"])
            report = replay_range(state, start, end)
        except (LookupError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        report.update(config=options["config"], first_day=str(first), last_day=str(last))
        skipped = report["unreadable"]
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        write = self.stdout.write
        write(
            f"{report['decisions']} decisions logged {first} to {last} (UTC), "
            f"replayed with the {options['config']} config"
        )
        write(f"changed: {report['changed']}")
        write(f"tiers before: {report['tiers_before']}")
        write(f"tiers after:  {report['tiers_after']}")
        write(f"models after: {dict(list(report['models_after'].items())[:8])}")
        write(f"mean quality change of the chosen models: {report['mean_quality_change']:+.2f} points")
        write(
            f"cost of the {report['priced_calls']} calls with usage: {report['cost_before_usd']} USD -> "
            f"{report['cost_after_usd']} USD ({report['cost_change_usd']})"
        )
        for item in report["changed_sample"][:10]:
            write(
                f"  #{item['log_id']} {item['category']} d={item['difficulty']:.3f}: "
                f"{item['before']['model_id']} ({item['before']['tier']}) -> "
                f"{item['after']['model_id']} ({item['after']['tier']}: {item['after']['why']})"
            )
        if skipped:
            write(f"{skipped} entries could not be read and were skipped.")
