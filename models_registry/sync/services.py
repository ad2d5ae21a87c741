"""The catalog sync's writes: record a run and its proposals, review them, apply the accepted ones.

A run reads the catalog and the source and writes only its own tables (the
run, its proposals, new mapping suggestions). Applying is the one step that
writes the catalog: accepted proposals, through the audited-write mechanism,
in one transaction and one change set, refused as a whole if a model changed
since the run read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from models_registry.audit import writes
from models_registry.audit.writes import require_reason
from models_registry.catalog import services as catalog
from models_registry.catalog.conversions import config_from_model
from models_registry.catalog.models import AIModel, Provider
from models_registry.domain.fields import (
    BY_COLUMN,
    PRICE_FIELDS,
    PRICE_KINDS,
    CatalogError,
    columns_from_entry,
)
from models_registry.domain.sources import (
    DEFAULT_PROVIDER_ALIASES,
    SourceCatalog,
    iter_problems,
    parse_source,
    suggest_mappings,
)
from models_registry.domain.sync import GuardRails, Proposal, propose
from models_registry.domain.values import GATEWAYS
from models_registry.sync.models import (
    Decision,
    MappingStatus,
    ProposedChange,
    RunStatus,
    SourceMapping,
    SyncRun,
)

SUGGESTION_REASON = "Suggested by name by the {source} sync"
PRICE_KEY_FOR_COLUMN = {field.column: key for key, field in PRICE_FIELDS.items()}


@dataclass
class SyncOutcome:
    source: str
    catalog: SourceCatalog | None = None
    proposals: tuple[Proposal, ...] = ()
    suggestions: list[tuple[str, str]] = field(default_factory=list)  # (model id, upstream key)
    run: SyncRun | None = None
    dry_run: bool = False

    @property
    def needs_review(self) -> bool:
        return bool(self.proposals)


MAX_RECORDED_PROBLEMS = 1000


def source_problems(upstream: SourceCatalog) -> list[str]:
    """What the source said that could not be read exactly, one line each, its key first."""
    return [f"{key}: {problem}" if key else problem for key, problem in iter_problems(upstream)]


def configured_rails() -> GuardRails:
    """The guard rails of the settings (``SYNC_MAX_PRICE_CHANGE``, ``SYNC_MAX_CHANGES``)."""
    return GuardRails(
        max_price_change=Decimal(str(settings.SYNC_MAX_PRICE_CHANGE)),
        max_changes=int(settings.SYNC_MAX_CHANGES),
    )


def confirmed_mapping(source: str) -> dict[str, str]:
    """Registry model id → upstream key, for the confirmed mappings of ``source``."""
    return dict(
        SourceMapping.objects.filter(source=source, status=MappingStatus.CONFIRMED).values_list(
            "model__model_id", "upstream_key"
        )
    )


def run_sync(
    *,
    source: str,
    data: bytes,
    origin: str,
    providers: Sequence[str] = (),
    dry_run: bool = False,
    user: Any = None,
    rails: GuardRails | None = None,
) -> SyncOutcome:
    """Compare ``data`` (the source's file) with the catalog and record what differs.

    Raises ``ValueError`` (the source's :class:`~models_registry.domain.sources.SourceError`)
    for a file that cannot be read. Nothing is written to the catalog; with
    ``dry_run`` nothing is written at all.
    """
    started = timezone.now()
    upstream = parse_source(source, data)
    rows = AIModel.objects.select_related("provider").order_by("model_id")
    if providers:
        unknown = sorted(set(providers) - set(Provider.objects.values_list("slug", flat=True)))
        if unknown:
            raise ValueError(f"unknown provider(s): {', '.join(unknown)}")
        rows = rows.filter(provider__slug__in=providers)
    rows = list(rows)
    current = {row.model_id: config_from_model(row) for row in rows}
    mapping = {model_id: key for model_id, key in confirmed_mapping(source).items() if model_id in current}
    new_model_providers = _new_model_providers(current, mapping, upstream)
    proposals = propose(
        current, mapping, upstream, new_model_providers=new_model_providers, rails=rails or configured_rails()
    )
    outcome = SyncOutcome(source=source, catalog=upstream, proposals=proposals, dry_run=dry_run)
    outcome.suggestions = _new_suggestions(source, rows, mapping, upstream)
    if dry_run:
        return outcome

    with transaction.atomic():
        run = SyncRun.objects.create(
            source=source,
            origin=origin[:500],
            started_at=started,
            finished_at=timezone.now(),
            status=RunStatus.REVIEW if proposals else RunStatus.NO_CHANGES,
            upstream_models=len(upstream.models),
            problems=source_problems(upstream)[:MAX_RECORDED_PROBLEMS],
            providers=list(providers),
            started_by=writes.acting_user(user),
        )
        by_id = {row.model_id: row for row in rows}
        ProposedChange.objects.bulk_create(
            [_proposed_change(run, proposal, by_id.get(proposal.model_id)) for proposal in proposals],
            batch_size=500,
        )
        if outcome.suggestions:
            with writes.change_set(user=user, reason=SUGGESTION_REASON.format(source=source)):
                for model_id, key in outcome.suggestions:
                    writes.create(
                        SourceMapping(model=by_id[model_id], source=source, upstream_key=key),
                        user=user,
                        reason=SUGGESTION_REASON.format(source=source),
                    )
    outcome.run = run
    return outcome


def _new_model_providers(
    current: dict[str, Any], mapping: dict[str, str], upstream: SourceCatalog
) -> dict[str, str]:
    """Upstream provider → registry provider, for the first-party providers whose models are mapped.

    New models are proposed only for those. A gateway (OpenRouter, Vercel) resells other vendors'
    models: its hundreds of entries are not proposed as new models of ours.
    """
    providers = {}
    for model_id, key in mapping.items():
        model = upstream.models.get(key)
        slug = current[model_id].provider
        if model is None or slug in GATEWAYS or DEFAULT_PROVIDER_ALIASES.get(model.provider) != slug:
            continue
        providers[model.provider] = slug
    return providers


def _new_suggestions(
    source: str, rows: list[AIModel], mapping: dict[str, str], upstream: SourceCatalog
) -> list[tuple[str, str]]:
    """The best suggestion of each unmapped model that was never suggested, confirmed or rejected."""
    unmapped = [row for row in rows if row.model_id not in mapping]
    if not unmapped:
        return []
    known = set(
        SourceMapping.objects.filter(source=source, model__in=unmapped).values_list(
            "model__model_id", "upstream_key"
        )
    )
    decided = {model_id for model_id, _ in known}
    taken = set(mapping.values())
    suggestions = suggest_mappings(
        [(row.model_id, row.provider.slug, row.name) for row in unmapped if row.model_id not in decided],
        upstream,
    )
    chosen = []
    for model_id, keys in sorted(suggestions.items()):
        for key in keys:
            if (model_id, key) not in known and key not in taken:
                chosen.append((model_id, key))
                taken.add(key)
                break
    return chosen


def _proposed_change(run: SyncRun, proposal: Proposal, model: AIModel | None) -> ProposedChange:
    return ProposedChange(
        run=run,
        kind=proposal.kind,
        model=model,
        model_key=proposal.model_id,
        provider=model.provider.slug if model else proposal.model_id.split(":", 1)[0],
        upstream_key=proposal.upstream_key,
        column=proposal.column,
        old=_json_ready(proposal.old),
        new=_json_ready(proposal.new),
        relative_change=proposal.relative_change,
        flags=list(proposal.flags),
        entry=proposal.entry,
        model_version=model.version if model else None,
    )


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal | date):
        return str(value)
    return value


# --- mappings --------------------------------------------------------------------


def set_mapping_status(mappings: Iterable[SourceMapping], status: str, *, user: Any, reason: str) -> int:
    """Confirm or reject mappings (a rejected suggestion is never suggested again); how many changed."""
    reason = require_reason(reason)
    if status not in (MappingStatus.CONFIRMED, MappingStatus.REJECTED):
        raise ValidationError("A mapping is confirmed or rejected.")
    changed = 0
    with writes.change_set(user=user, reason=reason, summary=f"Mappings {status}"):
        for mapping in writes.lock_in_order(SourceMapping, [m.pk for m in mappings]).values():
            if mapping.status == status:
                continue
            writes.update(mapping, user=user, reason=reason, changes={"status": status})
            changed += 1
    return changed


# --- review -------------------------------------------------------------------------


@dataclass
class ReviewOutcome:
    changed: int = 0
    skipped_flagged: int = 0  # flagged rows a bulk accept left alone: each needs its own confirmation
    skipped_closed: int = 0  # rows of runs already applied


def decide(
    changes: Iterable[ProposedChange],
    *,
    decision: str,
    user: Any,
    reason: str,
    confirm_flagged: bool = False,
) -> ReviewOutcome:
    """Accept or reject proposals (or put them back to pending).

    A flagged proposal (a price jump, a price to zero, a context shrink, a model
    gone upstream, a run too large) is only accepted with ``confirm_flagged``:
    an explicit confirmation of those rows, never as part of a bulk accept.
    """
    reason = require_reason(reason)
    if decision not in Decision.values:
        raise ValidationError(f"Unknown decision {decision!r}.")
    outcome = ReviewOutcome()
    now = timezone.now()
    user = writes.acting_user(user)
    wanted = [change.pk for change in changes]
    with transaction.atomic():
        # The runs first, as apply does: a decision and an apply of the same run never interleave.
        runs = ProposedChange.objects.filter(pk__in=wanted).values_list("run_id", flat=True).distinct()
        list(SyncRun.objects.select_for_update().filter(pk__in=list(runs)).order_by("pk"))
        for change in (
            ProposedChange.objects.select_for_update()
            .select_related("run")
            .filter(pk__in=wanted)
            .order_by("pk")
        ):
            if change.run.status != RunStatus.REVIEW or change.applied:
                outcome.skipped_closed += 1
                continue
            if decision == Decision.ACCEPTED and change.flags and not confirm_flagged:
                outcome.skipped_flagged += 1
                continue
            if change.decision == decision:
                continue
            change.decision = decision
            change.decided_by = user
            change.decided_at = now
            change.decision_reason = reason
            change.save(update_fields=["decision", "decided_by", "decided_at", "decision_reason"])
            outcome.changed += 1
    return outcome


# --- apply ----------------------------------------------------------------------------


@dataclass
class ApplyOutcome:
    updated_models: int = 0
    created_models: int = 0
    acknowledged: int = 0  # accepted "gone" rows: upstream never deprecates by itself
    change_set_id: Any = None


def apply_reason(run: SyncRun, reason: str) -> str:
    return f"Synced from {run.source} {run.started_at:%Y-%m-%d}: {reason}"


def apply_run(run: SyncRun, *, user: Any, reason: str) -> ApplyOutcome:
    """Write the run's accepted proposals, all or nothing, as one change set.

    Refused (``ValidationError``, nothing written) if a model being changed has
    a newer version than the one the run read, or if the run is not waiting
    for review.
    """
    reason = require_reason(reason)
    full_reason = apply_reason(run, reason)
    outcome = ApplyOutcome()
    with writes.change_set(user=user, reason=full_reason, summary=f"Sync from {run.source}"):
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RunStatus.REVIEW:
            raise ValidationError(f"This run is {run.get_status_display()}: there is nothing to apply.")
        accepted = list(run.changes.filter(decision=Decision.ACCEPTED, applied=False).order_by("pk"))
        if not accepted:
            raise ValidationError("No proposal is accepted: accept the changes to apply first.")
        updates = [change for change in accepted if change.kind not in ("new_model", "gone")]
        models = writes.lock_in_order(AIModel, {change.model_id for change in updates if change.model_id})
        now = timezone.now()
        in_force = {pk: model.prices_in_force(now) for pk, model in models.items()}
        stale = sorted(
            {
                change.model_key
                for change in updates
                if change.model_id is None
                or models[change.model_id].version != change.model_version
                or not _still_current(change, in_force[change.model_id])
            }
        )
        if stale:
            raise ValidationError(
                "These models changed since the run read them (an edit, or a scheduled price that took "
                "effect), so applying could undo those changes: "
                f"{', '.join(stale)}. Run the sync again and review the new proposals."
            )
        by_model: dict[int, dict[str, Any]] = {}
        for change in updates:
            by_model.setdefault(change.model_id, {})[change.column] = _column_value(change.column, change.new)
        for model_pk, changes in by_model.items():
            catalog.update_model(models[model_pk], user=user, reason=full_reason, changes=changes)
            outcome.updated_models += 1
        for change in accepted:
            if change.kind == "new_model":
                _create_new_model(change, user=user, reason=full_reason)
                outcome.created_models += 1
            elif change.kind == "gone":
                outcome.acknowledged += 1
        ProposedChange.objects.filter(pk__in=[change.pk for change in accepted]).update(applied=True)
        change_set = writes.current_change_set()
        run.status = RunStatus.APPLIED
        run.applied_at = timezone.now()
        run.applied_by = writes.acting_user(user)
        run.applied_reason = reason
        run.change_set = change_set if change_set is not None and change_set.pk else None
        run.save(update_fields=["status", "applied_at", "applied_by", "applied_reason", "change_set"])
        outcome.change_set_id = run.change_set_id
    return outcome


def _still_current(change: ProposedChange, prices_in_force: dict[str, Any]) -> bool:
    """Whether a price proposal's "now" is still the price in force: a scheduled price that took
    effect between the run and the apply changes it without a new version."""
    key = PRICE_KEY_FOR_COLUMN.get(change.column)
    return key is None or prices_in_force.get(key) == change.old


def _column_value(column: str, value: Any) -> Any:
    """A proposal's JSON value as the column stores it."""
    field_ = BY_COLUMN[column]
    if value is None:
        return None
    if field_.kind in PRICE_KINDS:
        return Decimal(str(value))
    if column == "deprecation_date":
        return date.fromisoformat(value)
    return value


def _create_new_model(change: ProposedChange, *, user: Any, reason: str) -> AIModel:
    entry = dict(change.entry or {})
    try:
        columns = columns_from_entry(entry, change.model_key)
    except CatalogError as error:
        raise ValidationError(f"{change.model_key}: {error}") from None
    provider = Provider.objects.filter(slug=columns.pop("provider")).first()
    if provider is None:
        raise ValidationError(f"{change.model_key}: its provider does not exist in the registry.")
    columns["is_internal_only"] = True  # selectable only once an editor says so
    columns.pop("model_id")
    return catalog.create_model(
        provider=provider, user=user, reason=reason, model_id=change.model_key, **columns
    )
