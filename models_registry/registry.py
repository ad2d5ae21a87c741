"""The registry's read API: what the chat app calls, in-process, on every message.

::

    from models_registry import registry

    registry.get_model("openai:gpt-5", subject=request.user)
    registry.list_models(provider="anthropic", capability="vision", subject=user_id)
    registry.search_models("gemini", limit=10)
    registry.calculate_cost("openai:gpt-5", input_tokens=1200, output_tokens=300)
    registry.cost_for_usage("anthropic:claude-sonnet-4.5", response["usage"], usage_format="anthropic")
    registry.source_for(user)  # "database" or "static"
    registry.record_usage("openai:gpt-5", response["usage"], usage_format="openai-chat",
                          request_id=response["id"], subject=user)

Reads come from immutable in-memory snapshots (:mod:`.snapshot`): no query
per read. Which catalog a subject reads, the static one or the database, is
decided per subject by the ``use_db_models`` rollout flag (:mod:`.rollout`),
or for everyone by ``MODELS_REGISTRY_SOURCE``. If the database is
unreachable, reads are served from the last good snapshot, or from the static
catalog if there never was one; nothing is raised, and the fallback counter
(:mod:`.monitoring`) goes up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from models_registry.domain.access import FREE, check_user_tier, sees_pro_models
from models_registry.domain.catalog_index import SELECTABLE, CatalogIndex
from models_registry.domain.pricing import CostBreakdown, CostLine, TokenUsage, breakdown, cost_usd
from models_registry.domain.types import ModelConfig
from models_registry.domain.usage import USAGE_FORMATS, read_usage
from models_registry.read import monitoring
from models_registry.read.snapshot import SnapshotUnavailable, VersionedSnapshot
from models_registry.rollout.buckets import subject_key
from models_registry.rollout.flags import DB_MODELS_FLAG, SOURCE_DATABASE, SOURCE_STATIC, flag_is_active

if TYPE_CHECKING:
    from models_registry.usage.models import UsageRecord

__all__ = [
    "USAGE_FORMATS",
    "CatalogIndex",
    "CostBreakdown",
    "CostLine",
    "ModelConfig",
    "TokenUsage",
    "UnknownModel",
    "calculate_cost",
    "catalog_index",
    "cost_for_usage",
    "get_model",
    "list_models",
    "record_usage",
    "search_models",
    "source_for",
]

logger = logging.getLogger(__name__)
_pending = monitoring.pending

Source = Literal["database", "static"]


class UnknownModel(LookupError):
    """No model with this id in the catalog the subject reads."""


def _configs_from_rows(rows: Iterable[Any]) -> tuple[list[ModelConfig], int]:
    """The read views of ``rows`` and the highest catalog revision among them."""
    from models_registry.catalog.conversions import config_from_model

    configs, revision = [], 0
    for row in rows:
        revision = max(revision, row.catalog_revision, row.provider.catalog_revision)
        try:
            configs.append(config_from_model(row))
        except Exception:  # one corrupt row must not hide the other models
            logger.exception("registry: skipping unreadable model row %s", row.model_id)
    return configs, revision


def _load_database_index() -> CatalogIndex:
    from models_registry.catalog.models import AIModel

    rows = list(AIModel.objects.select_related("provider"))
    configs, revision = _configs_from_rows(rows)
    return CatalogIndex.build(configs, revision=revision, row_count=len(rows))


def _refresh_database_index(previous: CatalogIndex) -> CatalogIndex:
    """The catalog after the writes since ``previous``: only the rows stamped past its revision.

    Every audited write stamps the rows it wrote (and a provider's edit, the provider) with
    the catalog version it committed as, so a one-model edit reloads one row, not 5,000. A
    row count that does not add up (rows written around the audited writes: a bulk load) or
    revisions older than the index's (a restored database) fall back to a full load.
    """
    from django.db.models import Count, Max, Q

    from models_registry.catalog.models import AIModel

    seen = previous.revision
    # One statement, so the changed models and the changed providers come from one consistent
    # view: read apart, a provider edit and a later model edit committing in between would move
    # the revision past the provider's other models, never to be reloaded.
    rows = list(
        AIModel.objects.filter(
            Q(catalog_revision__gt=seen) | Q(provider__catalog_revision__gt=seen)
        ).select_related("provider")
    )
    counts = AIModel.objects.aggregate(
        total=Count("pk"), top=Max("catalog_revision"), provider_top=Max("provider__catalog_revision")
    )
    new_rows = sum(1 for row in rows if row.model_id not in previous.by_id)
    top = max(counts["top"] or 0, counts["provider_top"] or 0)
    if counts["total"] != previous.row_count + new_rows or top < seen:
        return _load_database_index()  # rows written around the audited writes, or a restored database
    if not rows:
        return previous  # nothing of the catalog changed: keep the index and what was built on it
    configs, revision = _configs_from_rows(rows)
    return previous.with_changes(configs, revision=max(seen, revision), row_count=counts["total"])


database_snapshot: VersionedSnapshot[CatalogIndex] = VersionedSnapshot(
    _load_database_index, name="catalog", refresh=_refresh_database_index
)


@lru_cache(maxsize=1)
def static_index() -> CatalogIndex:
    """The static catalog, indexed once per process."""
    from models_registry.domain.static_catalog import load_static_catalog

    return CatalogIndex.build(load_static_catalog().models)


def source_for(subject: Any = None) -> Source:
    """Which catalog ``subject`` reads: ``"database"`` or ``"static"``."""
    return SOURCE_DATABASE if flag_is_active(DB_MODELS_FLAG, subject) else SOURCE_STATIC


def _index_for(subject: Any, source: Source | None = None) -> CatalogIndex:
    # The hot path of every read: counters are bumped on the plain dict directly.
    if source == SOURCE_DATABASE or (source is None and flag_is_active(DB_MODELS_FLAG, subject)):
        _pending[monitoring.READS_FOR_DATABASE] += 1
        try:
            index = database_snapshot.get()
        except SnapshotUnavailable:
            # Never loaded and the database is down: the static catalog is better than nothing.
            _pending[monitoring.FALLBACKS] += 1
            _pending[monitoring.READS_STATIC] += 1
            return static_index()
        if database_snapshot.degraded:
            _pending[monitoring.FALLBACKS] += 1
        _pending[monitoring.READS_DATABASE] += 1
        return index
    _pending[monitoring.READS_STATIC] += 1
    return static_index()


def catalog_index(*, subject: Any = None, source: Source | None = None) -> CatalogIndex:
    """The immutable catalog snapshot ``subject`` reads (or ``source``: ``"database"``/``"static"``).

    For in-process consumers that precompute per snapshot (the router's routing index): the
    same object is returned until the catalog changes, so it can key a cache.
    """
    if source is not None and source not in (SOURCE_DATABASE, SOURCE_STATIC):
        raise ValueError(f"source must be 'database' or 'static', not {source!r}")
    return _index_for(subject, source)


def get_model(model_id: str, *, subject: Any = None) -> ModelConfig | None:
    """The model with this id, deprecated ones included (old conversations are still priced)."""
    model = _index_for(subject).by_id.get(model_id)
    if model is None:
        _pending[monitoring.NOT_FOUND] += 1
    return model


def list_models(
    *,
    provider: str | None = None,
    status: str | None = SELECTABLE,
    capability: str | Iterable[str] | None = None,
    include_internal: bool = False,
    subject: Any = None,
    source: Source | None = None,
    user_tier: str | None = FREE,
) -> list[ModelConfig]:
    """Models ordered by id.

    By default only what a user may select: active and beta, not internal-only, and pro models
    only for ``user_tier="pro"`` (the access rule of :mod:`.domain.access`; ``"free"`` by
    default). ``status`` names one status to list only that, or ``None`` for all;
    ``capability`` is one capability name or several (all required). Admin tools serve no user:
    ``user_tier=None`` lists pro models too, and only then may ``include_internal=True`` add
    internal-only ones. ``source`` forces ``"database"`` or ``"static"`` instead of the
    subject's rollout (admin tools).
    """
    if source is not None and source not in (SOURCE_DATABASE, SOURCE_STATIC):
        raise ValueError(f"source must be 'database' or 'static', not {source!r}")
    check_user_tier(user_tier)
    if include_internal and user_tier is not None:
        raise ValueError("internal-only models are never offered to users: pass user_tier=None (admin tools)")
    return _index_for(subject, source).list(
        provider=provider,
        status=status,
        capability=capability,
        include_internal=include_internal,
        include_pro=sees_pro_models(user_tier),
    )


def search_models(
    query: str,
    *,
    limit: int = 20,
    include_unselectable: bool = False,
    subject: Any = None,
    user_tier: str | None = FREE,
) -> list[ModelConfig]:
    """The public models matching ``query``, best first, at most ``limit`` (none if ``limit`` <= 0).

    Case and separators do not count ("gemini flash" finds ``gemini-flash``). Ranked by level,
    best first: exact id (``openai:gpt-5``, or ``gpt-5`` without the provider prefix), exact
    name, id prefix, name prefix, word prefix (every query word starts a word of the id, name or
    provider, in any order: "sonnet", "qwen coder"), then the query anywhere in the id, name,
    provider or description. A model appears once, at its best level. Within a level:
    first-party models before resellers' listings (``openai:gpt-5`` before ``azure:gpt-5``),
    then selectable models before the others, then by id. Only selectable models (active or
    beta, not past their deprecation date) unless ``include_unselectable``; never internal-only
    ones, and pro models only for ``user_tier="pro"`` (``None``: admin tools, pro included). An
    empty query lists models in that order. Served from an index built on the snapshot's first
    search: a few microseconds per query at 5,000 models.
    """
    check_user_tier(user_tier)
    return _index_for(subject).search(
        query, limit=limit, include_unselectable=include_unselectable, include_pro=sees_pro_models(user_tier)
    )


def _model_or_raise(model_id: str, subject: Any) -> ModelConfig:
    model = get_model(model_id, subject=subject)
    if model is None:
        raise UnknownModel(model_id)
    return model


def calculate_cost(
    model_id: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    service_tier: str | None = None,
    at: datetime | None = None,
    subject: Any = None,
) -> Decimal:
    """Exact USD cost of one request on ``model_id``, at the prices in force at ``at`` (default now).

    Token counts follow the OpenAI usage convention: ``input_tokens`` are all
    prompt tokens, ``cached_input_tokens`` (cache reads), ``cache_write_tokens``
    (5-minute cache writes) and ``cache_write_1h_tokens`` included;
    ``output_tokens`` include ``reasoning_tokens``. Each part is billed at its
    own rate (the input or output rate when the model has none); a long prompt
    is billed at the long-context tier it reaches; ``service_tier`` is
    ``"batch"``, ``"flex"`` or ``"priority"``. Raises ``ValueError`` for bad
    counts or a service tier the model has no prices for, and
    :class:`UnknownModel` for an unknown id.
    """
    model = _model_or_raise(model_id, subject)
    return cost_usd(
        model.pricing_at(at)[0],
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached_input_tokens,
        reasoning_tokens=reasoning_tokens,
        cache_write_tokens=cache_write_tokens,
        cache_write_1h_tokens=cache_write_1h_tokens,
        service_tier=service_tier,
    )


def cost_for_usage(
    model_id: str,
    usage: Mapping[str, Any],
    *,
    usage_format: str,
    service_tier: str | None = None,
    at: datetime | None = None,
    subject: Any = None,
    strict: bool = False,
) -> CostBreakdown:
    """What one request cost, from the provider's own usage object, line by line.

    ``usage_format`` is one of :data:`USAGE_FORMATS`: ``"openai-chat"``,
    ``"openai-responses"``, ``"anthropic"``, ``"gemini"`` (each reads that
    provider's usage object as a dict, with its own counting convention) or
    ``"generic"`` (the keyword counts of :func:`calculate_cost`, plus
    ``audio_*``/``image_*`` tokens and ``requests={"web_search": n}``). Priced at
    the prices in force at ``at`` (default now). Bad input raises
    ``ValueError`` naming the key; ``strict`` also refuses keys the format does
    not know (new provider fields are otherwise ignored).
    """
    token_usage = read_usage(usage, usage_format, strict=strict)
    model = _model_or_raise(model_id, subject)
    pricing, effective_from = model.pricing_at(at)
    return breakdown(
        pricing,
        token_usage,
        model_id=model_id,
        service_tier=service_tier,
        price_effective_from=effective_from,
        at=at,
    )


def _usage_lookup(model_id: str, subject: Any) -> tuple[ModelConfig | None, Source, str | None]:
    """The model as ``subject``'s catalog has it, which catalog that is, and the subject's key.

    Reads the snapshots directly rather than through ``get_model``: recording a call is not a
    read of the catalog, so it must not move the read counters the rollout gate judges.
    """
    source = source_for(subject)
    if source == SOURCE_DATABASE:
        try:
            index = database_snapshot.get()
        except SnapshotUnavailable:  # never loaded and the database is down: the static prices
            index = static_index()
    else:
        index = static_index()
    return index.by_id.get(model_id), source, subject_key(subject)


def record_usage(
    model_id: str,
    usage: Mapping[str, Any],
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
) -> UsageRecord | None:
    """Record one model call of the chat app: its tokens, its cost at the prices in force, how it was routed.

    ::

        record = registry.record_usage(
            "anthropic:claude-sonnet-4.5",
            response["usage"],                 # the provider's usage object, as a dict
            usage_format="anthropic",          # or openai-chat, openai-responses, gemini, generic
            request_id=response["id"],         # a retried record is stored once
            subject=request.user,              # stored as its key (hashed with USAGE_HASH_SUBJECTS)
            conversation_id=conversation.id,
            decision=decision,                 # the auto-router's Decision, a stored one, or its id
            latency_ms=elapsed_ms,
            status="ok",                       # or "error", with error_type="rate_limit"
        )
        record.cost                            # Decimal("0.0213"), exact USD

    The model is looked up in the catalog ``subject`` reads (``source_for``) and priced at the
    prices in force at ``at`` (an aware datetime, default now): the cost, its breakdown and the
    prices' effective date are stored, so a later price change never reprices the record. No
    message text is stored. ``request_id`` makes it idempotent: a second call with the same id
    stores nothing and returns the row stored first.

    Written directly (one INSERT with the rollups' update, in the caller's transaction if there
    is one) or, with ``USAGE_BUFFER=redis``, appended to a Redis stream that
    ``manage.py ingest_usage`` writes in batches; then the unsaved record is returned.

    Raises ``ValueError`` for bad input (a bad usage object or format, an empty
    ``request_id``, a bad ``status``, a negative latency, a naive ``at``, an unknown model). A
    storage failure never raises: it is logged and counted (``usage_record_failures`` in
    :mod:`.monitoring`), and ``None`` is returned.
    """
    from models_registry.usage import services  # its tables: loaded once the apps are

    return services.record_usage(
        model_id,
        usage,
        usage_format=usage_format,
        request_id=request_id,
        subject=subject,
        conversation_id=conversation_id,
        decision=decision,
        latency_ms=latency_ms,
        status=status,
        error_type=error_type,
        service_tier=service_tier,
        at=at,
        lookup=_usage_lookup,
    )
