"""How field values read in diffs, messages and the change log. Pure Python."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from models_registry.domain.types import format_money


def describe_value(value: Any) -> str:
    """A field value as people read it in messages and diffs (exact prices, compact JSON)."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, Decimal):
        return format_money(value) or "0"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=isinstance(value, dict))
    return str(value)


def describe_field_value(field: Any, value: Any) -> str:
    """``value`` of a model field as people read it: the model's own wording (``describe_field``,
    e.g. price tiers in words) when it has one, else :func:`describe_value`."""
    model = getattr(field, "model", None)
    describe = getattr(model, "describe_field", None)
    described = describe(field.name, value) if describe is not None else None
    return describe_value(value) if described is None else described


def error_lines(error: ValidationError) -> list[str]:
    """A ValidationError as readable lines, field names included (for pages, commands and reports)."""
    if hasattr(error, "error_dict"):
        return [
            message if name == "__all__" else f"{name}: {message}"
            for name, field_messages in error.message_dict.items()
            for message in field_messages
        ]
    return list(error.messages)
