"""What a catalog sync proposes: the differences between the registry and an upstream source. Pure Python.

:func:`propose` compares the registry's models with a parsed source
(:mod:`models_registry.domain.sources`) through confirmed mappings (registry
model id → upstream key) and returns the changes a person reviews. Nothing is
written here, and a proposal never removes something because the source does
not mention it: a price, a capability or a date the source leaves out is not
compared. Guard rails flag what deserves a second look (a price moving by more
than a quarter, a price going to zero, a shorter context window, a model gone
upstream, a run proposing too much at once); flagged rows need an explicit
confirmation downstream.

Prices are compared as the canonical strings of the files (``"2.5"``), against
the prices in force now, since the listed ones may have been replaced by a
scheduled entry of the price timeline.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from models_registry.domain.fields import (
    CAPABILITY_COLUMNS,
    COLUMNS,
    MODEL_ID_PATTERN,
    PRICE_FIELDS,
    PRICE_KINDS,
    pricing_to_object,
)
from models_registry.domain.sources import SourceCatalog, UpstreamModel, normalised_name, upstream_model_id
from models_registry.domain.types import ModelConfig
from models_registry.domain.values import CAPABILITIES

KINDS: tuple[str, ...] = (
    "price",
    "new_model",
    "context_window",
    "max_output_tokens",
    "capability",
    "deprecation_date",
    "gone",
)
FLAGS: tuple[str, ...] = ("price_jump", "to_zero", "context_shrink", "gone", "large_run")

# Capability name → its AIModel column ("vision" → "supports_vision").
CAPABILITY_COLUMN: dict[str, str] = {name: column for column, name in CAPABILITY_COLUMNS.items()}
# Upstream model ids become registry ids: characters outside these become "-".
_NOT_IN_MODEL_ID = re.compile(r"[^A-Za-z0-9._/-]")
_RATIO_PLACES = Decimal("0.000001")  # relative changes are kept to 6 decimal places


@dataclass(frozen=True, slots=True)
class GuardRails:
    """When a proposal needs a second look."""

    max_price_change: Decimal = Decimal("0.25")  # relative; a larger move is flagged "price_jump"
    max_changes: int = 200  # a run proposing more has every row flagged "large_run"


@dataclass(frozen=True, slots=True)
class Proposal:
    """One change a sync proposes, JSON-ready: prices as canonical strings, dates ISO."""

    kind: str  # one of KINDS
    model_id: str  # the registry model; for new_model the id proposed for it
    upstream_key: str
    column: str  # the AIModel column changed; "" for new_model and gone
    old: Any
    new: Any
    relative_change: Decimal | None  # prices: (new - old) / old to 6 places; None when old is None or 0
    flags: tuple[str, ...]
    entry: Mapping[str, Any] | None = None  # new_model: a file entry (the static catalog's shape)


def propose(
    current: Mapping[str, ModelConfig],
    mapping: Mapping[str, str],
    upstream: SourceCatalog,
    *,
    new_model_providers: Mapping[str, str],
    rails: GuardRails = GuardRails(),  # frozen: one shared default is safe
    at: datetime | None = None,
) -> tuple[Proposal, ...]:
    """Every difference between the registry and ``upstream``, in a stable order.

    ``current``: the registry's models by id. ``mapping``: registry model id → upstream key, the
    confirmed mappings only (a model missing from ``current`` is skipped). ``new_model_providers``:
    upstream provider id → registry provider slug, for the providers whose unmapped models should
    be proposed as new (internal-only) models. ``at`` (default now) chooses the prices in force.
    Sorted by kind (as in :data:`KINDS`), then model id, then column (in declaration order).
    """
    proposals: list[Proposal] = []
    for model_id, key in mapping.items():
        config = current.get(model_id)
        if config is None:
            continue
        model = upstream.models.get(key)
        if model is None:
            proposals.append(Proposal("gone", model_id, key, "", None, None, None, ("gone",)))
            continue
        proposals.extend(_price_changes(config, model, rails, at))
        proposals.extend(_field_changes(config, model))
    proposals.extend(_new_models(current, mapping, upstream, new_model_providers))

    if len(proposals) > rails.max_changes:
        proposals = [replace(proposal, flags=(*proposal.flags, "large_run")) for proposal in proposals]
    column_order = {column: position for position, column in enumerate(("", *COLUMNS))}
    proposals.sort(
        key=lambda proposal: (
            KINDS.index(proposal.kind),
            proposal.model_id,
            column_order.get(proposal.column, len(column_order)),
            proposal.column,
        )
    )
    return tuple(proposals)


def _price_changes(
    config: ModelConfig, model: UpstreamModel, rails: GuardRails, at: datetime | None
) -> list[Proposal]:
    """One proposal per price the source states and states differently (never a removal)."""
    if not model.pricing:
        return []
    in_force, _since = config.pricing_at(at)
    ours = pricing_to_object(in_force)
    proposals = []
    for key, field in PRICE_FIELDS.items():
        new = model.pricing.get(key)
        old = ours.get(key)
        if new in (None, {}, []) or new == old:
            continue
        relative_change, flags = None, ()
        if field.kind in PRICE_KINDS:
            relative_change, flags = _price_move(old, new, rails)
        proposals.append(
            Proposal("price", config.id, model.key, field.column, old, new, relative_change, flags)
        )
    return proposals


def _price_move(old: str | None, new: str, rails: GuardRails) -> tuple[Decimal | None, tuple[str, ...]]:
    """The relative change of a price and its flags (a drop to zero is also a jump)."""
    if old is None or Decimal(old) == 0:
        return None, ()
    before, after = Decimal(old), Decimal(new)
    relative_change = ((after - before) / before).quantize(_RATIO_PLACES)  # a ratio, not a price
    flags = []
    if abs(relative_change) > rails.max_price_change:
        flags.append("price_jump")
    if after == 0:
        flags.append("to_zero")
    return relative_change, tuple(flags)


def _field_changes(config: ModelConfig, model: UpstreamModel) -> list[Proposal]:
    """Context window, output limit, capabilities and deprecation date, where the source states them."""
    proposals = []
    if model.context_window is not None and model.context_window != config.context_window:
        flags = ("context_shrink",) if model.context_window < config.context_window else ()
        proposals.append(
            Proposal(
                "context_window",
                config.id,
                model.key,
                "context_window",
                config.context_window,
                model.context_window,
                None,
                flags,
            )
        )
    if model.max_output_tokens is not None and model.max_output_tokens != config.max_output_tokens:
        proposals.append(
            Proposal(
                "max_output_tokens",
                config.id,
                model.key,
                "max_output_tokens",
                config.max_output_tokens,
                model.max_output_tokens,
                None,
                (),
            )
        )
    for name, stated in model.capabilities.items():
        ours = name in config.capabilities
        if name in CAPABILITY_COLUMN and stated != ours:
            proposals.append(
                Proposal("capability", config.id, model.key, CAPABILITY_COLUMN[name], ours, stated, None, ())
            )
    if model.deprecation_date is not None and model.deprecation_date != config.deprecation_date:
        proposals.append(
            Proposal(
                "deprecation_date",
                config.id,
                model.key,
                "deprecation_date",
                config.deprecation_date.isoformat() if config.deprecation_date else None,
                model.deprecation_date.isoformat(),
                None,
                (),
            )
        )
    return proposals


def proposed_model_id(slug: str, model: UpstreamModel) -> str | None:
    """The registry id a new upstream model would get (``"<slug>:<upstream id>"``), or None if none fits."""
    name = _NOT_IN_MODEL_ID.sub("-", upstream_model_id(model).lower())
    name = re.sub(r"^[^a-z0-9]+", "", name)
    model_id = f"{slug}:{name}"
    return model_id if name and MODEL_ID_PATTERN.match(model_id) else None


def _new_models(
    current: Mapping[str, ModelConfig],
    mapping: Mapping[str, str],
    upstream: SourceCatalog,
    new_model_providers: Mapping[str, str],
) -> list[Proposal]:
    """Unmapped upstream models of the providers asked for, as new internal-only models.

    Only models the registry could hold as stated (prices and a context window); never under an id
    the registry has: an upstream model is not merged into an existing one by guess.
    """
    if not new_model_providers:
        return []
    mapped = set(mapping.values())
    # Another name of a mapped model (a dated snapshot, "-latest") is not a new model.
    mapped_names = {
        normalised_name(upstream_model_id(upstream.models[key])) for key in mapped if key in upstream.models
    }
    proposed: set[str] = set()
    proposals = []
    for key in sorted(upstream.models):
        model = upstream.models[key]
        slug = new_model_providers.get(model.provider)
        if slug is None or key in mapped or model.pricing is None or model.context_window is None:
            continue
        if normalised_name(upstream_model_id(model)) in mapped_names:
            continue
        model_id = proposed_model_id(slug, model)
        if model_id is None or model_id in current or model_id in proposed:
            continue
        proposed.add(model_id)
        entry: dict[str, Any] = {
            "id": model_id,
            "provider": slug,
            "name": model.name,
            "context_window": model.context_window,
        }
        if model.max_output_tokens is not None:
            entry["max_output_tokens"] = model.max_output_tokens
        entry["pricing"] = copy.deepcopy(dict(model.pricing))
        entry["capabilities"] = [name for name in CAPABILITIES if model.capabilities.get(name)]
        entry["is_internal_only"] = True  # selectable only once an editor says so
        entry["status"] = "active"
        if model.deprecation_date is not None:
            entry["deprecation_date"] = model.deprecation_date.isoformat()
        proposals.append(Proposal("new_model", model_id, key, "", None, None, None, (), entry))
    return proposals
