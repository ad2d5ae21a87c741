from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from models_registry.audit.values import error_lines
from models_registry.read import monitoring
from models_registry.rollout.flags import (
    DB_MODELS_FLAG,
    STAGES,
    RolloutRefused,
    advance_flag,
    current_percent,
    known_flags,
    next_stage,
    rollback_flag,
    set_flag_percent,
    source_setting,
    stage_history,
    traffic_gate_skipped,
)
from models_registry.rollout.traffic import stage_traffic


class Command(BaseCommand):
    help = (
        "Show or move the per-user rollout of a registry flag through the stages "
        f"{' -> '.join(map(str, STAGES))}%. Changes are recorded as user 'system' with --reason."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        flag_help = f"flag name (default {DB_MODELS_FLAG}; known: {', '.join(known_flags())})"

        status = sub.add_parser("status", help="current percentage, counters and stage history")
        status.add_argument("flag", nargs="?", default=DB_MODELS_FLAG, help=flag_help)

        set_ = sub.add_parser("set", help="set an exact percentage 0..100")
        set_.add_argument("percent")
        set_.add_argument("flag", nargs="?", default=DB_MODELS_FLAG, help=flag_help)
        set_.add_argument("--reason", required=True)

        advance = sub.add_parser("advance", help="move to the next stage, if the checks pass")
        advance.add_argument("flag", nargs="?", default=DB_MODELS_FLAG, help=flag_help)
        advance.add_argument("--reason", required=True)
        advance.add_argument(
            "--force",
            action="store_true",
            help="advance despite failing checks (recorded in the history with the checks that failed)",
        )

        rollback = sub.add_parser("rollback", help="set 0% at once")
        rollback.add_argument("flag", nargs="?", default=DB_MODELS_FLAG, help=flag_help)
        rollback.add_argument("--reason", required=True)

    def handle(self, *args, action: str, flag: str, **options):
        if flag not in known_flags():
            raise CommandError(f"unknown flag {flag!r}; known: {', '.join(known_flags())}")
        try:
            if action == "set":
                set_flag_percent(flag, options["percent"], user=None, reason=options["reason"])
            elif action == "advance":
                advance_flag(flag, user=None, reason=options["reason"], force=options["force"])
            elif action == "rollback":
                rollback_flag(flag, user=None, reason=options["reason"])
        except RolloutRefused as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(error_lines(exc))) from exc
        except DatabaseError as exc:  # the transaction rolled back: nothing changed
            raise CommandError(
                f"the database is unreachable, nothing was changed ({exc.__class__.__name__})"
            ) from exc
        self._print_status(flag)

    def _print_status(self, flag: str) -> None:
        percent = current_percent(flag)
        upcoming = next_stage(percent)
        self.stdout.write(
            f"flag {flag}: {percent}% (next stage: {upcoming if upcoming is not None else '-'}%)"
        )
        if source_setting() != "rollout":
            self.stdout.write(f"note: MODELS_REGISTRY_SOURCE={source_setting()!r} overrides the flag")
        totals = monitoring.totals()
        self.stdout.write(
            f"since the last stage: reads database={totals.reads_database} static={totals.reads_static} "
            f"not_found={totals.not_found} fallbacks={totals.fallbacks} "
            f"(fallback rate {totals.fallback_rate:.2%})"
        )
        if flag == DB_MODELS_FLAG:
            self._print_traffic(flag, percent)
        self.stdout.write("stage history:")
        for stage in stage_history(flag):
            self.stdout.write(
                f"  v{stage.number} {stage.at:%Y-%m-%d %H:%M:%S}Z by {stage.changed_by}: "
                f"{stage.percent}% — {stage.reason}"
            )

    def _print_traffic(self, flag: str, percent: Decimal) -> None:
        """Real usage since the stage began, database catalog vs static, and the gate's verdict."""
        traffic = stage_traffic(flag)
        since = f"{traffic.since:%Y-%m-%d %H:%M:%S}Z" if traffic.since else "the first record (never changed)"
        self.stdout.write(f"traffic since the stage began ({since}):")
        for side in traffic.sides():
            self.stdout.write(
                f"  {side['name']:<8} requests={side['requests']} errors={side['errors']} "
                f"(error rate {side['error_rate']}) tokens={side['tokens']} cost={side['cost']} USD "
                f"cost per 1,000 tokens={side['cost_per_1k_tokens']} USD"
            )
        skipped = traffic_gate_skipped(flag, percent)
        verdict = traffic.comparison.verdict if skipped is None else f"not judged ({skipped})"
        self.stdout.write(f"  verdict: {verdict}")
