from django.core.management.base import BaseCommand

from autorouter.services import seed_profiles


class Command(BaseCommand):
    help = (
        "Create the router's model profiles from fixtures/model_profiles.json (the 20 seed profiles and "
        "the extended ones). Idempotent: models that have a profile are skipped, never overwritten."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be created; write nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        result = seed_profiles(dry_run=dry_run)
        for model_id in result.not_in_catalog:
            self.stdout.write(f"not in the catalog, skipped: {model_id}")
        if dry_run:
            for model_id in result.created:
                self.stdout.write(f"would create {model_id}")
            self.stdout.write(
                f"Dry run: would create {len(result.created)}, skip {len(result.skipped)}; nothing written."
            )
            return
        self.stdout.write(
            f"created {len(result.created)}, skipped {len(result.skipped)}, "
            f"not in catalog {len(result.not_in_catalog)}"
        )
