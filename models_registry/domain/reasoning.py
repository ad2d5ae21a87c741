"""Shapes of the provider reasoning configs, and their validation.

Pure Python: used by the model's ``clean()``, the static catalog loader and
the importers alike, so a config is judged the same way wherever it enters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EFFORT_LEVELS = ("low", "medium", "high")


def _is_str_mapping(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _is_int_mapping(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in value.items()
    )


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


# type → {key: (required, check, description)}
REASONING_SHAPES: dict[str, dict[str, tuple[bool, Any, str]]] = {
    "openai-reasoning-effort": {
        "effortMapping": (True, _is_str_mapping, "an object of effort level → provider effort"),
        "summaryLevel": (False, _is_str, "a non-empty string"),
        "useResponsesAPI": (False, _is_bool, "true or false"),
    },
    "anthropic-extended-thinking": {
        "budgetMapping": (True, _is_int_mapping, "an object of effort level → token budget"),
        "betaHeader": (False, _is_str, "a non-empty string"),
    },
    "google-thinking-level": {
        "levelMapping": (True, _is_str_mapping, "an object of effort level → thinking level"),
        "includeThoughts": (False, _is_bool, "true or false"),
    },
    "google-thinking-budget": {
        "budgetMapping": (True, _is_int_mapping, "an object of effort level → token budget"),
    },
    "deepseek-tag-extraction": {
        "tagName": (True, _is_str, "a non-empty string"),
        "applyMiddleware": (False, _is_bool, "true or false"),
    },
    "generic-reasoning-effort": {
        "effortMapping": (False, _is_str_mapping, "an object of effort level → provider effort"),
    },
}
REASONING_TYPES: tuple[str, ...] = tuple(REASONING_SHAPES)


def reasoning_config_errors(config: Any) -> list[str]:
    """Every problem with a reasoning config, as readable sentences. ``None`` is valid (no reasoning)."""
    if config is None:
        return []
    if not isinstance(config, Mapping):
        return ["must be an object with a 'type' key, or empty"]
    kind = config.get("type")
    if not isinstance(kind, str) or kind not in REASONING_SHAPES:
        return [f"'type' must be one of {', '.join(REASONING_TYPES)} (got {kind!r})"]
    shape = REASONING_SHAPES[kind]
    errors = []
    for key, (required, check, description) in shape.items():
        if key not in config:
            if required:
                errors.append(f"{kind} requires '{key}'")
        elif not check(config[key]):
            errors.append(f"'{key}' must be {description}")
    unknown = sorted(str(key) for key in set(config) - set(shape) - {"type"})
    if unknown:
        errors.append(f"unknown key(s) for {kind}: {', '.join(unknown)}")
    return errors
