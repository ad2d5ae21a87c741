"""Recording what each model call used and cost (``registry.record_usage`` is the public door).

A record is validated and priced in the caller's process, at the prices in force at its
time, then written one of two ways (``settings.USAGE_BUFFER``):

- ``""`` (default): one INSERT, and the rollups' upsert, in one transaction;
- ``"redis"``: one XADD to a Redis stream (:mod:`.stream`); ``manage.py ingest_usage``
  (:mod:`.ingest`) writes the stream in batches through :func:`insert_records`.

Both paths insert with ``ON CONFLICT (request_id) DO NOTHING ... RETURNING``: a retried
record is stored once, and only the rows this statement really inserted reach the rollups,
even when two writers race on one ``request_id``.

Bad input is the caller's bug and raises ``ValueError``; a storage failure (the database or
Redis down) never raises into the chat request: it is logged (once a minute) and counted in
the ``usage_record_failures`` monitoring counter, and ``None`` is returned.

On the direct path the rollups' upsert locks the hour's and the day's row of the record's
model and dimensions until the commit, so concurrent records of one model take turns there
for a moment; inside a caller's transaction (``ATOMIC_REQUESTS``) that moment lasts until the
caller commits, and the record is rolled back with the caller. So record a call after the
caller's transaction (or in ``transaction.on_commit``), not inside it: two requests that each
record two calls in one transaction, in opposite model order, can deadlock; PostgreSQL then
aborts one record (counted as a failure; its savepoint is rolled back and the caller's
transaction goes on). At high traffic, use Redis: its path takes no lock.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import operator
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import orjson
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.utils import timezone

from models_registry.domain.pricing import TokenUsage, breakdown
from models_registry.domain.types import ModelConfig
from models_registry.domain.usage import read_usage
from models_registry.domain.usage_rollups import BatchSums, sum_batch
from models_registry.read import monitoring
from models_registry.read.catalog_version import REDIS_ERRORS
from models_registry.usage import rollups, staging, stream
from models_registry.usage.models import STATUSES, UsageRecord

logger = logging.getLogger(__name__)

BUFFER_DIRECT, BUFFER_REDIS = "", "redis"
_STATUSES = frozenset(value for value, _ in STATUSES)
_CENT_OF_A_NANO = Decimal("1e-12")  # the column's last decimal place
WARN_EVERY_SECONDS = 60.0
# After Redis failed, calls during this window fail at once (counted) instead of each waiting
# for the timeout: a Redis stall costs the chat app one timeout per window, not one per request.
REDIS_RETRY_AFTER_SECONDS = 1.0


class CatalogLookup(Protocol):
    """Resolves a record's model and subject: ``(model or None, catalog source, subject key)``.

    The registry's read API provides it (``registry.record_usage``): the usage layer sits
    below the registry and the rollout and may not import them.
    """

    def __call__(self, model_id: str, subject: Any) -> tuple[ModelConfig | None, str, str | None]: ...


def buffer_mode() -> str:
    mode = str(getattr(settings, "USAGE_BUFFER", "") or "").strip().lower()
    if mode not in (BUFFER_DIRECT, BUFFER_REDIS):
        raise ValueError(f"USAGE_BUFFER must be '' (direct) or 'redis', not {mode!r}")
    return mode


# --- validation and pricing ---------------------------------------------------------------------


def _text(name: str, value: Any, limit: int, *, required: bool = False) -> str:
    if value is None:
        if required:
            raise ValueError(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty")
    if len(value) > limit:
        raise ValueError(f"{name} must be at most {limit} characters, got {len(value)}")
    if "\x00" in value:  # PostgreSQL refuses it: the caller's bug, not an outage
        raise ValueError(f"{name} must not contain a NUL character")
    return value


# A record's time: not before this, and not further ahead of this process's clock than a
# server's clock can be off (a year-9999 `at` would overflow the rollups' day arithmetic).
EARLIEST_AT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(days=1)


def _moment(at: Any) -> datetime:
    if at is None:
        return timezone.now()
    if not isinstance(at, datetime):
        raise ValueError(f"at must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be an aware datetime (UTC), not a naive one")
    try:
        moment = at.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"at is out of range: {at!r}") from None
    if not EARLIEST_AT <= moment <= timezone.now() + MAX_CLOCK_SKEW:
        raise ValueError(
            f"at must be between {EARLIEST_AT:%Y-%m-%d} and tomorrow (UTC), got {moment.isoformat()}"
        )
    return moment


def _latency(latency_ms: Any) -> int | None:
    if latency_ms is None:
        return None
    if isinstance(latency_ms, bool) or not isinstance(latency_ms, int | float):
        raise ValueError(f"latency_ms must be a number of milliseconds, got {latency_ms!r}")
    if not math.isfinite(latency_ms) or latency_ms < 0:
        raise ValueError(f"latency_ms must be a non-negative number, got {latency_ms!r}")
    if latency_ms > 2_147_483_647:  # the column's range (PositiveIntegerField)
        raise ValueError(f"latency_ms is out of range: {latency_ms!r}")
    return round(latency_ms)


def _routing(decision: Any) -> dict[str, Any]:
    """The routing facts of ``decision``: a router ``Decision``, a stored decision log row, or its id.

    Duck-typed (the registry never imports the router): ``tier``, ``classification.primary``
    (or ``primary_category``), ``sticky`` and ``fallback_reason`` (or ``fallback``), and the
    log id from ``log_id``, ``decision_id`` or ``pk`` when there is one.
    """
    if decision is None:
        return {}
    if isinstance(decision, bool):
        raise ValueError("decision must be a routing decision or its log id, not a boolean")
    if isinstance(decision, int):
        if decision < 1:
            raise ValueError(f"decision id must be a positive integer, got {decision}")
        return {"routed": True, "decision_id": decision}
    try:
        tier = decision.tier
        sticky = decision.sticky
    except AttributeError:
        raise ValueError(
            "decision must be the router's Decision (tier, classification, sticky, fallback_reason), "
            f"a stored decision or its id, not {type(decision).__name__}"
        ) from None
    classification = getattr(decision, "classification", None)
    category = getattr(classification, "primary", None) if classification is not None else None
    if category is None:
        category = getattr(decision, "primary_category", None)
    if hasattr(decision, "fallback_reason"):
        fallback = decision.fallback_reason is not None
    else:
        fallback = bool(getattr(decision, "fallback", False))
    log_id = None
    for name in ("log_id", "decision_id", "pk"):
        log_id = getattr(decision, name, None)
        if log_id is not None:
            break
    if log_id is not None and (isinstance(log_id, bool) or not isinstance(log_id, int) or log_id < 1):
        raise ValueError(f"decision's log id must be a positive integer, got {log_id!r}")
    return {
        "routed": True,
        "decision_id": log_id,
        "router_tier": _text("decision.tier", tier, 10),
        "category": _text("decision category", category, 20),
        "sticky": bool(sticky),
        "fallback": fallback,
    }


def _subject_key(key: str | None) -> str:
    if key is None:
        return ""
    if "\x00" in key:
        raise ValueError("subject key must not contain a NUL character")
    if getattr(settings, "USAGE_HASH_SUBJECTS", False):
        # Keyed: a plain hash of a numeric user id is undone by hashing every id.
        secret = str(getattr(settings, "USAGE_SUBJECT_SALT", "") or settings.SECRET_KEY)
        return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()
    if len(key) > 128:
        raise ValueError(
            f"subject key must be at most 128 characters, got {len(key)} (or set USAGE_HASH_SUBJECTS)"
        )
    return key


def _money(amount: Decimal) -> Decimal:
    # Prices carry at most 6 decimals per 1M tokens, so costs fit the column's 12 exactly; a
    # service tier's multiplier could add digits beyond: those (under 1e-12 USD) are rounded.
    if amount.as_tuple().exponent < -12:  # type: ignore[operator]
        return amount.quantize(_CENT_OF_A_NANO)
    return amount


def build_record(
    model_id: str,
    usage: Any,
    *,
    usage_format: str,
    request_id: str,
    subject: Any = None,
    conversation_id: str | None = None,
    decision: Any = None,
    latency_ms: float | None = None,
    status: str = "ok",
    error_type: str | None = None,
    service_tier: str | None = None,
    at: datetime | None = None,
    lookup: CatalogLookup,
) -> UsageRecord:
    """The validated, priced record (unsaved). ``ValueError`` names what is wrong."""
    request_id = _text("request_id", request_id, 200, required=True)
    if not isinstance(model_id, str) or not model_id:
        raise ValueError(f"model_id must be a model id such as 'openai:gpt-5', got {model_id!r}")
    if not isinstance(usage_format, str):
        raise ValueError(f"usage_format must be a string, got {type(usage_format).__name__}")
    tokens: TokenUsage = read_usage(usage, usage_format)
    if status not in _STATUSES:
        raise ValueError(f"status must be one of {', '.join(sorted(_STATUSES))}, not {status!r}")
    error_type = _text("error_type", error_type, 100)
    if error_type and status != "error":
        raise ValueError("error_type is for a failed call: give status='error' with it")
    if service_tier is not None and (not isinstance(service_tier, str) or not service_tier):
        raise ValueError(f"service_tier must be a non-empty string or None, got {service_tier!r}")
    _text("service_tier", service_tier, 20)
    moment = _moment(at)
    routing = _routing(decision)
    model, catalog_source, key = lookup(model_id, subject)
    if model is None:
        raise ValueError(f"unknown model {model_id!r} (not in the {catalog_source} catalog)")
    pricing, effective_from = model.pricing_at(moment)
    cost = breakdown(pricing, tokens, model_id=model.id, service_tier=service_tier)
    return stream.new_record(
        dict(
            request_id=request_id,
            at=moment,
            model_id=model.id,
            provider=model.provider,
            catalog_source=catalog_source,
            subject_key=_subject_key(key),
            # The chat app's ids are often integers: kept as their text.
            conversation_id=_text(
                "conversation_id",
                str(conversation_id)
                if isinstance(conversation_id, int) and not isinstance(conversation_id, bool)
                else conversation_id,
                200,
            ),
            **routing,
            input_tokens=tokens.input_tokens,
            cached_input_tokens=tokens.cached_input_tokens,
            # One column for cache writes, whatever their lifetime (the breakdown keeps them apart).
            cache_write_tokens=tokens.cache_write_tokens + tokens.cache_write_1h_tokens,
            output_tokens=tokens.output_tokens,
            reasoning_tokens=tokens.reasoning_tokens,
            cost=_money(cost.total),
            cost_breakdown=[
                {
                    "kind": line.kind,
                    "tokens": line.units,
                    "price": str(line.rate),
                    "per": line.per,
                    "cost": str(line.amount),
                }
                for line in cost.lines
            ],
            price_effective_from=effective_from,
            service_tier=service_tier or "",
            latency_ms=_latency(latency_ms),
            status=status,
            error_type=error_type,
        )
    )


# --- writing ------------------------------------------------------------------------------------

_COLUMNS = [field for field in UsageRecord._meta.concrete_fields if not field.primary_key]
_ATTNAMES = [field.attname for field in _COLUMNS]
_JSON_COLUMNS = frozenset(field.attname for field in _COLUMNS if field.get_internal_type() == "JSONField")
_JSON_INDEXES = [index for index, name in enumerate(_ATTNAMES) if name in _JSON_COLUMNS]
# Fields every backend takes as Python values; the others (times, money, JSON) go through
# Django's adaptation for the connection.
_AS_IS = frozenset(
    field.attname
    for field in _COLUMNS
    if field.get_internal_type()
    in {"CharField", "BooleanField", "BigIntegerField", "PositiveIntegerField", "IntegerField"}
)
_FEW_ROWS = 20


def _returning(connection: Any) -> str:
    quote = connection.ops.quote_name
    return f" ON CONFLICT ({quote('request_id')}) DO NOTHING RETURNING {quote('id')}, {quote('request_id')}"


def _insert_copy(records: Sequence[UsageRecord], connection: Any) -> list[tuple[int, str]]:
    """PostgreSQL, a batch: COPY it into a staging table (:mod:`.staging`), then one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``."""
    values = operator.itemgetter(*_ATTNAMES)
    rows = []
    for record in records:
        row = list(values(record.__dict__))
        for index in _JSON_INDEXES:
            row[index] = orjson.dumps(row[index]).decode()
        rows.append(row)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _COLUMNS)
    started = time.monotonic()
    with staging.cursor_on(connection) as cursor:
        staged = staging.copy_to_staging(cursor, connection, UsageRecord, _COLUMNS, rows)
        # In request id order: concurrent writers take the unique index's locks in one order.
        sql = (
            f"INSERT INTO {quote(UsageRecord._meta.db_table)} ({columns}) "
            f"SELECT {staging.moved(connection, _COLUMNS)} FROM {staged} ORDER BY {quote('request_id')}"
            + _returning(connection)
        )
        cursor.execute(sql)
        inserted = cursor.fetchall()
    staging.log(connection, sql, started)
    return inserted


def _insert_values(records: Sequence[UsageRecord], connection: Any) -> list[tuple[int, str]]:
    """A multi-row ``INSERT ... VALUES``: SQLite, and a few rows on PostgreSQL."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _COLUMNS)
    row = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    params: list[Any] = []
    for record in records:
        for field in _COLUMNS:
            value = getattr(record, field.attname)
            if field.attname not in _AS_IS:
                value = field.get_db_prep_save(value, connection)
            params.append(value)
    sql = (
        f"INSERT INTO {quote(UsageRecord._meta.db_table)} ({columns}) VALUES "
        + ", ".join([row] * len(records))
        + _returning(connection)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _insert_returning(records: Sequence[UsageRecord], using: str) -> dict[str, int]:
    """One ``INSERT ... ON CONFLICT (request_id) DO NOTHING RETURNING``: request id → new pk.

    Hand-written because ``bulk_create(ignore_conflicts=True)`` returns no ids, and asking
    afterwards which rows are new cannot tell our rows from a concurrent writer's.
    """
    connection = connections[using]
    # A few rows (the direct path's one): a plain VALUES is quicker (0.4 ms against 0.7 ms).
    copy = connection.vendor == "postgresql" and len(records) > _FEW_ROWS
    insert = _insert_copy if copy else _insert_values
    return {request_id: pk for pk, request_id in insert(records, connection)}


def _batch_size(using: str) -> int:
    connection = connections[using]
    if connection.vendor == "postgresql":
        return 5_000  # COPY: no parameter limit; bounds one statement's size
    # Bounded by the backend's parameters per statement (Django's figure for SQLite: 999).
    limit = connection.features.max_query_params or 65_535
    return max(1, min(limit, 65_535) // len(_COLUMNS))


@dataclass(frozen=True)
class Batch:
    """Records ready to store: one per request id, in request id order (concurrent writers take
    the unique index's locks in one order), and the sums they add to the rollups."""

    records: list[UsageRecord]
    sums: BatchSums


def prepare_batch(records: Iterable[UsageRecord]) -> Batch:
    """The batch of ``records`` (a retried record repeated in them counts once), summed ahead:
    the ingester prepares the next batch while the previous one is being written."""
    unique: dict[str, UsageRecord] = {}
    for record in records:
        unique.setdefault(record.request_id, record)
    ordered = [unique[request_id] for request_id in sorted(unique)]
    return Batch(ordered, sum_batch(ordered))


def insert_records(
    records: Iterable[UsageRecord] | Batch, *, using: str = DEFAULT_DB_ALIAS
) -> list[UsageRecord]:
    """Store ``records``, skipping request ids already stored, and add the new ones to the rollups.

    One transaction (a savepoint inside the caller's): the rows and the rollups commit
    together or not at all. Returns the records actually inserted, with their pk. Raises the
    database's errors.
    """
    batch = records if isinstance(records, Batch) else prepare_batch(records)
    ordered = batch.records
    if not ordered:
        return []
    size = _batch_size(using)
    inserted: list[UsageRecord] = []
    now = timezone.now()
    for record in ordered:
        record.recorded_at = now  # auto_now_add, once per batch (the raw INSERT skips pre_save)
    with transaction.atomic(using=using):
        for start in range(0, len(ordered), size):
            chunk = ordered[start : start + size]
            new_ids = _insert_returning(chunk, using)
            for record in chunk:
                pk = new_ids.get(record.request_id)
                if pk is not None:
                    record.pk = pk
                    record._state.adding = False
                    record._state.db = using
                    inserted.append(record)
        if inserted:
            # The sums made ahead hold for the batch only when all of it was new.
            sums = batch.sums if len(inserted) == len(ordered) else None
            rollups.add_to_rollups(inserted, using=using, sums=sums)
    return inserted


# --- failures -----------------------------------------------------------------------------------

_warned_at = float("-inf")
_warn_lock = threading.Lock()
_redis_down_until = float("-inf")


def _failed(path: str, request_id: str, exc: BaseException) -> None:
    """Count a record that could not be stored, and log it at most once a minute."""
    global _warned_at
    monitoring.count(monitoring.USAGE_RECORD_FAILURES)
    now = time.monotonic()
    with _warn_lock:
        if now - _warned_at < WARN_EVERY_SECONDS:
            return
        _warned_at = now
    logger.warning(
        "usage: could not store record %s (%s path): %s: %s; failures are counted in %s",
        request_id,
        path,
        exc.__class__.__name__,
        exc,
        monitoring.USAGE_RECORD_FAILURES,
        # An outage is expected and its message says enough; anything else is a bug: show where.
        exc_info=not isinstance(exc, (DatabaseError, *REDIS_ERRORS)),
    )


def _recover_connection(using: str) -> None:
    # Outside a request cycle nothing else closes a broken connection: without this, one
    # outage would fail every later record of a long-lived worker too.
    connection = connections[using]
    if not connection.in_atomic_block:
        try:
            connection.close_if_unusable_or_obsolete()
        except Exception:
            logger.debug("usage: closing a broken connection failed", exc_info=True)


def _store_direct(record: UsageRecord, using: str) -> UsageRecord | None:
    try:
        inserted = insert_records([record], using=using)
        if inserted:
            return inserted[0]
        # Already stored (a retry): the row as it was first recorded.
        return UsageRecord.objects.using(using).filter(request_id=record.request_id).first()
    except Exception as exc:  # whatever broke, the chat request must go on
        _failed("direct", record.request_id, exc)
        _recover_connection(using)
        return None


def _store_redis(record: UsageRecord) -> UsageRecord | None:
    global _redis_down_until
    if time.monotonic() < _redis_down_until:
        _failed("redis", record.request_id, ConnectionError("Redis failed less than a second ago"))
        return None
    try:
        stream.append(record)
    except Exception as exc:
        _redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_SECONDS
        _failed("redis", record.request_id, exc)
        return None
    return record


def reset_failure_state() -> None:
    """Forget a recent Redis failure and the log's rate limit (tests, and after a deploy)."""
    global _redis_down_until, _warned_at
    _redis_down_until = _warned_at = float("-inf")


def record_usage(
    model_id: str,
    usage: Any,
    *,
    lookup: CatalogLookup,
    using: str = DEFAULT_DB_ALIAS,
    **call: Any,
) -> UsageRecord | None:
    """Record one model call; ``call`` holds :func:`build_record`'s keyword arguments (see
    ``registry.record_usage`` for what they mean).

    Returns the stored row (direct path; the first one stored for a repeated ``request_id``),
    the unsaved record appended to the stream (Redis path), or ``None`` if it could not be
    stored. Raises ``ValueError`` for bad input, before anything is written.
    """
    mode = buffer_mode()
    record = build_record(model_id, usage, lookup=lookup, **call)
    if mode == BUFFER_REDIS:
        return _store_redis(record)
    return _store_direct(record, using)


__all__ = [
    "BUFFER_DIRECT",
    "BUFFER_REDIS",
    "Batch",
    "CatalogLookup",
    "buffer_mode",
    "build_record",
    "insert_records",
    "prepare_batch",
    "record_usage",
    "reset_failure_state",
]
