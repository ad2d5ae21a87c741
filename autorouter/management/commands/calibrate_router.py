"""``manage.py calibrate_router (--from-log DAYS | --dataset FILE) [--draft new|ID | --apply] --reason R``.

Computes the difficulty thresholds that make the configured tier weights the tier shares over a
reference set (:mod:`autorouter.calibration`): the decisions logged in the last DAYS days (their
classification's difficulty), or a dataset's prompts classified locally. Prints them; ``--draft``
writes them into a new draft (``new``) or an open one (its tier weights are the targets), to replay
and publish from the admin; ``--apply`` saves them into the live config. Either way the tier mode
becomes "difficulty", as one audited version with the reason given.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from autorouter.calibration import calibrate
from autorouter.evaluation import read_dataset_file
from autorouter.models import SINGLETON_ID, DecisionLog, RouterConfig, RouterDraft
from autorouter.router import classify_message
from autorouter.services import create_draft, save_config, update_draft
from autorouter.state import DATABASE, state_from
from autorouter.whatif import draft_state


class Command(BaseCommand):
    help = "Calibrate the router's difficulty thresholds so the tier weights become the tier shares."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--from-log", type=int, metavar="DAYS", help="The decisions logged in the last DAYS days."
        )
        source.add_argument("--dataset", metavar="FILE.jsonl", help="A dataset's prompts (JSON Lines).")
        parser.add_argument("--split", choices=["train", "test"], help="With --dataset: only this split.")
        target = parser.add_mutually_exclusive_group()
        target.add_argument(
            "--draft", metavar="new|ID", help="Write the thresholds into a new draft or open draft ID."
        )
        target.add_argument("--apply", action="store_true", help="Save the thresholds into the live config.")
        parser.add_argument("--reason", default="", help="Why (required with --draft and --apply).")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if (options["apply"] or options["draft"]) and not options["reason"].strip():
            raise CommandError("--apply and --draft need a --reason: every config change says why.")
        draft = self._draft(options["draft"]) if options["draft"] not in (None, "new") else None
        state = draft_state(draft) if draft else state_from(DATABASE)
        settings = state.settings
        samples = (
            self._from_log(options["from_log"])
            if options["dataset"] is None
            else self._from_dataset(Path(options["dataset"]), options["split"], state)
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
        changes = {
            "tier_mode": "difficulty",
            "mid_difficulty": result.mid_difficulty,
            "premium_difficulty": result.premium_difficulty,
        }
        reason = f"calibrate_router: {options['reason'].strip()}"
        if options["draft"]:
            self._write_draft(draft, changes, reason)
            return
        if not options["apply"]:
            self.stdout.write(
                "Not saved (--draft new --reason R writes them into a draft; --apply, into the live config)."
            )
            return
        config = RouterConfig.objects.filter(pk=SINGLETON_ID).first()
        if config is None:
            raise CommandError("The router config is not seeded: run seed_autorouter first.")
        if all(getattr(config, name) == value for name, value in changes.items()):
            self.stdout.write(f"The live config (version {config.version}) has these already: nothing saved.")
            return
        saved = save_config(config, user=None, reason=reason, changes=changes)
        self.stdout.write(f"Applied: router config version {saved.version}.")

    @staticmethod
    def _draft(key: str) -> RouterDraft:
        try:
            draft = RouterDraft.objects.get(pk=int(key))
        except (ValueError, RouterDraft.DoesNotExist):
            raise CommandError(f"no router draft {key!r} (--draft new makes one)") from None
        if not draft.is_open:
            raise CommandError(f"{draft} is {draft.status}: calibrate into an open draft or a new one.")
        return draft

    def _write_draft(self, draft: RouterDraft | None, changes: dict[str, Any], reason: str) -> None:
        try:
            if draft is None:
                draft = create_draft(name="calibrated difficulty thresholds", user=None, reason=reason)
            if all(getattr(draft, name) == value for name, value in changes.items()):
                self.stdout.write(f"{draft} has these already: nothing saved.")
                return
            update_draft(draft, user=None, reason=reason, changes=changes)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Written into {draft} (version {draft.version}): replay it, then publish it.")

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

    def _from_dataset(self, path: Path, split: str | None, state: Any) -> list[tuple[float, str]]:
        """The dataset's prompts classified as route() would (AUTOROUTER_CLASSIFIER)."""
        try:
            examples = read_dataset_file(path, split=split)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        samples = []
        for example in examples:
            found = classify_message(
                example.prompt,
                state,
                has_attachments=example.has_attachments,
                context_tokens=example.context_tokens,
            )
            samples.append((found.difficulty, found.complexity))
        return samples
