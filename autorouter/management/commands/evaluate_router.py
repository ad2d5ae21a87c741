"""``manage.py evaluate_router --dataset FILE.jsonl``: how the router does on a labelled dataset.

Classification accuracy and confusion matrices, tier and model shares, estimated cost and, for
weak/strong data, the share of the weak→strong gap recovered against random routing at the same
share of strong calls (:mod:`autorouter.evaluation`). Routes without logging; writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from autorouter.evaluation import format_report, read_dataset_file
from autorouter.whatif import evaluate_dataset, state_named


class Command(BaseCommand):
    help = "Evaluate the router on a labelled JSON Lines dataset (prompt, category, complexity, ...)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, metavar="FILE.jsonl")
        parser.add_argument(
            "--config",
            default="live",
            metavar="live|defaults|draft|draft:ID",
            help="The saved config and profiles (live, default), the built-in defaults, the newest open "
            "draft, or draft ID.",
        )
        parser.add_argument("--split", choices=["train", "test"], help="Only the examples of this split.")
        parser.add_argument(
            "--classifier", choices=["semantic", "local", "llm"], help="Default: AUTOROUTER_CLASSIFIER."
        )
        parser.add_argument(
            "--output-tokens",
            type=int,
            default=500,
            metavar="N",
            help="Output tokens assumed per call for the cost estimate (input: a token per 4 characters).",
        )
        parser.add_argument("--user-tier", choices=["free", "pro"], default="free")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["dataset"])
        if options["output_tokens"] < 0:
            raise CommandError("--output-tokens cannot be negative.")
        try:
            examples = read_dataset_file(path, split=options["split"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            state = state_named(options["config"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        report = evaluate_dataset(
            state,
            examples,
            classifier=options["classifier"],
            user_tier=options["user_tier"],
            output_tokens=options["output_tokens"],
        )
        report["config"] = options["config"]
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(f"config: {options['config']} ({state.source})")
            self.stdout.write(format_report(report))
