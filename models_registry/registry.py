"""The registry's read API: what the chat app calls, in-process, on every message.

::

    from models_registry import registry

    registry.get_model("openai:gpt-5", subject=request.user)
    registry.list_models(provider="anthropic", capability="vision", subject=user_id)
    registry.search_models("gemini", limit=10)
    registry.calculate_cost("openai:gpt-5", input_tokens=1200, output_tokens=300)
    registry.source_for(user)  # "database" or "static"

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
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from models_registry.domain.catalog_index import SELECTABLE, CatalogIndex
from models_registry.domain.pricing import cost_usd
from models_registry.domain.types import ModelConfig
from models_registry.read import monitoring
from models_registry.read.snapshot import SnapshotUnavailable, VersionedSnapshot
from models_registry.rollout.flags import DB_MODELS_FLAG, SOURCE_DATABASE, SOURCE_STATIC, flag_is_active

__all__ = [
    "ModelConfig",
    "UnknownModel",
    "calculate_cost",
    "get_model",
    "list_models",
    "search_models",
    "source_for",
]

logger = logging.getLogger(__name__)
_pending = monitoring.pending

Source = Literal["database", "static"]


class UnknownModel(LookupError):
    """No model with this id in the catalog the subject reads."""


def _load_database_index() -> CatalogIndex:
    from models_registry.catalog.conversions import config_from_model
    from models_registry.catalog.models import AIModel

    configs = []
    for row in AIModel.objects.select_related("provider"):
        try:
            configs.append(config_from_model(row))
        except Exception:  # one corrupt row must not hide the other models
            logger.exception("registry: skipping unreadable model row %s", row.model_id)
    return CatalogIndex.build(configs)


database_snapshot: VersionedSnapshot[CatalogIndex] = VersionedSnapshot(_load_database_index, name="catalog")


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
) -> list[ModelConfig]:
    """Models ordered by id.

    By default only what a user may select: active and beta, not internal-only.
    ``status`` names one status to list only that, or ``None`` for all;
    ``capability`` is one capability name or several (all required);
    ``include_internal=True`` adds internal-only models. ``source`` forces
    ``"database"`` or ``"static"`` instead of the subject's rollout (admin tools).
    """
    if source is not None and source not in (SOURCE_DATABASE, SOURCE_STATIC):
        raise ValueError(f"source must be 'database' or 'static', not {source!r}")
    return _index_for(subject, source).list(
        provider=provider, status=status, capability=capability, include_internal=include_internal
    )


def search_models(query: str, *, limit: int = 20, subject: Any = None) -> list[ModelConfig]:
    """Selectable models matching ``query`` in id, name, provider or description; exact and prefix first."""
    return _index_for(subject).search(query, limit=limit)


def calculate_cost(
    model_id: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    subject: Any = None,
) -> Decimal:
    """Exact USD cost of one request on ``model_id``.

    Token counts follow the OpenAI usage convention: ``input_tokens`` includes
    ``cached_input_tokens`` and ``output_tokens`` includes ``reasoning_tokens``.
    Cached tokens are billed at the model's cached-input rate (its input rate
    if it has none), reasoning tokens at its reasoning rate (else the output
    rate). Raises ``ValueError`` for negative counts, cached > input or
    reasoning > output, and :class:`UnknownModel` for an unknown id.
    """
    model = get_model(model_id, subject=subject)
    if model is None:
        raise UnknownModel(model_id)
    return cost_usd(
        model.pricing,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached_input_tokens,
        reasoning_tokens=reasoning_tokens,
    )
