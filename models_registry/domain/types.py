"""The read type of the registry: ``ModelConfig``, and the plain values it is made of.

Plain, frozen Python objects with no ORM inside. Both the static catalog and
the database are turned into these, so the chat app cannot tell (and does not
care) which source served a read. ``ModelConfig``'s attributes are generated
from the field declaration (:mod:`models_registry.domain.fields`), so a new
catalog field reaches the read type without being restated here.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from datetime import UTC, date, datetime
from typing import Any

from models_registry.domain.fields import CAPABILITY_COLUMNS, EDITABLE_COLUMNS, file_entry, read_type_fields
from models_registry.domain.values import (
    CAPABILITIES,
    GATEWAYS,
    SELECTABLE_STATUSES,
    SPEED_TIERS,
    STATUSES,
    FieldChange,
    Pricing,
    format_money,
    freeze_json,
    thaw_json,
)

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_FIELDS",
    "EDITABLE_MODEL_FIELDS",
    "GATEWAYS",
    "SELECTABLE_STATUSES",
    "SPEED_TIERS",
    "STATUSES",
    "FieldChange",
    "ModelConfig",
    "Pricing",
    "format_money",
    "freeze_json",
    "thaw_json",
]

# AIModel boolean column → capability name used by the chat app.
CAPABILITY_FIELDS: dict[str, str] = CAPABILITY_COLUMNS
# AIModel columns an editor sets (form, import, revert): everything but the id.
EDITABLE_MODEL_FIELDS: tuple[str, ...] = EDITABLE_COLUMNS


class ModelConfigBehaviour:
    """What every ``ModelConfig`` can tell besides its declared fields."""

    __slots__ = ()

    @property
    def supports_vision(self) -> bool:
        return "vision" in self.capabilities

    @property
    def supports_function_calling(self) -> bool:
        return "function-calling" in self.capabilities

    @property
    def supports_thinking(self) -> bool:
        return "thinking" in self.capabilities

    @property
    def supports_extended_thinking(self) -> bool:
        return "extended-thinking" in self.capabilities

    @property
    def supports_image_generation(self) -> bool:
        return "image-generation" in self.capabilities

    @property
    def is_selectable(self) -> bool:
        """Whether a user may pick it: active or beta and not past its deprecation date
        (internal-only is a separate flag)."""
        return self.is_selectable_on(datetime.now(UTC).date())

    def is_selectable_on(self, day: date) -> bool:
        return self.status in SELECTABLE_STATUSES and not self.is_past_deprecation(day)

    def is_past_deprecation(self, day: date) -> bool:
        """Whether ``deprecation_date`` (a UTC day) has come: treated as deprecated for selection."""
        return self.deprecation_date is not None and self.deprecation_date <= day

    def pricing_at(self, at: datetime | None = None) -> tuple[Pricing, datetime | None]:
        """The prices in force at ``at`` (default now) and when they took effect.

        The latest timeline entry that took effect by ``at``; before the first
        one (or without a timeline) the listed prices, with ``None``.
        """
        schedule = self.price_schedule
        if not schedule:
            return self.pricing, None
        moment = datetime.now(UTC) if at is None else at
        if moment.tzinfo is None:
            raise ValueError("at must be an aware datetime (UTC), not a naive one")
        position = bisect_right(schedule, moment, key=_effective_from)
        if position == 0:
            return self.pricing, None
        entry = schedule[position - 1]
        return entry.pricing, entry.effective_from

    @property
    def api_model_id(self) -> str:
        """The id sent to the provider."""
        return self.actual_model_id or self.id.split(":", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (prices as exact strings): the file entry plus the provider's name."""
        entry = file_entry(self)
        head = {"id": entry.pop("id"), "provider": entry.pop("provider"), "provider_name": self.provider_name}
        return {**head, **entry}


def _effective_from(entry: Any) -> datetime:
    return entry.effective_from


def _build_model_config() -> type:
    specs = [
        (name, annotation) if default is dataclasses.MISSING else (name, annotation, default)
        for name, annotation, default in read_type_fields()
    ]
    specs.append(("provider_name", "str", ""))
    # Whether the provider makes the model (True) or resells it (a cloud or an aggregator):
    # search ranks first-party models first among equal matches.
    specs.append(("provider_first_party", "bool", True))
    cls = dataclasses.make_dataclass(
        "ModelConfig", specs, bases=(ModelConfigBehaviour,), frozen=True, slots=True
    )
    cls.__module__ = __name__
    cls.__doc__ = "One model of the catalog, as the chat app reads it (attributes: see domain.fields)."
    return cls


ModelConfig = _build_model_config()
