"""An immutable, indexed view of a whole catalog: what every registry read is served from.

Pure Python, no ORM: built once per snapshot from ``ModelConfig`` objects, then
answers lookups, filtered lists and searches from dicts and precomputed tuples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from models_registry.domain.types import CAPABILITIES, SELECTABLE_STATUSES, STATUSES, ModelConfig

SELECTABLE = "selectable"


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
    _list_cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, models: Iterable[ModelConfig]) -> CatalogIndex:
        ordered = tuple(sorted(models, key=lambda model: model.id))
        return cls(
            models=ordered,
            by_id={model.id: model for model in ordered},
            providers=frozenset(model.provider for model in ordered),
            has_deprecation_dates=any(model.deprecation_date is not None for model in ordered),
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
    ) -> list[ModelConfig]:
        """Models matching every filter, by id. Results are memoized per filter combination."""
        capabilities = normalize_capabilities(capability)
        if provider is not None and provider not in self.providers:
            return []  # not memoized: callers' arbitrary strings must not grow the cache
        today = datetime.now(UTC).date() if self.has_deprecation_dates and status == SELECTABLE else None
        cache_key = (provider, status, capabilities, include_internal, today)
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
                and capabilities <= model.capabilities
            )
            self._list_cache[cache_key] = cached  # racing threads compute the same tuple
        return list(cached)

    def search(self, query: str, *, limit: int = 20) -> list[ModelConfig]:
        """Selectable, public models matching ``query`` in id, name, provider or description.

        Exact matches first, then prefix matches, then matches anywhere; by id within each.
        """
        needle = query.strip().lower()
        candidates = self.list()
        if not needle:
            return candidates[:limit]
        ranked = []
        for model in candidates:
            rank = _search_rank(model, needle)
            if rank is not None:
                ranked.append((rank, model.id, model))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [model for _, _, model in ranked[: max(limit, 0)]]


def _search_rank(model: ModelConfig, needle: str) -> int | None:
    short_id = model.id.split(":", 1)[-1].lower()
    names = (model.id.lower(), short_id, model.name.lower())
    if needle in names:
        return 0
    if any(name.startswith(needle) for name in names) or model.provider.startswith(needle):
        return 1
    haystack = " ".join((*names, model.provider, model.provider_name.lower(), model.description.lower()))
    if needle in haystack:
        return 2
    return None
