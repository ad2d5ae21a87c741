from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from models_registry.catalog.services import seed_models
from models_registry.domain.static_catalog import CatalogError, load_catalog_file, load_static_catalog


class Command(BaseCommand):
    help = (
        "Fill the database from the static catalog in one transaction. "
        "Existing model ids are skipped, never overwritten."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be created; write nothing."
        )
        parser.add_argument(
            "--file", type=Path, help="Catalog file to seed from (default: the static catalog)."
        )

    def handle(self, *args, dry_run: bool = False, file: Path | None = None, **options):
        try:
            catalog = load_catalog_file(file) if file else load_static_catalog()
        except CatalogError as exc:
            raise CommandError(f"Invalid catalog: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"Cannot read catalog: {exc}") from exc

        result = seed_models(catalog.models, provider_names=catalog.providers, dry_run=dry_run)

        if dry_run:
            for model_id in result.created:
                self.stdout.write(f"would create {model_id}")
            self.stdout.write(
                f"Dry run: would create {len(result.created)}, skip {len(result.skipped)}; nothing written."
            )
            return
        for model_id, message in result.errors.items():
            self.stderr.write(f"error {model_id}: {message}")
        created = 0 if result.errors else len(result.created)
        self.stdout.write(f"created {created}, skipped {len(result.skipped)}, errors {len(result.errors)}")
        if result.errors:
            raise CommandError("Seeding failed; nothing was written.")
