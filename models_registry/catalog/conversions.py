"""Mapping between ``AIModel`` rows and ``ModelConfig`` read objects, derived from the field declaration.

No queries here: pass rows with ``provider`` loaded (``select_related("provider")``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from models_registry.domain.fields import read_values_from_columns
from models_registry.domain.types import ModelConfig

if TYPE_CHECKING:
    from models_registry.catalog.models import AIModel


def config_from_model(row: AIModel) -> ModelConfig:
    """The read view of one database row."""

    def column(name: str) -> Any:
        return row.provider.slug if name == "provider" else getattr(row, name)

    provider = row.provider
    return ModelConfig(
        **read_values_from_columns(column),
        provider_name=provider.name,
        provider_first_party=provider.first_party,
    )
