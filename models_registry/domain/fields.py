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

import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from models_registry.domain.reasoning import reasoning_config_errors
from models_registry.domain.values import (
    CAPABILITIES,
    GATEWAYS,
    SERVICE_TIERS,
    SPEED_TIERS,
    STATUSES,
    TIER_PRICE_KEYS,
    PriceTier,
    Pricing,
    RequestFee,
    ScheduledPrice,
    ServiceTierPrice,
    format_money,
    freeze_json,
    thaw_json,
)

# One rule for provider slugs everywhere (the provider form, the files, the sync): lowercase letters,
# digits, "-" and "_" (upstream sources name providers "fireworks_ai", "vertex_ai").
PROVIDER_SLUG = r"[a-z0-9][a-z0-9_-]*"
PROVIDER_SLUG_PATTERN = re.compile(rf"^{PROVIDER_SLUG}$")
PROVIDER_SLUG_MESSAGE = "must be a lowercase slug: letters, digits, '-' and '_'"
MODEL_ID_PATTERN = re.compile(rf"^{PROVIDER_SLUG}:[A-Za-z0-9][A-Za-z0-9._/-]*$")


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
        self.problems: list[CatalogError] = [self]  # every problem of the entry (columns_from_entry)
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


# --- prices kept as JSON (fees, tiers, service tiers, the schedule) ----------------
# The column holds the canonical file form: prices as exact decimal strings, keys sorted
# by declaration. Parsing a file value yields that form, so a stored value re-parses to
# itself and the parser is also the rule that checks a column value from a form.

PRICE_MAX_DIGITS, PRICE_DECIMAL_PLACES = 12, 6  # as the price columns
# Per 1, 10, 100, ... requests: dividing by a power of ten is exact.
_FEE_KEY = re.compile(r"^([a-z][a-z0-9_]*?)_per_(10{0,8})$")


def _price_text(value: Any, where: str) -> str:
    """A non-negative price as canonical text; beyond the stored precision is refused, never rounded."""
    try:
        price = parse_price(value)
    except _Problem as problem:
        raise _Problem(f"{where} {problem}") from None
    if price is None:
        raise _Problem(f"{where} is required")
    if not price.is_finite() or price < 0:
        raise _Problem(f"{where} must be a non-negative number")
    places = max(-int(price.normalize().as_tuple().exponent), 0)
    whole_digits = price.adjusted() + 1 if price else 0  # "1e15" has 16, not 1
    if places > PRICE_DECIMAL_PLACES or whole_digits > PRICE_MAX_DIGITS - PRICE_DECIMAL_PLACES:
        raise _Problem(
            f"{where} has more precision than stored ({PRICE_DECIMAL_PLACES} decimal places, "
            f"{PRICE_MAX_DIGITS} digits): {value!r}"
        )
    return format_money(price)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Problem(f"{what} must be an object")
    return value


def _whole_number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Problem(f"{where} must be a positive integer")
    return value


def _request_fees(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    fees = _object(value, 'must be an object such as {"web_search_per_1000": "10"};')
    canonical = {}
    for key in sorted(fees):
        if not isinstance(key, str) or not _FEE_KEY.match(key):
            raise _Problem(
                f"key {key!r} must look like '<kind>_per_<1, 10, 100, ...>', e.g. 'web_search_per_1000'"
            )
        canonical[key] = _price_text(fees[key], key)
    return canonical


def _fees_to_read(value: Any) -> tuple[RequestFee, ...]:
    fees = []
    for key, price in (value or {}).items():
        kind, per = _FEE_KEY.match(key).groups()
        fees.append(RequestFee(kind=kind, per=int(per), price=Decimal(price)))
    return tuple(fees)


def _fees_to_file(fees: tuple[RequestFee, ...]) -> dict[str, str]:
    return {f"{fee.kind}_per_{fee.per}": format_money(fee.price) for fee in fees}


def _tiers(value: Any) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise _Problem('must be a list of tiers such as {"above_input_tokens": 200000, "input": "2.5"}')
    canonical, previous = [], 0
    for position, tier in enumerate(value, start=1):
        tier = _object(tier, f"tier {position}")
        unknown = sorted(set(tier) - {"above_input_tokens", *TIER_PRICE_KEYS})
        if unknown:
            raise _Problem(
                f"tier {position}: {unknown[0]!r} is not a tier price ({', '.join(TIER_PRICE_KEYS)})"
            )
        above = _whole_number(tier.get("above_input_tokens"), f"tier {position}: above_input_tokens")
        if above <= previous:
            raise _Problem(
                f"tier {position}: above_input_tokens must be greater than the tier before ({previous})"
            )
        previous = above
        row: dict[str, Any] = {"above_input_tokens": above}
        for key in TIER_PRICE_KEYS:
            if tier.get(key) is not None:
                row[key] = _price_text(tier[key], f"tier {position}: {key}")
        canonical.append(row)
    return canonical


def _tiers_to_read(value: Any) -> tuple[PriceTier, ...]:
    return tuple(
        PriceTier(
            above_input_tokens=row["above_input_tokens"],
            **{key: Decimal(row[key]) for key in TIER_PRICE_KEYS if key in row},
        )
        for row in value or ()
    )


def _tiers_to_file(tiers: tuple[PriceTier, ...]) -> list[dict[str, Any]]:
    rows = []
    for tier in tiers:
        row: dict[str, Any] = {"above_input_tokens": tier.above_input_tokens}
        for key in TIER_PRICE_KEYS:
            if getattr(tier, key) is not None:
                row[key] = format_money(getattr(tier, key))
        rows.append(row)
    return rows


def _scalar_price_keys() -> tuple[str, ...]:
    return tuple(key for key, field in PRICE_FIELDS.items() if field.kind in (PRICE, OPTIONAL_PRICE))


def _service_tiers(value: Any) -> dict[str, dict[str, str]]:
    if value in (None, ""):
        return {}
    tiers = _object(value, 'must be an object such as {"batch": {"multiplier": "0.5"}};')
    canonical = {}
    for name in sorted(tiers, key=lambda name: SERVICE_TIERS.index(name) if name in SERVICE_TIERS else -1):
        if name not in SERVICE_TIERS:
            raise _Problem(f"{name!r} is not a service tier ({', '.join(SERVICE_TIERS)})")
        tier = _object(tiers[name], name)
        keys = set(tier)
        if not keys:
            raise _Problem(f"{name}: give a multiplier or prices")
        if "multiplier" in keys:
            if keys != {"multiplier"}:
                raise _Problem(f"{name}: give either a multiplier or prices, not both")
            canonical[name] = {"multiplier": _price_text(tier["multiplier"], f"{name}: multiplier")}
            continue
        allowed = _scalar_price_keys()
        unknown = sorted(keys - set(allowed))
        if unknown:
            raise _Problem(f"{name}: {unknown[0]!r} is not a price ({', '.join(allowed)})")
        canonical[name] = {key: _price_text(tier[key], f"{name}: {key}") for key in allowed if key in tier}
    return canonical


def _service_tiers_to_read(value: Any) -> Mapping[str, ServiceTierPrice]:
    tiers = {}
    for name, row in (value or {}).items():
        if "multiplier" in row:
            tiers[name] = ServiceTierPrice(multiplier=Decimal(row["multiplier"]))
        else:
            tiers[name] = ServiceTierPrice(
                prices=MappingProxyType({key: Decimal(price) for key, price in row.items()})
            )
    return MappingProxyType(tiers)


def _service_tiers_to_file(tiers: Mapping[str, ServiceTierPrice]) -> dict[str, dict[str, str]]:
    return {
        name: (
            {"multiplier": format_money(tier.multiplier)}
            if tier.multiplier is not None
            else {key: format_money(price) for key, price in tier.prices.items()}
        )
        for name, tier in tiers.items()
    }


def parse_datetime_utc(value: Any, where: str = "effective_from") -> datetime:
    """An ISO 8601 time with its zone (``...Z`` or ``+02:00``), as UTC. A time without zone is refused."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Problem(f"{where} is not an ISO 8601 date and time: {value!r}") from None
    else:
        raise _Problem(f"{where} must be an ISO 8601 date and time such as '2026-12-01T00:00:00Z'")
    if moment.tzinfo is None:
        raise _Problem(f"{where} must say its time zone, e.g. '2026-12-01T00:00:00Z'")
    return moment.astimezone(UTC)


def format_datetime_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def display_datetime_utc(stored: str) -> str:
    """A stored time as people read it: "2026-12-01 00:00:00 UTC" (to the second)."""
    return datetime.fromisoformat(stored).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pricing_object(value: Any, where: str = "pricing") -> dict[str, Any]:
    """A ``pricing`` object of the files in canonical form (absent and empty prices omitted)."""
    pricing = _object(value, where)
    unknown = sorted(set(pricing) - set(PRICE_FIELDS))
    if unknown:
        raise _Problem(f"{where}.{unknown[0]} is not a known price")
    canonical = {}
    for key, field in PRICE_FIELDS.items():
        try:
            parsed = field.kind.parse(pricing.get(key))
        except _Problem as problem:
            raise _Problem(f"{where}.{key} {problem}") from None
        if isinstance(parsed, Decimal):
            parsed = _price_text(parsed, f"{where}.{key}")
        if parsed not in (None, {}, []):
            canonical[key] = parsed
    return canonical


def pricing_from_object(canonical: Mapping[str, Any]) -> Pricing:
    """The read type of a canonical pricing object."""
    values = {}
    for key, field in PRICE_FIELDS.items():
        raw = canonical.get(key)
        if field.kind in (PRICE, OPTIONAL_PRICE):
            values[key] = None if raw is None else Decimal(raw)
        else:
            values[key] = field.kind.to_read(raw)
    return Pricing(**values)


def pricing_to_object(pricing: Pricing) -> dict[str, Any]:
    """Canonical pricing object of a read ``Pricing`` (absent and empty prices omitted)."""
    canonical = {}
    for key, field in PRICE_FIELDS.items():
        value = field.kind.to_file(getattr(pricing, key))
        if value not in (None, {}, []):
            canonical[key] = value
    return canonical


def _price_schedule(value: Any) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise _Problem('must be a list of {"effective_from": <ISO time>, "pricing": {...}}')
    entries = []
    for position, entry in enumerate(value, start=1):
        entry = _object(entry, f"entry {position}")
        unknown = sorted(set(entry) - {"effective_from", "pricing"})
        if unknown:
            raise _Problem(f"entry {position}: {unknown[0]!r} is not a key (effective_from, pricing)")
        moment = parse_datetime_utc(entry.get("effective_from"), f"entry {position}: effective_from")
        pricing = pricing_object(entry.get("pricing"), f"entry {position}: pricing")
        for key in ("input", "output"):
            if key not in pricing:
                raise _Problem(f"entry {position}: pricing.{key} is required")
        entries.append((moment, {"effective_from": format_datetime_utc(moment), "pricing": pricing}))
    entries.sort(key=lambda item: item[0])
    for (first, _), (second, _) in itertools.pairwise(entries):
        if first == second:
            raise _Problem(f"two entries take effect at {format_datetime_utc(first)}")
    return [entry for _, entry in entries]


def _schedule_to_read(value: Any) -> tuple[ScheduledPrice, ...]:
    return tuple(
        ScheduledPrice(
            effective_from=datetime.fromisoformat(entry["effective_from"]),
            pricing=pricing_from_object(entry["pricing"]),
        )
        for entry in value or ()
    )


def _schedule_to_file(schedule: tuple[ScheduledPrice, ...]) -> list[dict[str, Any]]:
    return [
        {
            "effective_from": format_datetime_utc(entry.effective_from),
            "pricing": pricing_to_object(entry.pricing),
        }
        for entry in schedule
    ]


def _optional_count(value: Any) -> int | None:
    return None if value in (None, "") else _integer(value)


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        raise _Problem("must be a date such as '2026-12-31', without a time")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise _Problem("must be an ISO date such as '2026-12-31'")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _Problem(f"is not an ISO date such as '2026-12-31': {value!r}") from None


def _date_to_file(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _parsed_by(parse: Callable[[Any], Any]) -> Rule:
    """The rule of a value kept in its canonical file form: it must parse to itself."""

    def rule(value: Any) -> str | None:
        try:
            parse(value)
        except _Problem as problem:
            return str(problem)
        return None

    return rule


REQUEST_FEES = Kind("tuple[RequestFee, ...]", (), _request_fees, _fees_to_read, _fees_to_file, _fees_to_file)
TIERS = Kind("tuple[PriceTier, ...]", (), _tiers, _tiers_to_read, _tiers_to_file, _tiers_to_file)
SERVICE_TIER_PRICES = Kind(
    "Mapping[str, ServiceTierPrice]",
    MappingProxyType({}),
    _service_tiers,
    _service_tiers_to_read,
    _service_tiers_to_file,
    _service_tiers_to_file,
)
SCHEDULE = Kind(
    "tuple[ScheduledPrice, ...]", (), _price_schedule, _schedule_to_read, _schedule_to_file, _schedule_to_file
)
OPTIONAL_COUNT = Kind("int | None", None, _optional_count)
DATE = Kind("date | None", None, _date, to_file=_date_to_file)


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
_provider_slug = _matches(PROVIDER_SLUG_PATTERN, PROVIDER_SLUG_MESSAGE)


def _successor(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return _model_id(value)


IDENTITY, PRICING, CAPS = "Identity", "Pricing (USD per 1M tokens)", "Capabilities"
ROUTING, DISPLAY, ACCESS = "Routing", "Display", "Access"
SCHEDULED = "Price timeline"

# In the order of the files' keys (export, the static catalog, ModelConfig.to_dict()).
CATALOG_FIELDS: tuple[CatalogField, ...] = (
    CatalogField("model_id", "id", IDENTITY, MODEL_ID, (_model_id,)),
    CatalogField("provider", "provider", IDENTITY, PROVIDER, (_provider_slug,)),
    CatalogField("name", "name", IDENTITY, REQUIRED_TEXT),
    CatalogField("description", "description", IDENTITY, TEXT),
    CatalogField("context_window", "context_window", IDENTITY, COUNT, (_positive,)),
    CatalogField("max_output_tokens", "max_output_tokens", IDENTITY, OPTIONAL_COUNT, (_positive,)),
    CatalogField("actual_model_id", "actual_model_id", ROUTING, OPTIONAL_TEXT),
    CatalogField("is_local", "is_local", ROUTING, FLAG),
    CatalogField("input_price", "pricing.input", PRICING, PRICE, (_non_negative,)),
    CatalogField("output_price", "pricing.output", PRICING, PRICE, (_non_negative,)),
    CatalogField("cached_input_price", "pricing.cached_input", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("reasoning_price", "pricing.reasoning", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("cache_write_5m_price", "pricing.cache_write_5m", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("cache_write_1h_price", "pricing.cache_write_1h", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("audio_input_price", "pricing.audio_input", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("audio_output_price", "pricing.audio_output", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("image_input_price", "pricing.image_input", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("image_output_price", "pricing.image_output", PRICING, OPTIONAL_PRICE, (_non_negative,)),
    CatalogField("request_fees", "pricing.request_fees", PRICING, REQUEST_FEES, (_parsed_by(_request_fees),)),
    CatalogField("price_tiers", "pricing.tiers", PRICING, TIERS, (_parsed_by(_tiers),)),
    CatalogField(
        "service_tiers",
        "pricing.service_tiers",
        PRICING,
        SERVICE_TIER_PRICES,
        (_parsed_by(_service_tiers),),
    ),
    CatalogField("price_schedule", "price_schedule", SCHEDULED, SCHEDULE, (_parsed_by(_price_schedule),)),
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
    CatalogField("deprecation_date", "deprecation_date", "Status", DATE),
    CatalogField("successor", "successor", "Status", OPTIONAL_TEXT, (_successor,)),
)

BY_COLUMN: dict[str, CatalogField] = {field.column: field for field in CATALOG_FIELDS}
PRICE_KINDS = (PRICE, OPTIONAL_PRICE)  # the price columns (the others are kept as JSON)
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
SECTIONS: tuple[str, ...] = (
    IDENTITY,
    PRICING,
    SCHEDULED,
    CAPS,
    "Reasoning",
    ROUTING,
    DISPLAY,
    ACCESS,
    "Status",
)
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

    Raises :class:`CatalogError` naming the first bad field as the file spells it; its
    ``problems`` list every bad field of the entry, so a file's author fixes them in one go.
    """
    problems: list[tuple[str, str]] = []
    unknown = sorted(set(entry) - set(FILE_KEYS))
    problems += [(key, "is not a known field") for key in unknown]
    pricing = entry.get("pricing")
    if not isinstance(pricing, Mapping):
        problems.append(("pricing", "must be an object"))
        pricing = {}
    problems += [
        (f"pricing.{key}", "is not a known price") for key in sorted(set(pricing) - set(PRICE_FIELDS))
    ]
    capabilities = entry.get("capabilities") or []
    if not isinstance(capabilities, list) or any(name not in CAPABILITIES for name in capabilities):
        problems.append(("capabilities", f"must be a list of {', '.join(CAPABILITIES)}"))
        capabilities = []

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
            problems.append((field.file_key, str(problem)))
            continue
        storable = storable_problem(value)
        if storable:
            problems.append((field.file_key, storable))
            continue
        broken = [rule(value) for rule in field.rules]
        broken = [
            problem if isinstance(problem, str) else "; ".join(problem) for problem in broken if problem
        ]
        if broken:
            problems.append((field.file_key, "; ".join(broken)))
            continue
        columns[field.column] = value
    if problems:
        error = CatalogError(model_id, *problems[0])
        error.problems = [CatalogError(model_id, where, message) for where, message in problems]
        raise error
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
            columns[field.column] = field.kind.to_column(
                getattr(config.pricing, field.file_key.split(".", 1)[1])
            )
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


# --- the price timeline: past entries are history, future ones are the editor's ------


def pricing_object_from_columns(get: Callable[[str], Any]) -> dict[str, Any]:
    """The canonical pricing object of a row's price columns (``get``: column → stored value)."""
    canonical = {}
    for key, field in PRICE_FIELDS.items():
        value = get(field.column)
        if isinstance(value, Decimal):
            value = format_money(value)
        if value not in (None, {}, []):
            canonical[key] = value
    return canonical


def carry_price_timeline(
    *,
    before_pricing: Mapping[str, Any],
    before_schedule: list[Mapping[str, Any]],
    after_pricing: Mapping[str, Any],
    after_schedule: list[Mapping[str, Any]],
    now: datetime,
    listed_since: datetime,
) -> list[Mapping[str, Any]]:
    """The timeline to store when a model's prices or schedule are written at ``now``.

    What took effect by ``now`` is history and stays as stored, whatever the
    write says (a revert or an old file cannot reprice the past); what takes
    effect later is the writer's. When the listed prices change, the change
    takes effect now and joins the history, after the prices it replaces (in
    force since ``listed_since`` if the model had no timeline yet); listed prices
    set to what a timeline entry already made current add nothing. Canonical
    (column) forms in and out.
    """
    past = [entry for entry in before_schedule if datetime.fromisoformat(entry["effective_from"]) <= now]
    future = [entry for entry in after_schedule if datetime.fromisoformat(entry["effective_from"]) > now]
    price_change = dict(after_pricing) != dict(before_pricing)
    if not past and (future or price_change):
        # A timeline starts: it first records the listed prices it departs from.
        past = [{"effective_from": format_datetime_utc(listed_since), "pricing": dict(before_pricing)}]
    in_force = past[-1]["pricing"] if past else before_pricing
    # Only a change of the listed prices by this write is a price change: listed prices left
    # behind by a scheduled entry that took effect since are not one.
    if price_change and dict(after_pricing) != dict(in_force):
        past.append({"effective_from": format_datetime_utc(now), "pricing": dict(after_pricing)})
    return past + future


def describe_prices(prices: Mapping[str, Any]) -> str:
    """A canonical pricing object in words: "input 2.5, output 15, tiers (...)"."""
    parts = []
    for key, value in prices.items():
        if key == "tiers":
            parts.append(f"tiers ({describe_tiers(value)})")
        elif key == "service_tiers":
            parts.append(f"service tiers ({describe_service_tiers(value)})")
        elif key == "request_fees":
            parts.append(f"fees ({describe_request_fees(value)})")
        else:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)


def describe_tiers(value: Any) -> str:
    """Canonical tiers as people read them: "above 200,000 tokens: input 2.5, output 15"."""
    if not value:
        return "none"
    return "; ".join(
        f"above {row['above_input_tokens']:,} tokens: "
        + describe_prices({key: price for key, price in row.items() if key != "above_input_tokens"})
        for row in value
    )


def describe_service_tiers(value: Any) -> str:
    if not value:
        return "none"
    return "; ".join(
        f"{name} x{row['multiplier']}" if "multiplier" in row else f"{name}: {describe_prices(row)}"
        for name, row in value.items()
    )


def describe_request_fees(value: Any) -> str:
    if not value:
        return "none"
    parts = []
    for key, price in value.items():
        match = _FEE_KEY.match(key)
        parts.append(
            f"{match.group(1).replace('_', ' ')} {price} per {int(match.group(2)):,}" if match else key
        )
    return "; ".join(parts)


def describe_price_schedule(value: Any) -> str:
    """Canonical timeline as people read it, one entry per line, times in UTC."""
    if not value:
        return "none"
    return "\n".join(
        f"from {display_datetime_utc(entry['effective_from'])}: {describe_prices(entry['pricing'])}"
        for entry in value
    )


# Columns kept as JSON whose diffs and history read better in words.
DESCRIBE_COLUMN: dict[str, Callable[[Any], str]] = {
    "price_tiers": describe_tiers,
    "service_tiers": describe_service_tiers,
    "request_fees": describe_request_fees,
    "price_schedule": describe_price_schedule,
}


def parse_column_value(column: str, value: Any) -> Any:
    """A file-shaped value of ``column`` in its stored (canonical) form; ``ValueError`` says what is wrong."""
    try:
        return BY_COLUMN[column].kind.parse(value)
    except _Problem as problem:
        raise ValueError(str(problem)) from None


def _in_force_index(schedule: list[Mapping[str, Any]], now: datetime) -> int | None:
    """Position of the timeline entry in force at ``now`` (entries are in time order), or None."""
    position = None
    for index, entry in enumerate(schedule):
        if datetime.fromisoformat(entry["effective_from"]) > now:
            break
        position = index
    return position


def in_force_pricing_object(
    listed: Mapping[str, Any], schedule: list[Mapping[str, Any]], now: datetime
) -> dict[str, Any]:
    """The canonical prices in force at ``now``: the latest timeline entry by then, else the listed ones."""
    position = _in_force_index(schedule, now)
    return dict(listed if position is None else schedule[position]["pricing"])


def timeline_states(schedule: list[Mapping[str, Any]], now: datetime) -> list[tuple[Mapping[str, Any], str]]:
    """Each timeline entry with its state at ``now``: "past", "in force" or "scheduled"."""
    position = _in_force_index(schedule, now)
    return [
        (
            entry,
            "scheduled"
            if position is None or index > position
            else "in force"
            if index == position
            else "past",
        )
        for index, entry in enumerate(schedule)
    ]


def schedule_prices(
    *,
    schedule: list[Mapping[str, Any]],
    pricing: Mapping[str, Any],
    effective_from: datetime,
    now: datetime,
) -> list[Mapping[str, Any]]:
    """The timeline with ``pricing`` scheduled from ``effective_from`` (after ``now``), replacing an
    entry scheduled at the same time. (The write records the listed prices first if the timeline
    starts here: :func:`carry_price_timeline`.)"""
    if effective_from <= now:
        raise ValueError(
            "a scheduled price change must take effect in the future; leave the time blank for now"
        )
    entries = [dict(entry) for entry in schedule]
    moment = format_datetime_utc(effective_from)
    entries = [entry for entry in entries if entry["effective_from"] != moment]
    entries.append({"effective_from": moment, "pricing": dict(pricing)})
    entries.sort(key=lambda entry: datetime.fromisoformat(entry["effective_from"]))
    return entries


def rewritten_history(
    before_schedule: list[Mapping[str, Any]], after_schedule: list[Mapping[str, Any]], now: datetime
) -> str | None:
    """Why ``after_schedule`` cannot replace ``before_schedule`` (a file that changes prices that
    took effect already), or ``None``. A file without past entries leaves the history alone."""

    def past(schedule: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [entry for entry in schedule if datetime.fromisoformat(entry["effective_from"]) <= now]

    stored, given = past(before_schedule), past(after_schedule)
    if not given or given == stored:
        return None
    return (
        "entries that took effect already are history and stay as stored; keep them as exported "
        "(or leave price_schedule out) and change only entries after now"
    )


def price_columns_from_object(canonical: Mapping[str, Any]) -> dict[str, Any]:
    """Column values of every price column for a canonical pricing object (absent: the column's empty)."""
    columns = {}
    for key, field in PRICE_FIELDS.items():
        value = canonical.get(key)
        if field.kind in PRICE_KINDS:
            columns[field.column] = None if value is None else Decimal(value)
        else:
            columns[field.column] = field.kind.parse(value)  # canonical already; absent → [] or {}
    return columns


def in_force_since(schedule: list[Mapping[str, Any]], now: datetime) -> str:
    """The ``effective_from`` of the timeline entry in force at ``now``; "" before the first one."""
    position = _in_force_index(schedule, now)
    return "" if position is None else schedule[position]["effective_from"]
