"""Mapping between ``AIModel`` rows and ``ModelConfig`` read objects.

The one place that knows how columns map to the read type, so both sources
produce equal configs. No queries here: pass rows with ``provider`` loaded
(``select_related("provider")``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models_registry.domain.types import ModelConfig, Pricing, freeze_json

if TYPE_CHECKING:
    from models_registry.catalog.models import AIModel


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
