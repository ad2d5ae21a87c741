import json

from django.core.management.base import BaseCommand, CommandError

from autorouter.router import route_with_state
from autorouter.state import state_from


class Command(BaseCommand):
    help = "Route one message and print the decision: model, classification, candidates, exclusions."

    def add_arguments(self, parser):
        parser.add_argument("message")
        parser.add_argument("--previous", metavar="MODEL_ID", help="The conversation's previous model.")
        parser.add_argument("--attachments", action="store_true", help="The message has image attachments.")
        parser.add_argument("--context-tokens", type=int, default=0, metavar="N")
        parser.add_argument("--cost-bias", type=int, default=50, metavar="0-100")
        parser.add_argument("--speed-bias", type=int, default=50, metavar="0-100")
        parser.add_argument("--exclude", action="append", default=[], metavar="MODEL_ID")
        parser.add_argument("--seed-key", help="Fixes the tier roll (default: derived from the message).")
        parser.add_argument(
            "--source",
            choices=["database", "defaults", "rollout"],
            default="database",
            help="Router config: the saved one (default), the built-in defaults, or per the rollout flag.",
        )
        parser.add_argument("--classifier", choices=["local", "llm"], help="Default: AUTOROUTER_CLASSIFIER.")
        parser.add_argument("--top", type=int, default=10, help="Candidates to list (default 10).")
        parser.add_argument("--json", action="store_true", help="Print the whole decision as JSON.")
        parser.add_argument(
            "--all",
            action="store_true",
            help="Check and score every model and list every exclusion (slower on a big catalog).",
        )

    def handle(self, *args, **options):
        try:
            decision = route_with_state(
                state_from(options["source"]),
                options["message"],
                previous_model_id=options["previous"],
                has_attachments=options["attachments"],
                context_tokens=options["context_tokens"],
                cost_bias=options["cost_bias"],
                speed_bias=options["speed_bias"],
                exclude=options["exclude"],
                seed_key=options["seed_key"],
                classifier=options["classifier"],
                log=False,
                exhaustive=options["all"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(decision.to_dict(), indent=2))
            return
        c = decision.classification
        write = self.stdout.write
        write(f"model:       {decision.model_id}" + ("  (sticky)" if decision.sticky else ""))
        write(f"tier:        {decision.tier or '-'}  ({decision.tier_reason})")
        write(
            f"classified:  {c.primary}" + (f"/{c.secondary}" if c.secondary else "") + f", {c.complexity}, "
            f"action {c.action}, confidence {c.confidence:g}"
            + (f", high-stakes {c.domain}" if c.high_stakes else "")
            + (", vision" if c.needs_vision else "")
            + (", long context" if c.needs_long_context else "")
            + (", reasoning" if c.needs_reasoning else "")
            + f"  [{decision.classifier}]"
        )
        write(f"config:      {decision.source}")
        write(f"why:         {decision.explanation}")
        write(f"candidates ({decision.eligible_count} eligible; the best {len(decision.candidates)} kept):")
        for candidate in decision.candidates[: options["top"]]:
            terms = ", ".join(f"{term.name} {term.points:+.1f}" for term in candidate.terms)
            write(f"  {candidate.score:7.2f}  {candidate.tier:<8} {candidate.model_id}  ({terms})")
        counts = ", ".join(f"{reason} {count:,}" for reason, count in decision.excluded_counts.items())
        write(f"excluded ({sum(decision.excluded_counts.values()):,}: {counts or 'none'}):")
        for exclusion in decision.excluded:  # every one with --all, else those the message named
            write(f"  {exclusion.model_id}: {exclusion.detail}")
