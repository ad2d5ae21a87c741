"""The catalog's fields as the database stores them, derived from the read type. Pure Python."""

from __future__ import annotations

from typing import Any

from models_registry.domain.types import CAPABILITY_FIELDS, ModelConfig, thaw_json


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
