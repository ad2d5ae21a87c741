"""An immutable, indexed view of a whole catalog: what every registry read is served from.

Pure Python, no ORM: built once per snapshot from ``ModelConfig`` objects, then
answers lookups, filtered lists and searches from dicts and precomputed tuples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter

from models_registry.domain.search_index import SearchIndex
from models_registry.domain.types import CAPABILITIES, SELECTABLE_STATUSES, STATUSES, ModelConfig

SELECTABLE = "selectable"
_MODEL_ID = attrgetter("id")


def normalize_capabilities(capability: str | Iterable[str] | None) -> frozenset[str]:
    if capability is None:
        return frozenset()
    wanted = frozenset([capability] if isinstance(capability, str) else capability)
    unknown = wanted - set(CAPABILITIES)
    if unknown:
        raise ValueError(f"unknown capability {sorted(unknown)}; known: {', '.join(CAPABILITIES)}")
    return wanted


@dataclass(frozen=True, slots=True, eq=False)
class CatalogIndex:
    models: tuple[ModelConfig, ...]  # sorted by id
    by_id: dict[str, ModelConfig]  # never mutated after build
    providers: frozenset[str]
    has_deprecation_dates: bool = False  # then what is selectable changes with the day
    # Where the models came from, for a refresh that reads only what changed since: the source's
    # highest revision among them and how many source rows there were (unreadable ones included).
    revision: int = 0
    row_count: int = 0
    _list_cache: dict = field(default_factory=dict, repr=False)
    _search_cache: dict = field(default_factory=dict, repr=False)  # {"index": SearchIndex}, on first search

    @classmethod
    def build(cls, models: Iterable[ModelConfig], *, revision: int = 0, row_count: int = 0) -> CatalogIndex:
        ordered = tuple(sorted(models, key=_MODEL_ID))
        return cls(
            models=ordered,
            by_id={model.id: model for model in ordered},
            providers=frozenset(model.provider for model in ordered),
            has_deprecation_dates=any(model.deprecation_date is not None for model in ordered),
            revision=revision,
            row_count=row_count,
        )

    def with_changes(self, changed: Iterable[ModelConfig], *, revision: int, row_count: int) -> CatalogIndex:
        """A new index with ``changed`` models added or replaced; every other model object is kept.

        What the build precomputes is cheap from the previous index (a dict copy and an
        almost sorted sort); the lazily built parts (list cache, search index) start afresh.
        """
        by_id = dict(self.by_id)
        for model in changed:
            by_id[model.id] = model
        ordered = tuple(sorted(by_id.values(), key=_MODEL_ID))
        return type(self)(
            models=ordered,
            by_id=by_id,
            providers=frozenset(by_id[model_id].provider for model_id in by_id),
            has_deprecation_dates=any(model.deprecation_date is not None for model in ordered),
            revision=revision,
            row_count=row_count,
        )

    def get(self, model_id: str) -> ModelConfig | None:
        return self.by_id.get(model_id)

    def list(
        self,
        *,
        provider: str | None = None,
        status: str | None = SELECTABLE,
        capability: str | Iterable[str] | None = None,
        include_internal: bool = False,
        include_pro: bool = True,
    ) -> list[ModelConfig]:
        """Models matching every filter, by id. Results are memoized per filter combination."""
        capabilities = normalize_capabilities(capability)
        if provider is not None and provider not in self.providers:
            return []  # not memoized: callers' arbitrary strings must not grow the cache
        today = datetime.now(UTC).date() if self.has_deprecation_dates and status == SELECTABLE else None
        cache_key = (provider, status, capabilities, include_internal, include_pro, today)
        cached = self._list_cache.get(cache_key)
        if cached is None:
            if status is not None and status != SELECTABLE and status not in STATUSES:
                raise ValueError(f"unknown status {status!r}; use {SELECTABLE!r}, None or one of {STATUSES}")
            cached = tuple(
                model
                for model in self.models
                if (provider is None or model.provider == provider)
                and (
                    status is None
                    or (
                        (
                            model.status in SELECTABLE_STATUSES
                            and not (today and model.is_past_deprecation(today))
                        )
                        if status == SELECTABLE
                        else model.status == status
                    )
                )
                and (include_internal or not model.is_internal_only)
                and (include_pro or not model.is_pro)
                and capabilities <= model.capabilities
            )
            self._list_cache[cache_key] = cached  # racing threads compute the same tuple
        return list(cached)

    def search(
        self, query: str, *, limit: int = 20, include_unselectable: bool = False, include_pro: bool = True
    ) -> list[ModelConfig]:
        """Public models matching ``query``, best first: selectable ones, and others if asked.

        Ranked by level: exact id (with or without its provider prefix), exact name, id
        prefix, name prefix, word prefix (every query word starts a word of the id, name or
        provider), then anywhere in id, name, provider or description; separators and case do
        not count. Within a level: first-party before resellers, then selectable first, then by
        id. :mod:`.search_index` has the details.
        """
        return self._search_index().search(
            query,
            limit,
            include_unselectable=include_unselectable,
            include_pro=include_pro,
            day=datetime.now(UTC).date(),
        )

    def _search_index(self) -> SearchIndex:
        # Built on the first search, not in build(): every write rebuilds the snapshot, and most
        # snapshots serve no search before the next write replaces them. Racing threads may both
        # build it (equal indexes); setdefault keeps one.
        index = self._search_cache.get("index")
        if index is None:
            index = self._search_cache.setdefault("index", SearchIndex(self.models))
        return index
