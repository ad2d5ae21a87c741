from django.core.management.base import BaseCommand, CommandError

from models_registry.rollout.parity import run_parity_check


class Command(BaseCommand):
    help = (
        "Compare the static catalog with the database: missing models and invalid rows are errors "
        "(exit status 1); field differences are listed with the cost drift of price changes."
    )

    def handle(self, *args, **options):
        report = run_parity_check()
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(f"parity check found {len(report.errors)} error(s)")
