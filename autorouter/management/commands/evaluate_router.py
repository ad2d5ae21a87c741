"""``manage.py evaluate_router --dataset FILE.jsonl``: how the router does on a labelled dataset.

Classification accuracy and confusion matrices, tier and model shares, estimated cost and, for
weak/strong data, the share of the weak→strong gap recovered against random routing at the same
share of strong calls (:mod:`autorouter.evaluation`). Routes without logging; writes nothing.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from autorouter.evaluation import Routed, evaluate, format_report, read_dataset_file
from autorouter.router import route_with_state
from autorouter.state import DATABASE, DEFAULTS, state_from
from models_registry import registry

CONFIGS = {"live": DATABASE, "defaults": DEFAULTS}


class Command(BaseCommand):
    help = "Evaluate the router on a labelled JSON Lines dataset (prompt, category, complexity, ...)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, metavar="FILE.jsonl")
        parser.add_argument(
            "--config",
            choices=sorted(CONFIGS),
            default="live",
            help="The saved router config and profiles (live, default) or the built-in defaults.",
        )
        parser.add_argument("--split", choices=["train", "test"], help="Only the examples of this split.")
        parser.add_argument("--classifier", choices=["local", "llm"], help="Default: AUTOROUTER_CLASSIFIER.")
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
        state = state_from(CONFIGS[options["config"]])
        results = []
        for example in examples:
            decision = route_with_state(
                state,
                example.prompt,
                has_attachments=example.has_attachments,
                context_tokens=example.context_tokens,
                seed_key=f"evaluate-{example.line}",
                classifier=options["classifier"],
                user_tier=options["user_tier"],
                log=False,
            )
            results.append(
                Routed(
                    example,
                    decision.classification.primary,
                    decision.classification.complexity,
                    decision.tier,
                    decision.model_id,
                    self._cost(decision.model_id, example.prompt, options["output_tokens"]),
                )
            )
        report = evaluate(results)
        report["config"] = options["config"]
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(f"config: {options['config']} ({state.source})")
            self.stdout.write(format_report(report))

    @staticmethod
    def _cost(model_id: str, prompt: str, output_tokens: int) -> Decimal:
        try:
            return registry.calculate_cost(
                model_id, input_tokens=math.ceil(len(prompt) / 4), output_tokens=output_tokens
            )
        except (LookupError, ValueError):
            return Decimal(0)  # a fallback model outside the catalog: not priced
