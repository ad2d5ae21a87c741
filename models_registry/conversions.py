"""Mapping between ``AIModel`` rows and ``ModelConfig`` read objects.

The one place that knows how columns map to the read type, so both sources
produce equal configs. No queries here: pass rows with ``provider`` loaded
(``select_related("provider")``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .types import CAPABILITY_FIELDS, ModelConfig, Pricing, freeze_json, thaw_json

if TYPE_CHECKING:
    from .models import AIModel


def config_from_model(row: AIModel) -> ModelConfig:
    """The read view of one database row."""
    return ModelConfig(
        id=row.model_id,
        provider=row.provider.slug,
        provider_name=row.provider.name,
        name=row.name,
        description=row.description,
        context_window=row.context_window,
        actual_model_id=row.actual_model_id or None,
        is_local=row.is_local,
        pricing=Pricing(
            input=row.input_price,
            output=row.output_price,
            cached_input=row.cached_input_price,
            reasoning=row.reasoning_price,
        ),
        capabilities=row.capabilities,
        reasoning=freeze_json(row.reasoning_config),
        gateway=row.gateway or None,
        host_order=tuple(row.host_order or ()),
        knowledge_cutoff=row.knowledge_cutoff or None,
        user_friendly_description=row.user_friendly_description,
        best_for=row.best_for,
        benchmarks=freeze_json(row.benchmarks),
        speed_tier=row.speed_tier or None,
        is_pro=row.is_pro,
        is_internal_only=row.is_internal_only,
        is_experimental=row.is_experimental,
        status=row.status,
    )


def field_values_from_config(config: ModelConfig) -> dict[str, Any]:
    """Column values for an ``AIModel`` built from a config (everything but ``provider``)."""

    values: dict[str, Any] = {
        "model_id": config.id,
        "name": config.name,
        "description": config.description,
        "context_window": config.context_window,
        "actual_model_id": config.actual_model_id or "",
        "is_local": config.is_local,
        "input_price": config.pricing.input,
        "output_price": config.pricing.output,
        "cached_input_price": config.pricing.cached_input,
        "reasoning_price": config.pricing.reasoning,
        "reasoning_config": thaw_json(config.reasoning),
        "gateway": config.gateway or "",
        "host_order": list(config.host_order),
        "knowledge_cutoff": config.knowledge_cutoff or "",
        "user_friendly_description": config.user_friendly_description,
        "best_for": config.best_for,
        "benchmarks": thaw_json(config.benchmarks),
        "speed_tier": config.speed_tier or "",
        "is_pro": config.is_pro,
        "is_internal_only": config.is_internal_only,
        "is_experimental": config.is_experimental,
        "status": config.status,
    }
    for field, capability in CAPABILITY_FIELDS.items():
        values[field] = capability in config.capabilities
    return values
