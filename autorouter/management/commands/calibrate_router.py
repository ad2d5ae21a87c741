"""``manage.py calibrate_router (--from-log DAYS | --dataset FILE) [--apply --reason R]``.

Computes the difficulty thresholds that make the configured tier weights the tier shares over a
reference set (:mod:`autorouter.calibration`): the decisions logged in the last DAYS days (their
classification's difficulty), or a dataset's prompts classified locally. Prints them; ``--apply``
saves them into the live config, with the tier mode set to "difficulty", as one audited version
with the reason given.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from autorouter.calibration import calibrate
from autorouter.classifier import classify
from autorouter.evaluation import read_dataset_file
from autorouter.models import SINGLETON_ID, DecisionLog, RouterConfig
from autorouter.services import save_config
from autorouter.state import DATABASE, state_from


class Command(BaseCommand):
    help = "Calibrate the router's difficulty thresholds so the tier weights become the tier shares."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--from-log", type=int, metavar="DAYS", help="The decisions logged in the last DAYS days."
        )
        source.add_argument("--dataset", metavar="FILE.jsonl", help="A dataset's prompts (JSON Lines).")
        parser.add_argument("--split", choices=["train", "test"], help="With --dataset: only this split.")
        parser.add_argument("--apply", action="store_true", help="Save the thresholds into the live config.")
        parser.add_argument("--reason", default="", help="Why (required with --apply).")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["apply"] and not options["reason"].strip():
            raise CommandError("--apply needs a --reason: every config change says why.")
        settings = state_from(DATABASE).settings
        samples = (
            self._from_log(options["from_log"])
            if options["dataset"] is None
            else self._from_dataset(Path(options["dataset"]), options["split"], settings)
        )
        try:
            result = calibrate(samples, settings)
        except ValueError as exc:
            raise CommandError(f"{exc}: nothing to calibrate on") from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.to_dict(), indent=2))
        else:
            shares = result.to_dict()
            self.stdout.write(
                f"{result.samples} messages: mid from difficulty {result.mid_difficulty}, "
                f"premium from {result.premium_difficulty}"
            )
            for tier in ("cheap", "mid", "premium"):
                self.stdout.write(
                    f"  {tier:<8} target {float(shares['target_shares'][tier]):6.1%}  "
                    f"achieved {float(shares['achieved_shares'][tier]):6.1%}"
                )
        if not options["apply"]:
            self.stdout.write("Not applied (--apply --reason ... saves them into the live config).")
            return
        config = RouterConfig.objects.filter(pk=SINGLETON_ID).first()
        if config is None:
            raise CommandError("The router config is not seeded: run seed_autorouter first.")
        changes = {
            "tier_mode": "difficulty",
            "mid_difficulty": result.mid_difficulty,
            "premium_difficulty": result.premium_difficulty,
        }
        if all(getattr(config, name) == value for name, value in changes.items()):
            self.stdout.write(f"The live config (version {config.version}) has these already: nothing saved.")
            return
        saved = save_config(
            config, user=None, reason=f"calibrate_router: {options['reason'].strip()}", changes=changes
        )
        self.stdout.write(f"Applied: router config version {saved.version}.")

    def _from_log(self, days: int) -> list[tuple[float, str]]:
        if days < 1:
            raise CommandError("--from-log needs at least 1 day.")
        since = timezone.now() - timedelta(days=days)
        samples = []
        for complexity, decision in (
            DecisionLog.objects.filter(created_at__gte=since)
            .values_list("complexity", "decision")
            .iterator(chunk_size=2000)
        ):
            difficulty = (decision or {}).get("classification", {}).get("difficulty")
            if isinstance(difficulty, int | float) and not isinstance(difficulty, bool):
                samples.append((float(difficulty), complexity))  # older entries have none: skipped
        return samples

    def _from_dataset(self, path: Path, split: str | None, settings: Any) -> list[tuple[float, str]]:
        try:
            examples = read_dataset_file(path, split=split)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        samples = []
        for example in examples:
            found = classify(
                example.prompt,
                settings=settings,
                has_attachments=example.has_attachments,
                context_tokens=example.context_tokens,
            )
            samples.append((found.difficulty, found.complexity))
        return samples
