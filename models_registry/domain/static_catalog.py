"""The static (in-code) catalog: loading and validating ``fixtures/static_catalog.json``.

Pure Python, no ORM. Every entry becomes a frozen :class:`ModelConfig`; the
first bad entry stops the load with the model id and the field named, so a
broken fixture never half-loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from models_registry.domain.reasoning import reasoning_config_errors
from models_registry.domain.types import (
    CAPABILITIES,
    GATEWAYS,
    SPEED_TIERS,
    STATUSES,
    ModelConfig,
    Pricing,
    freeze_json,
)

MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*:[A-Za-z0-9][A-Za-z0-9._/-]*$")
PROVIDER_SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")

# Keys of one model entry, in the order files are written (export, the static catalog).
ENTRY_KEYS: tuple[str, ...] = (
    "id",
    "provider",
    "name",
    "description",
    "context_window",
    "actual_model_id",
    "is_local",
    "pricing",
    "capabilities",
    "reasoning",
    "gateway",
    "host_order",
    "knowledge_cutoff",
    "user_friendly_description",
    "best_for",
    "benchmarks",
    "speed_tier",
    "is_pro",
    "is_internal_only",
    "is_experimental",
    "status",
)
_PRICING_KEYS = {"input", "output", "cached_input", "reasoning"}


class CatalogError(ValueError):
    """A catalog entry is invalid. Names the model and the field."""

    def __init__(self, model_id: str, field: str, message: str) -> None:
        self.model_id = model_id
        self.field = field
        self.message = message
        super().__init__(f"{model_id or '<no id>'}: {field}: {message}")


@dataclass(frozen=True, slots=True)
class StaticCatalog:
    providers: Mapping[str, str]  # slug → display name
    models: tuple[ModelConfig, ...]

    def by_id(self) -> dict[str, ModelConfig]:
        return {model.id: model for model in self.models}


def parse_price(value: Any, *, model_id: str, field: str, optional: bool) -> Decimal | None:
    """A price as an exact ``Decimal``. Strings and ints are accepted; floats are
    refused because they are not exact."""
    if value is None:
        if optional:
            return None
        raise CatalogError(model_id, field, "is required")
    if isinstance(value, bool | float):
        raise CatalogError(model_id, field, "must be a string or integer (floats are not exact)")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(model_id, field, f"is not a number: {value!r}") from None
    if not price.is_finite() or price < 0:
        raise CatalogError(model_id, field, "must be a non-negative number")
    return price


def _text(entry: Mapping[str, Any], key: str, model_id: str, *, required: bool = False) -> str:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            raise CatalogError(model_id, key, "is required")
        return ""
    if not isinstance(value, str):
        raise CatalogError(model_id, key, "must be a string")
    return value


def _flag(entry: Mapping[str, Any], key: str, model_id: str) -> bool:
    value = entry.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise CatalogError(model_id, key, "must be true or false")
    return value


def _choice(entry: Mapping[str, Any], key: str, model_id: str, choices: tuple[str, ...]) -> str | None:
    value = entry.get(key)
    if value in (None, ""):
        return None
    if value not in choices:
        raise CatalogError(model_id, key, f"must be one of {', '.join(choices)} (got {value!r})")
    return value


def parse_entry(entry: Any, provider_names: Mapping[str, str] | None = None) -> ModelConfig:
    """Validate one catalog entry and return it as a :class:`ModelConfig`."""
    if not isinstance(entry, Mapping):
        raise CatalogError("", "entry", "must be an object")
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not MODEL_ID_PATTERN.match(model_id):
        raise CatalogError(str(model_id or ""), "id", "must look like 'provider:model-name'")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise CatalogError(model_id, unknown[0], "is not a known field")

    provider = _text(entry, "provider", model_id, required=True)
    if not PROVIDER_SLUG_PATTERN.match(provider):
        raise CatalogError(model_id, "provider", "must be a lowercase slug")
    if provider_names is not None and provider not in provider_names:
        raise CatalogError(model_id, "provider", f"unknown provider {provider!r}")

    context_window = entry.get("context_window")
    if not isinstance(context_window, int) or isinstance(context_window, bool) or context_window <= 0:
        raise CatalogError(model_id, "context_window", "must be a positive integer")

    pricing_raw = entry.get("pricing")
    if not isinstance(pricing_raw, Mapping):
        raise CatalogError(model_id, "pricing", "must be an object")
    unknown = sorted(set(pricing_raw) - _PRICING_KEYS)
    if unknown:
        raise CatalogError(model_id, f"pricing.{unknown[0]}", "is not a known price")
    pricing = Pricing(
        input=parse_price(pricing_raw.get("input"), model_id=model_id, field="pricing.input", optional=False),
        output=parse_price(
            pricing_raw.get("output"), model_id=model_id, field="pricing.output", optional=False
        ),
        cached_input=parse_price(
            pricing_raw.get("cached_input"), model_id=model_id, field="pricing.cached_input", optional=True
        ),
        reasoning=parse_price(
            pricing_raw.get("reasoning"), model_id=model_id, field="pricing.reasoning", optional=True
        ),
    )

    capabilities = entry.get("capabilities") or []
    if not isinstance(capabilities, list) or any(cap not in CAPABILITIES for cap in capabilities):
        raise CatalogError(model_id, "capabilities", f"must be a list of {', '.join(CAPABILITIES)}")

    reasoning = entry.get("reasoning")
    problems = reasoning_config_errors(reasoning)
    if problems:
        raise CatalogError(model_id, "reasoning", "; ".join(problems))

    host_order = entry.get("host_order") or []
    if not isinstance(host_order, list) or not all(isinstance(h, str) and h for h in host_order):
        raise CatalogError(model_id, "host_order", "must be a list of host names")
    if len(set(host_order)) != len(host_order):
        raise CatalogError(model_id, "host_order", "lists a host twice")

    benchmarks = entry.get("benchmarks")
    if benchmarks is not None and not isinstance(benchmarks, Mapping):
        raise CatalogError(model_id, "benchmarks", "must be an object")

    status = entry.get("status", "active")
    if status not in STATUSES:
        raise CatalogError(model_id, "status", f"must be one of {', '.join(STATUSES)} (got {status!r})")

    return ModelConfig(
        id=model_id,
        provider=provider,
        provider_name=(provider_names or {}).get(provider, provider),
        name=_text(entry, "name", model_id, required=True),
        description=_text(entry, "description", model_id),
        context_window=context_window,
        actual_model_id=_text(entry, "actual_model_id", model_id) or None,
        is_local=_flag(entry, "is_local", model_id),
        pricing=pricing,
        capabilities=frozenset(capabilities),
        reasoning=freeze_json(reasoning),
        gateway=_choice(entry, "gateway", model_id, GATEWAYS),
        host_order=tuple(host_order),
        knowledge_cutoff=_text(entry, "knowledge_cutoff", model_id) or None,
        user_friendly_description=_text(entry, "user_friendly_description", model_id),
        best_for=_text(entry, "best_for", model_id),
        benchmarks=freeze_json(benchmarks),
        speed_tier=_choice(entry, "speed_tier", model_id, SPEED_TIERS),
        is_pro=_flag(entry, "is_pro", model_id),
        is_internal_only=_flag(entry, "is_internal_only", model_id),
        is_experimental=_flag(entry, "is_experimental", model_id),
        status=status,
    )


def parse_catalog(document: Any) -> StaticCatalog:
    """Validate a whole catalog document (``{"providers": [...], "models": [...]}``)."""
    if not isinstance(document, Mapping):
        raise CatalogError("", "document", "must be an object with 'providers' and 'models'")
    providers: dict[str, str] = {}
    for item in document.get("providers") or []:
        if not isinstance(item, Mapping) or not PROVIDER_SLUG_PATTERN.match(str(item.get("slug", ""))):
            raise CatalogError("", "providers", f"bad provider entry {item!r}")
        providers[item["slug"]] = str(item.get("name") or item["slug"])
    raw_models = document.get("models")
    if not isinstance(raw_models, list):
        raise CatalogError("", "models", "must be a list")
    models: list[ModelConfig] = []
    seen: set[str] = set()
    for entry in raw_models:
        config = parse_entry(entry, providers)
        if config.id in seen:
            raise CatalogError(config.id, "id", "appears twice in the catalog")
        seen.add(config.id)
        models.append(config)
    return StaticCatalog(providers=providers, models=tuple(models))


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
