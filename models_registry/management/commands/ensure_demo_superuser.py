import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create a demo superuser, only when the database has no user at all. "
        "Credentials come from DEMO_ADMIN_USERNAME / DEMO_ADMIN_PASSWORD, "
        "or a random password is generated and printed once."
    )

    def handle(self, *args, **options):
        user_model = get_user_model()
        if user_model.objects.exists():
            self.stdout.write("Users exist already; no demo superuser created.")
            return
        username = os.environ.get("DEMO_ADMIN_USERNAME", "admin")
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        shown = password if "DEMO_ADMIN_PASSWORD" not in os.environ else "(from DEMO_ADMIN_PASSWORD)"
        self.stdout.write(self.style.SUCCESS(f"Demo superuser created: {username} / {shown}"))
