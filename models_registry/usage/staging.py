"""Bulk writes on PostgreSQL through ``COPY``: a batch is copied, in binary, into a temporary table
of the session shaped like the target's columns, and one ``INSERT ... SELECT`` moves it.

Why: psycopg encodes COPY rows in C, while binding a batch as one array per column (``unnest``)
encodes every element in Python; for the ingester's 5,000-record batches that was most of its
own time (measured, bench/usage_bench.py). The staging table is created in the transaction when
missing (a no-op when the session has it; a pooler's next session creates its own) and emptied
before each COPY: what a batch leaves there is never read again.

Only for PostgreSQL; callers keep their multi-row ``VALUES`` for SQLite and for a few rows.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

_TYPES: dict[tuple[str, str], list[int]] = {}  # (alias, staging table): its columns' type oids


def is_json(field: Field) -> bool:
    return field.get_internal_type() == "JSONField"


@contextmanager
def cursor_on(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """A psycopg cursor on Django's connection (so in its transaction), whose errors become Django's.

    Django's cursors cannot COPY, and bind parameters client-side. Its statements are not in
    Django's query log: :func:`execute` and :func:`log` put them there."""
    import psycopg  # the PostgreSQL backend's driver, loaded with it

    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def log(connection: BaseDatabaseWrapper, sql: str, started: float) -> None:
    """Show a statement to DEBUG's query log and ``assertNumQueries`` like any other."""
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def copy_to_staging(
    cursor: Any,
    connection: BaseDatabaseWrapper,
    model: type[Model],
    fields: Sequence[Field],
    rows: Iterable[Sequence[Any]],
) -> str:
    """COPY ``rows`` (values in ``fields``' order; JSON fields already as text) into the session's
    staging table for these columns of ``model``; returns its quoted name."""
    quote = connection.ops.quote_name
    columns = [field.column for field in fields]
    # One staging table per target and column list (a short checksum keeps the name unique).
    name = f"staging_{model._meta.db_table}_{zlib.crc32(','.join(columns).encode()):08x}"
    staging = quote(name)
    shaped = ", ".join(
        f"{quote(column)}::text AS {quote(column)}" if is_json(field) else quote(column)
        for column, field in zip(columns, fields, strict=True)
    )
    execute(
        cursor,
        connection,
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} AS "
        f"SELECT {shaped} FROM {quote(model._meta.db_table)} WITH NO DATA",
    )
    execute(cursor, connection, f"TRUNCATE {staging}")  # an earlier batch of this session's
    listed = ", ".join(quote(column) for column in columns)
    types = _TYPES.get((connection.alias, name))
    if types is None:
        execute(cursor, connection, f"SELECT {listed} FROM {staging} LIMIT 0")
        types = _TYPES[(connection.alias, name)] = [column.type_code for column in cursor.description]
    sql = f"COPY {staging} ({listed}) FROM STDIN (FORMAT BINARY)"
    started = time.monotonic()
    with cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
    log(connection, sql, started)
    return staging


def execute(cursor: Any, connection: BaseDatabaseWrapper, sql: str) -> None:
    """Run ``sql`` (no parameters) on ``cursor``, logged like Django's own statements."""
    started = time.monotonic()
    cursor.execute(sql)
    log(connection, sql, started)


def moved(connection: BaseDatabaseWrapper, fields: Sequence[Field]) -> str:
    """The staging table's columns as the target's (JSON cast back from text)."""
    quote = connection.ops.quote_name
    return ", ".join(
        f"{quote(field.column)}::jsonb" if is_json(field) else quote(field.column) for field in fields
    )
