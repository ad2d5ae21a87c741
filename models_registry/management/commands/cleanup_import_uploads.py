"""Delete JSON import uploads left between a preview and a confirm that never came.

The admin's import keeps each uploaded file in the database (``ImportUpload``)
from its preview until it is confirmed or cancelled, which delete it. A
preview that is simply abandoned leaves its upload behind; this command
removes those older than ``IMPORT_UPLOAD_MAX_AGE_HOURS`` (default 24).

Run it periodically, e.g. hourly from cron::

    0 * * * *  cd /srv/registry && .venv/bin/python manage.py cleanup_import_uploads

``--dry-run`` only says how many would be removed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from models_registry.models import ImportUpload


class Command(BaseCommand):
    help = "Delete import uploads older than IMPORT_UPLOAD_MAX_AGE_HOURS (previews never confirmed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count them; delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        hours = float(getattr(settings, "IMPORT_UPLOAD_MAX_AGE_HOURS", 24))
        uploads = ImportUpload.objects.filter(created_at__lt=timezone.now() - timedelta(hours=hours))
        if options["dry_run"]:
            count = uploads.count()
            self.stdout.write(f"Would remove {count} import upload(s) older than {hours:g} hours.")
            return
        count = uploads.delete()[0]
        self.stdout.write(f"Removed {count} import upload(s) older than {hours:g} hours.")
