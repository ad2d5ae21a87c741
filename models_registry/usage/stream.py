"""The Redis stream of the buffered write path (``USAGE_BUFFER = "redis"``).

``record_usage`` appends each validated, priced record as one compact JSON entry
(:func:`append`); ``manage.py ingest_usage`` (:mod:`.ingest`) reads the stream through a
consumer group and writes batches. This module only encodes, decodes and talks to Redis:
no query.

An entry is ``{"r": <JSON>}``; the JSON holds the record's fields, defaults left out, money
and times as exact strings, the cost breakdown's lines as rows, and ``"v"`` (the format's
version) so an ingester can refuse what it does not understand instead of storing it wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import redis
from django.conf import settings
from django.db.models.base import ModelState
from redis.backoff import NoBackoff
from redis.retry import Retry

from models_registry.usage.models import UsageRecord

FORMAT_VERSION = 1
FIELD = b"r"
GROUP = "usage-ingest"
# The writer's timeouts: a stalled Redis must cost a chat request at most this, not the
# client's default 5 s (and a record is dropped rather than the request delayed further).
WRITE_TIMEOUT_SECONDS = 0.5

# Fields copied as they are when not at their default (strings, counts, flags).
_PLAIN = (
    "model_id",
    "provider",
    "catalog_source",
    "subject_key",
    "conversation_id",
    "routed",
    "decision_id",
    "router_tier",
    "category",
    "sticky",
    "fallback",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "service_tier",
    "latency_ms",
    "status",
    "error_type",
)
_DEFAULTS: dict[str, Any] = {
    field.name: field.get_default() for field in UsageRecord._meta.concrete_fields if field.name in _PLAIN
}
_KNOWN = frozenset({"v", "request_id", "at", "cost", "lines", "price_effective_from", *_PLAIN})
_LINE_KEYS = ("kind", "tokens", "price", "per", "cost")  # a stored cost breakdown line

_ATTNAMES = frozenset(field.attname for field in UsageRecord._meta.concrete_fields)
_FRESH_DEFAULTS = {  # mutable defaults (JSON lists): a new one per record
    field.attname: field.default
    for field in UsageRecord._meta.concrete_fields
    if field.has_default() and callable(field.default)
}
_INIT_DEFAULTS = {
    field.attname: field.get_default()
    for field in UsageRecord._meta.concrete_fields
    if field.attname not in _FRESH_DEFAULTS
}


def new_record(values: Mapping[str, Any]) -> UsageRecord:
    """An unsaved ``UsageRecord`` of ``values`` (field names; the others at their defaults).

    Built the way ``Model.__init__`` would leave it (every field's attribute set, a fresh
    ``ModelState``) without its per-field descriptor and signal work: the ingester makes one per
    row, and ``__init__`` was a quarter of decoding an entry. Only for concrete fields' values."""
    unknown = values.keys() - _ATTNAMES
    if unknown:
        raise TypeError(f"UsageRecord has no field {', '.join(sorted(unknown))}")
    if not _FRESH_DEFAULTS.keys() <= values.keys():
        values = {**{name: make() for name, make in _FRESH_DEFAULTS.items()}, **values}
    record = _new(UsageRecord)
    state = record.__dict__
    state["_state"] = ModelState()
    state.update(_INIT_DEFAULTS)
    state.update(values)
    return record


_new = object.__new__


# What an entry's plain fields must be, so a stray entry is refused here, alone, rather than
# failing its whole batch in the database again and again.
_KINDS: dict[str, tuple[type, int, frozenset[str] | None]] = {}  # name: (type, limit, choices)
for _field in UsageRecord._meta.concrete_fields:
    if _field.name in _PLAIN:
        _choices = frozenset(value for value, _ in _field.choices) if _field.choices else None
        _internal = _field.get_internal_type()
        if _internal == "CharField":
            _KINDS[_field.name] = (str, int(_field.max_length or 0), _choices)
        elif _internal == "BooleanField":
            _KINDS[_field.name] = (bool, 0, None)
        else:  # counts, the decision id, the latency: non-negative integers of the column's range
            _KINDS[_field.name] = (int, 2**31 - 1 if _internal == "PositiveIntegerField" else 2**63 - 1, None)


def _check_kinds(data: Mapping[str, Any]) -> None:
    kinds = _KINDS
    for name, value in data.items():
        if value is None or name not in kinds:
            continue
        kind, limit, choices = kinds[name]
        if type(value) is not kind:
            raise ValueError(f"{name} must be of type {kind.__name__}, got {value!r}")
        if kind is str and (len(value) > limit or (choices is not None and value not in choices)):
            raise ValueError(f"{name} {value!r} is too long or not one of its choices")
        if kind is str and "\x00" in value:  # PostgreSQL refuses it: set aside alone, not with its batch
            raise ValueError(f"{name} contains a NUL character")
        if kind is int and not 0 <= value <= limit:
            raise ValueError(f"{name} is out of range: {value}")


def _moment(text: Any) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError(f"{text!r} is not an aware time")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # a hand-made entry near year 1: set aside, not an ingester crash
        raise ValueError(f"{text!r} is out of range") from None


_clients: dict[tuple[str, float], redis.Redis] = {}
_clients_lock = threading.Lock()


def client(*, socket_timeout: float = WRITE_TIMEOUT_SECONDS) -> redis.Redis:
    """The process's Redis client for ``settings.REDIS_URL`` (a pool, shared by threads).

    One retry, at once: it replaces a pooled connection Redis closed (a Redis restart) without
    the client's default exponential backoff, which would hold a chat request for seconds.
    """
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        raise redis.ConnectionError("USAGE_BUFFER is 'redis' but REDIS_URL is not set")
    key = (url, socket_timeout)
    found = _clients.get(key)
    if found is not None:
        return found
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = redis.Redis.from_url(
                url,
                socket_timeout=socket_timeout,
                socket_connect_timeout=min(socket_timeout, WRITE_TIMEOUT_SECONDS),
                retry=Retry(NoBackoff(), 1),
            )
        return found


def stream_key() -> str:
    return str(getattr(settings, "USAGE_STREAM_KEY", "models_registry:usage"))


def encode(record: UsageRecord) -> bytes:
    """The record as the stream's compact JSON (only what differs from the defaults)."""
    data: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "request_id": record.request_id,
        "at": record.at.isoformat(),
        "cost": str(record.cost),
        # Lines as rows, not objects: the keys would be most of the entry.
        "lines": [[line[key] for key in _LINE_KEYS] for line in record.cost_breakdown],
    }
    if record.price_effective_from is not None:
        data["price_effective_from"] = record.price_effective_from.isoformat()
    values = record.__dict__
    for name in _PLAIN:
        value = values[name]
        if value != _DEFAULTS[name]:
            data[name] = value
    return orjson.dumps(data)


def decode(raw: bytes | str) -> UsageRecord:
    """A record read back from the stream (unsaved). ``ValueError`` for an entry it cannot read."""
    try:
        data = orjson.loads(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a usage record: {exc}") from None
    if type(data) is not dict:
        raise ValueError("not a usage record: not a JSON object")
    if data.get("v") != FORMAT_VERSION:
        raise ValueError(f"usage record format {data.get('v')!r} is not {FORMAT_VERSION}")
    unknown = data.keys() - _KNOWN
    if unknown:
        raise ValueError(f"usage record has unknown fields: {', '.join(sorted(unknown))}")
    _check_kinds(data)
    try:
        del data["v"]
        effective = data.pop("price_effective_from", None)
        data["at"] = _moment(data["at"])
        cost = data["cost"] = Decimal(data["cost"])
        if not cost.is_finite() or cost < 0:
            raise ValueError(f"cost {cost} is not an amount")
        data["cost_breakdown"] = [dict(zip(_LINE_KEYS, line, strict=True)) for line in data.pop("lines")]
        data["price_effective_from"] = _moment(effective) if effective else None
        request_id = data["request_id"]
        if not isinstance(request_id, str) or not request_id or len(request_id) > 200 or "\x00" in request_id:
            raise TypeError(f"request_id must be a string of 1 to 200 characters, got {request_id!r}")
        return new_record(data)
    except (KeyError, TypeError, ArithmeticError, ValueError) as exc:
        raise ValueError(f"not a usage record: {exc!r}") from None


def append(record: UsageRecord) -> None:
    """XADD the record to the stream. Raises Redis's errors (the caller counts them)."""
    client().xadd(
        stream_key(),
        {FIELD: encode(record)},
        maxlen=int(getattr(settings, "USAGE_STREAM_MAXLEN", 2_000_000)),
        approximate=True,  # trims whole nodes: O(1) instead of exact trimming on every add
    )
