"""Write the usage records buffered in Redis (``USAGE_BUFFER=redis``) to the database.

Run it as a long-lived worker next to the chat app (one per host is plenty: it writes
tens of thousands of rows a second)::

    python manage.py ingest_usage                 # until SIGTERM / Ctrl-C
    python manage.py ingest_usage --once          # what the stream holds now, then exit

Each batch is inserted idempotently by ``request_id``, with its rollups, in one transaction,
then acknowledged; on start the worker first re-reads what a killed run of it had read but
not acknowledged. Nothing is lost and nothing is stored twice (see
:mod:`models_registry.usage.ingest`). SIGTERM finishes the batch in hand, then exits.
"""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from models_registry.read.catalog_version import REDIS_ERRORS
from models_registry.usage import stream
from models_registry.usage.ingest import Ingester, default_consumer


class Command(BaseCommand):
    help = "Ingest the usage records buffered in the Redis stream (USAGE_BUFFER=redis) into the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch",
            type=int,
            default=None,
            help="Records per read and transaction (default: USAGE_INGEST_BATCH).",
        )
        parser.add_argument(
            "--writers",
            type=int,
            default=None,
            help="Batches stored at once, each on a connection of its own (default: USAGE_INGEST_WRITERS).",
        )
        parser.add_argument("--once", action="store_true", help="Ingest what the stream holds, then exit.")
        parser.add_argument(
            "--block-ms", type=int, default=2000, help="How long a read waits for new records (ms)."
        )
        parser.add_argument(
            "--consumer",
            default=None,
            help="This worker's name in the consumer group (default: the host name). A restarted "
            "worker must keep its name to re-read at once what its killed run left unacknowledged.",
        )
        parser.add_argument(
            "--claim-idle-ms",
            type=int,
            default=60_000,
            help="Take over entries another consumer has left unacknowledged this long (ms).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "REDIS_URL", ""):
            raise CommandError("REDIS_URL is not set: there is no usage stream to ingest.")
        batch = options["batch"] or int(getattr(settings, "USAGE_INGEST_BATCH", 5000))
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        writers = options["writers"] or int(getattr(settings, "USAGE_INGEST_WRITERS", 2))
        if writers < 1:
            raise CommandError("--writers must be at least 1.")
        stopping: list[int] = []

        def stop(signum: int, _frame: Any) -> None:
            stopping.append(signum)  # finish the batch in hand, then leave the loop

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        ingester = Ingester(
            stream_key=stream.stream_key(),
            consumer=options["consumer"] or default_consumer(),
            batch=batch,
            block_ms=options["block_ms"],
            claim_idle_ms=options["claim_idle_ms"],
            writers=writers,
        )
        self.stdout.write(
            f"ingest_usage: stream {ingester.key}, group {ingester.group}, consumer {ingester.consumer}, "
            f"batches of {batch}, {writers} writer(s){' (once)' if options['once'] else ''}"
        )
        try:
            stats = ingester.run(
                once=options["once"],
                should_stop=lambda: bool(stopping),
                report=lambda line: self.stdout.write(f"ingest_usage: {line}"),
            )
        except REDIS_ERRORS as exc:
            raise CommandError(f"Redis failed: {exc} ({ingester.stats.summary()})") from exc
        except Exception as exc:
            raise CommandError(f"{type(exc).__name__}: {exc} ({ingester.stats.summary()})") from exc
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        why = " (stopped by a signal)" if stopping else ""
        self.stdout.write(f"ingest_usage: done{why}: {stats.summary()}")
