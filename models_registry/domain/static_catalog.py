"""The static (in-code) catalog: loading and validating ``fixtures/static_catalog.json``.

Pure Python, no ORM. Every entry becomes a frozen :class:`ModelConfig`; the
first bad entry stops the load with the model id and the field named, so a
broken fixture never half-loads.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from models_registry.domain.fields import (  # noqa: F401  (CatalogError, the id pattern and keys: this API)
    FILE_KEYS as ENTRY_KEYS,
)
from models_registry.domain.fields import (
    MODEL_ID_PATTERN,
    PROVIDER_SLUG_PATTERN,
    CatalogError,
    columns_from_entry,
    read_values_from_columns,
)
from models_registry.domain.types import ModelConfig


@dataclass(frozen=True, slots=True)
class StaticCatalog:
    providers: Mapping[str, str]  # slug → display name
    models: tuple[ModelConfig, ...]
    first_party: frozenset[str] = frozenset()  # slugs of the providers that make their models

    def by_id(self) -> dict[str, ModelConfig]:
        return {model.id: model for model in self.models}


def parse_entry(
    entry: Any,
    provider_names: Mapping[str, str] | None = None,
    first_party: Collection[str] | None = None,
) -> ModelConfig:
    """Validate one catalog entry and return it as a :class:`ModelConfig`."""
    if not isinstance(entry, Mapping):
        raise CatalogError("", "entry", "must be an object")
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not MODEL_ID_PATTERN.match(model_id):
        raise CatalogError(str(model_id or ""), "id", "must look like 'provider:model-name'")
    columns = columns_from_entry(entry, model_id)
    provider = columns["provider"]
    if provider_names is not None and provider not in provider_names:
        raise CatalogError(model_id, "provider", f"unknown provider {provider!r}")
    return ModelConfig(
        **read_values_from_columns(columns.__getitem__),
        provider_name=(provider_names or {}).get(provider, provider),
        provider_first_party=first_party is None or provider in first_party,
    )


def parse_catalog(document: Any) -> StaticCatalog:
    """Validate a whole catalog document (``{"providers": [...], "models": [...]}``).

    A provider entry is ``{"slug", "name", "first_party"}``; ``first_party`` (the provider
    makes its models, it does not resell them) is false when absent.
    """
    if not isinstance(document, Mapping):
        raise CatalogError("", "document", "must be an object with 'providers' and 'models'")
    providers: dict[str, str] = {}
    first_party: set[str] = set()
    for item in document.get("providers") or []:
        if not isinstance(item, Mapping) or not PROVIDER_SLUG_PATTERN.match(str(item.get("slug", ""))):
            raise CatalogError("", "providers", f"bad provider entry {item!r}")
        if not isinstance(item.get("first_party", False), bool):
            raise CatalogError("", "providers", f"{item['slug']}: first_party must be true or false")
        providers[item["slug"]] = str(item.get("name") or item["slug"])
        if item.get("first_party"):
            first_party.add(item["slug"])
    raw_models = document.get("models")
    if not isinstance(raw_models, list):
        raise CatalogError("", "models", "must be a list")
    models: list[ModelConfig] = []
    seen: set[str] = set()
    for entry in raw_models:
        config = parse_entry(entry, providers, first_party)
        if config.id in seen:
            raise CatalogError(config.id, "id", "appears twice in the catalog")
        seen.add(config.id)
        models.append(config)
    return StaticCatalog(providers=providers, models=tuple(models), first_party=frozenset(first_party))


def load_catalog_file(path: str | Path) -> StaticCatalog:
    """Read and validate a catalog file. Raises :class:`CatalogError` or ``OSError``."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CatalogError("", "document", f"is not valid JSON: {exc}") from None
    return parse_catalog(document)


@lru_cache(maxsize=1)
def _load_default(path: str) -> StaticCatalog:
    return load_catalog_file(path)


def load_static_catalog() -> StaticCatalog:
    """The project's static catalog (``settings.STATIC_CATALOG_PATH``), parsed once per process."""
    from django.conf import settings

    return _load_default(str(settings.STATIC_CATALOG_PATH))
