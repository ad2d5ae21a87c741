"""Every field of a catalog model, declared once. Pure Python, no ORM.

One :class:`CatalogField` per ``AIModel`` column says where the value lives in
the JSON files (the static catalog, import and export), in the read type
(:class:`~models_registry.domain.types.ModelConfig`) and in the admin form
(its fieldset), how a file value is read, and the rules a value must obey.
Everything else derives from :data:`CATALOG_FIELDS`: the read type's
attributes, the file parser, the row ↔ read-type conversions, the import's
diff and error keys, parity, export and the admin's fieldsets. The model's
``clean()`` and the file parser both call :func:`value_errors`, so a rule is
written once.

Adding a field: add the column to ``AIModel`` (and its migration), then one
line here. A file key with a dot (``pricing.x``) lives in the ``pricing``
object of the files and on :class:`~models_registry.domain.values.Pricing`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from models_registry.domain.reasoning import reasoning_config_errors
from models_registry.domain.values import (
    CAPABILITIES,
    GATEWAYS,
    SPEED_TIERS,
    STATUSES,
    Pricing,
    format_money,
    freeze_json,
    thaw_json,
)

MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*:[A-Za-z0-9][A-Za-z0-9._/-]*$")
PROVIDER_SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def printable(text: str) -> str:
    """``text`` safe to show on a page or a terminal: lone surrogates become ``\\udxxx`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class CatalogError(ValueError):
    """A catalog entry is invalid. Names the model and the field (as the file spells it)."""

    def __init__(self, model_id: str, field: str, message: str) -> None:
        # What a file says is echoed back to its author: keep it printable.
        model_id, field, message = printable(model_id), printable(field), printable(message)
        self.model_id = model_id
        self.field = field
        self.message = message
        super().__init__(f"{model_id or '<no id>'}: {field}: {message}")


class _Problem(ValueError):
    """A file value of the wrong shape; the caller adds the model and the field."""


# --- value rules: one place for what a stored value must be ----------------------

# A rule returns what is wrong with a stored value (one message or several), or None.
Rule = Callable[[Any], str | list[str] | None]


def _non_negative(value: Any) -> str | None:
    if value is not None and (not isinstance(value, Decimal) or not value.is_finite() or value < 0):
        return "must be a non-negative number"
    return None


def _positive(value: Any) -> str | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        return "must be a positive integer"
    return None


def _one_of(choices: tuple[str, ...], *, blank: bool) -> Rule:
    def rule(value: Any) -> str | None:
        if (blank and value in ("", None)) or value in choices:
            return None
        return f"must be one of {', '.join(choices)} (got {value!r})"

    return rule


def _reasoning(value: Any) -> list[str] | None:
    return reasoning_config_errors(value) or None


def _host_list(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(host, str) and host.strip() for host in value):
        return "must be a list of host names"
    if len(set(value)) != len(value):
        return "lists a host twice"
    return None


def _matches(pattern: re.Pattern[str], message: str) -> Rule:
    def rule(value: Any) -> str | None:
        return None if isinstance(value, str) and pattern.match(value) else message

    return rule


def _json_object(value: Any) -> str | None:
    return None if value is None or isinstance(value, Mapping) else "must be an object"


# --- kinds: how a value reads from a file, and maps between column and read type --


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise _Problem("must be a string")
    return value


def _required_text(value: Any) -> str:
    text = _text(value)
    if not text:
        raise _Problem("is required")
    return text


def _flag(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _Problem("must be true or false")
    return value


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Problem("must be a positive integer")
    return value


def parse_price(value: Any) -> Decimal | None:
    """A price as an exact ``Decimal``: strings and ints only (floats are not exact)."""
    if value is None:
        return None
    if isinstance(value, bool | float):
        raise _Problem("must be a string or integer (floats are not exact)")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise _Problem(f"is not a number: {value!r}") from None


def _required_price(value: Any) -> Decimal:
    price = parse_price(value)
    if price is None:
        raise _Problem("is required")
    return price


def _as_is(value: Any) -> Any:
    return value


def _list(value: Any) -> Any:
    return value or []  # null, "" and the like mean "no hosts"


def _blank_to_none(value: Any) -> Any:
    return value or None


def _none_to_blank(value: Any) -> Any:
    return value or ""


@dataclass(frozen=True, slots=True)
class Kind:
    annotation: str  # the read type's annotation
    default: Any  # the read type's default (MISSING: required)
    parse: Callable[[Any], Any]  # file value → column value (shape only; rules come after)
    to_read: Callable[[Any], Any] = _as_is  # column value → read-type value
    to_column: Callable[[Any], Any] = _as_is  # read-type value → column value
    to_file: Callable[[Any], Any] = _as_is  # read-type value → file value
    absent: Any = None  # the file value a missing key stands for


MODEL_ID = Kind("str", MISSING, _required_text)
PROVIDER = Kind("str", MISSING, _required_text)
REQUIRED_TEXT = Kind("str", MISSING, _required_text)
TEXT = Kind("str", "", _text)
OPTIONAL_TEXT = Kind("str | None", None, _text, _blank_to_none, _none_to_blank)
COUNT = Kind("int", MISSING, _integer)
FLAG = Kind("bool", False, _flag)
CHOICE = Kind("str | None", None, _text, _blank_to_none, _none_to_blank)
STATUS = Kind("str", "active", _as_is, absent="active")  # missing: active; an explicit null is refused
PRICE = Kind("Decimal", MISSING, _required_price, to_file=format_money)
OPTIONAL_PRICE = Kind("Decimal | None", None, parse_price, to_file=format_money)
CAPABILITY = Kind("bool", False, _flag)
JSON = Kind("Mapping[str, Any] | None", None, _as_is, freeze_json, thaw_json, thaw_json)
HOSTS = Kind("tuple[str, ...]", (), _list, lambda value: tuple(value or ()), list, list)


@dataclass(frozen=True, slots=True)
class CatalogField:
    column: str  # the AIModel column (and admin form field)
    file_key: str  # key in the JSON files; "pricing.input" lives under "pricing"
    fieldset: str  # the admin change form's section
    kind: Kind
    rules: tuple[Rule, ...] = ()
    capability: str | None = None  # capability flags: the name in the "capabilities" list

    @property
    def read_name(self) -> str:
        """The read type's attribute (a nested key names the group: pricing, capabilities)."""
        return "capabilities" if self.capability else self.file_key.split(".", 1)[0]


_model_id = _matches(MODEL_ID_PATTERN, "must look like 'provider:model-name'")
_provider_slug = _matches(PROVIDER_SLUG_PATTERN, "must be a lowercase slug")

IDENTITY, PRICING, CAPS = "Identity", "Pricing (USD per 1M tokens)", "Capabilities"
ROUTING, DISPLAY, ACCESS = "Routing", "Display", "Access"

# In the order of the files' keys (export, the static catalog, ModelConfig.to_dict()).
CATALOG_FIELDS: tuple[CatalogField, ...] = (
    CatalogField("model_id", "id", IDENTITY, MODEL_ID, (_model_id,)),
    CatalogField("provider", "provider", IDENTITY, PROVIDER, (_provider_slug,)),
    CatalogField("name", "name", IDENTITY, REQUIRED_TEXT),
    CatalogField("description", "description", IDENTITY, TEXT),
    CatalogField("context_window", "context_window", IDENTITY, COUNT, (_positive,)),
    CatalogField("actual_model_id", "actual_model_id", ROUTING, OPTIONAL_TEXT),
    CatalogField("is_local", "is_local", ROUTING, FLAG),
    CatalogField("input_price", "pricing.input", PRICING, PRICE, (_non_negative,)),
    CatalogField("output_price", "pricing.output", PRICING, PRICE, (_non_negative,)),
    CatalogField("cached_input_price", "pricing.cached_input", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("reasoning_price", "pricing.reasoning", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("supports_vision", "capabilities", CAPS, CAPABILITY, capability="vision"),
    CatalogField(
        "supports_function_calling", "capabilities", CAPS, CAPABILITY, capability="function-calling"
    ),
    CatalogField("supports_thinking", "capabilities", CAPS, CAPABILITY, capability="thinking"),
    CatalogField(
        "supports_extended_thinking", "capabilities", CAPS, CAPABILITY, capability="extended-thinking"
    ),
    CatalogField(
        "supports_image_generation", "capabilities", CAPS, CAPABILITY, capability="image-generation"
    ),
    CatalogField("reasoning_config", "reasoning", "Reasoning", JSON, (_reasoning,)),
    CatalogField("gateway", "gateway", ROUTING, CHOICE, (_one_of(GATEWAYS, blank=True),)),
    CatalogField("host_order", "host_order", ROUTING, HOSTS, (_host_list,)),
    CatalogField("knowledge_cutoff", "knowledge_cutoff", DISPLAY, OPTIONAL_TEXT),
    CatalogField("user_friendly_description", "user_friendly_description", DISPLAY, TEXT),
    CatalogField("best_for", "best_for", DISPLAY, TEXT),
    CatalogField("benchmarks", "benchmarks", DISPLAY, JSON, (_json_object,)),
    CatalogField("speed_tier", "speed_tier", DISPLAY, CHOICE, (_one_of(SPEED_TIERS, blank=True),)),
    CatalogField("is_pro", "is_pro", ACCESS, FLAG),
    CatalogField("is_internal_only", "is_internal_only", ACCESS, FLAG),
    CatalogField("is_experimental", "is_experimental", ACCESS, FLAG),
    CatalogField("status", "status", "Status", STATUS, (_one_of(STATUSES, blank=False),)),
)

BY_COLUMN: dict[str, CatalogField] = {field.column: field for field in CATALOG_FIELDS}
COLUMNS: tuple[str, ...] = tuple(BY_COLUMN)
# What an editor sets (form, import, revert): everything but the id.
EDITABLE_COLUMNS: tuple[str, ...] = tuple(column for column in COLUMNS if column != "model_id")
# Capability flag column → capability name, in declaration order.
CAPABILITY_COLUMNS: dict[str, str] = {f.column: f.capability for f in CATALOG_FIELDS if f.capability}
PRICE_FIELDS: dict[str, CatalogField] = {
    f.file_key.split(".", 1)[1]: f for f in CATALOG_FIELDS if f.file_key.startswith("pricing.")
}
# Top-level keys of a file entry, in the order files are written; each is also a read-type attribute.
FILE_KEYS: tuple[str, ...] = tuple(dict.fromkeys(field.read_name for field in CATALOG_FIELDS))
# Where a column lives in a file, so errors name what the user wrote.
FILE_KEY_FOR_COLUMN: dict[str, str] = {field.column: field.file_key for field in CATALOG_FIELDS}
# The admin change form's sections, in this order; each lists its columns in declaration order.
SECTIONS: tuple[str, ...] = (IDENTITY, PRICING, CAPS, "Reasoning", ROUTING, DISPLAY, ACCESS, "Status")
FIELDSETS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (title, tuple(f.column for f in CATALOG_FIELDS if f.fieldset == title)) for title in SECTIONS
)

assert tuple(CAPABILITY_COLUMNS.values()) == CAPABILITIES, "declare every capability, in order"
assert {field.fieldset for field in CATALOG_FIELDS} == set(SECTIONS), "every field's section is listed"
assert set(PRICE_FIELDS) == set(Pricing.__dataclass_fields__), "Pricing holds exactly the declared prices"


MAX_JSON_DEPTH = 32


def storable_problem(value: Any, depth: int = 0) -> str | None:
    """What no database column can hold: NUL characters, lone surrogates, non-finite numbers,
    over-deep nesting. Checked for every field before its own rules."""
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (it contains a lone surrogate)"
        return None
    if isinstance(value, Decimal):
        return None if value.is_finite() else "must be a finite number"
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_JSON_DEPTH:
            return f"is nested deeper than {MAX_JSON_DEPTH} levels"
        items = [*value.keys(), *value.values()] if isinstance(value, Mapping) else list(value)
        for item in items:
            problem = storable_problem(item, depth + 1)
            if problem:
                return problem
    return None


def value_errors(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every rule broken by ``values`` (column → stored value), per column. Columns absent are skipped."""
    errors: dict[str, list[str]] = {}
    for column, value in values.items():
        field = BY_COLUMN.get(column)
        problem = storable_problem(value)
        if problem:
            errors[column] = [problem]
            continue
        for rule in field.rules if field else ():
            problem = rule(value)
            if problem:
                errors.setdefault(column, []).extend([problem] if isinstance(problem, str) else problem)
    return errors


# --- files → columns → read type, and back ------------------------------------------


def columns_from_entry(entry: Mapping[str, Any], model_id: str) -> dict[str, Any]:
    """Read one file entry into column values (``provider`` as its slug), checking shapes and rules.

    Raises :class:`CatalogError` naming the first bad field as the file spells it.
    """
    unknown = sorted(set(entry) - set(FILE_KEYS))
    if unknown:
        raise CatalogError(model_id, unknown[0], "is not a known field")
    pricing = entry.get("pricing")
    if not isinstance(pricing, Mapping):
        raise CatalogError(model_id, "pricing", "must be an object")
    unknown = sorted(set(pricing) - set(PRICE_FIELDS))
    if unknown:
        raise CatalogError(model_id, f"pricing.{unknown[0]}", "is not a known price")
    capabilities = entry.get("capabilities") or []
    if not isinstance(capabilities, list) or any(name not in CAPABILITIES for name in capabilities):
        raise CatalogError(model_id, "capabilities", f"must be a list of {', '.join(CAPABILITIES)}")

    columns: dict[str, Any] = {}
    for field in CATALOG_FIELDS:
        if field.capability:
            columns[field.column] = field.capability in capabilities
            continue
        group, _, key = field.file_key.partition(".")
        raw = pricing.get(key, field.kind.absent) if key else entry.get(group, field.kind.absent)
        try:
            value = field.kind.parse(raw)
        except _Problem as problem:
            raise CatalogError(model_id, field.file_key, str(problem)) from None
        storable = storable_problem(value)
        if storable:
            raise CatalogError(model_id, field.file_key, storable)
        for rule in field.rules:
            problem = rule(value)
            if problem:
                raise CatalogError(
                    model_id, field.file_key, problem if isinstance(problem, str) else "; ".join(problem)
                )
        columns[field.column] = value
    return columns


def read_values_from_columns(get: Callable[[str], Any]) -> dict[str, Any]:
    """Keyword arguments of the read type, from a column getter (a row's attribute, a dict's item)."""
    values: dict[str, Any] = {}
    prices: dict[str, Any] = {}
    capabilities = []
    for field in CATALOG_FIELDS:
        value = get(field.column)
        if field.capability:
            if value:
                capabilities.append(field.capability)
        elif field.file_key.startswith("pricing."):
            prices[field.file_key.split(".", 1)[1]] = field.kind.to_read(value)
        else:
            values[field.read_name] = field.kind.to_read(value)
    values["pricing"] = Pricing(**prices)
    values["capabilities"] = frozenset(capabilities)
    return values


def columns_from_read(config: Any) -> dict[str, Any]:
    """Column values of a read object (``provider`` as its slug)."""
    columns = {}
    for field in CATALOG_FIELDS:
        if field.capability:
            columns[field.column] = field.capability in config.capabilities
        elif field.file_key.startswith("pricing."):
            columns[field.column] = getattr(config.pricing, field.file_key.split(".", 1)[1])
        else:
            columns[field.column] = field.kind.to_column(getattr(config, field.read_name))
    return columns


def field_values_from_config(config: Any) -> dict[str, Any]:
    """Column values for an ``AIModel`` built from a config (everything but ``provider``)."""
    columns = columns_from_read(config)
    del columns["provider"]
    return columns


def file_entry(config: Any) -> dict[str, Any]:
    """One model in the files' shape (static catalog, import, export), keys in file order."""
    entry: dict[str, Any] = {}
    for field in CATALOG_FIELDS:
        if field.capability:
            entry.setdefault("capabilities", [])
            if field.capability in config.capabilities:
                entry["capabilities"].append(field.capability)
        elif field.file_key.startswith("pricing."):
            key = field.file_key.split(".", 1)[1]
            entry.setdefault("pricing", {})[key] = field.kind.to_file(getattr(config.pricing, key))
        else:
            entry[field.read_name] = field.kind.to_file(getattr(config, field.read_name))
    return entry


def read_type_fields() -> list[tuple[str, str, Any]]:
    """``(name, annotation, default)`` of the read type's attributes, required ones first."""
    specs: dict[str, tuple[str, Any]] = {}
    for field in CATALOG_FIELDS:
        if field.capability:
            specs["capabilities"] = ("frozenset[str]", frozenset())
        elif field.file_key.startswith("pricing."):
            specs["pricing"] = ("Pricing", MISSING)
        else:
            specs[field.read_name] = (field.kind.annotation, field.kind.default)
    required = [(name, ann, MISSING) for name, (ann, default) in specs.items() if default is MISSING]
    optional = [(name, ann, default) for name, (ann, default) in specs.items() if default is not MISSING]
    return required + optional
