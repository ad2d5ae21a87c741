from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from autorouter.services import CREATED, SKIPPED, UNCHANGED, seed_config
from models_registry.audit.values import error_lines


class Command(BaseCommand):
    help = (
        "Create the auto-router config from the built-in defaults (the seed's DEFAULT_CONFIG). "
        "Skips when it exists; --force-replace resets every value as a new history version."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Say what would happen; write nothing.")
        parser.add_argument(
            "--force-replace",
            action="store_true",
            help="Reset an existing config to the defaults (recorded in its history, which is kept).",
        )

    def handle(self, *args, dry_run: bool = False, force_replace: bool = False, **options):
        reason = "Reset to the router defaults (seed_autorouter --force-replace)" if force_replace else None
        try:
            kwargs = {"reason": reason} if reason else {}
            result = seed_config(force_replace=force_replace, dry_run=dry_run, **kwargs)
        except ValidationError as exc:
            problems = "; ".join(error_lines(exc))
            raise CommandError(
                f"Cannot seed the router config ({problems}). Seed the catalog first: manage.py seed_models"
            ) from exc
        if result.action == SKIPPED:
            self.stdout.write(
                "Router config exists: skipped (use --force-replace to reset it to the defaults)."
            )
            return
        if result.action == UNCHANGED:
            self.stdout.write("Router config already has the default values: nothing to reset.")
            return
        verb = "create" if result.action == CREATED else "reset"
        if dry_run:
            self.stdout.write(f"Dry run: would {verb} the router config from the defaults; nothing written.")
        else:
            self.stdout.write(f"Router config {result.action} from the defaults.")
