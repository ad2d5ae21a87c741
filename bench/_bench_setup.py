"""Shared start of the bench scripts: Django on a throwaway database.

With ``DATABASE_URL`` set, :func:`throwaway_database` creates a ``test_<name>``
database next to the named one and drops it at the end; without it a
temporary SQLite file is used. Import and call :func:`start_django` before
importing anything from the project.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USE_TEST_DATABASE = bool(os.environ.get("DATABASE_URL"))


def start_django(name: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")  # the test client speaks plain HTTP
    os.environ.setdefault("SECURE_COOKIES", "0")
    if not USE_TEST_DATABASE:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix=f'{name}-')}/bench.sqlite3"
    import django

    django.setup()


@contextmanager
def throwaway_database() -> Iterator[None]:
    """A migrated, empty database for the bench, dropped afterwards when it is a server's."""
    from django.core.management import call_command
    from django.db import connection

    if not USE_TEST_DATABASE:
        call_command("migrate", verbosity=0)
        yield
        return
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield
    finally:
        from models_registry.read.snapshot import close_poll_connection

        close_poll_connection()  # the registry's poll thread keeps a session on the database
        connection.creation.destroy_test_db(test_db, verbosity=0)
