"""Write services for the catalog: providers and AI models.

Every write goes through the audited-write mechanism (:mod:`models_registry.audit.writes`):
it takes the acting user (``None`` for system jobs), a reason and, for edits,
the version the editor saw; it records who, when, why and the field diff, and
bumps the catalog version when its transaction commits. Admin classes, views
and commands call these instead of saving models themselves.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from models_registry.audit import writes
from models_registry.audit.models import ChangeType
from models_registry.audit.values import error_lines
from models_registry.audit.writes import EditConflict, require_reason  # noqa: F401  (part of this API)
from models_registry.catalog.conversions import config_from_model
from models_registry.catalog.models import AIModel, ModelStatus, Provider
from models_registry.domain.fields import (
    PRICE_FIELDS,
    PROVIDER_SLUG_PATTERN,
    field_values_from_config,
    pricing_object_from_columns,
    rewritten_history,
    schedule_prices,
)
from models_registry.domain.imports import (
    ENTRY_KEY_FOR_FIELD,
    NEW,
    UPDATE,
    ImportPlan,
    RowError,
    plan_import,
)
from models_registry.domain.types import ModelConfig

SEED_REASON = "Initial seed from static catalog"


def create_provider(*, slug: str, name: str, user: Any, reason: str, first_party: bool = False) -> Provider:
    """A new provider; a reseller unless ``first_party`` (providers an import or a sync adds are)."""
    return save_new_provider(
        Provider(slug=slug, name=name, first_party=first_party), user=user, reason=reason
    )


def save_new_provider(provider: Provider, *, user: Any, reason: str) -> Provider:
    """Save an unsaved ``provider`` (built by a form, say) as its version 1."""
    return writes.create(provider, user=user, reason=reason)


def update_provider(
    provider: Provider,
    *,
    user: Any,
    reason: str,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
) -> Provider:
    """Apply ``changes`` (field → new value) to ``provider`` as one new version."""
    return writes.update(
        provider, user=user, reason=reason, changes=changes, expected_version=expected_version
    )


def create_model(*, provider: Provider, user: Any, reason: str, **values: Any) -> AIModel:
    """Create one model. ``values`` are ``AIModel`` field values."""
    return save_new_model(AIModel(provider=provider, **values), user=user, reason=reason)


def save_new_model(model: AIModel, *, user: Any, reason: str) -> AIModel:
    """Save an unsaved ``model`` built elsewhere (e.g. by the admin's form) as its version 1."""
    if model.pk is not None:
        raise ValueError(f"{model} is already saved; use update_model()")
    return writes.create(model, user=user, reason=reason)


def update_model(
    model: AIModel,
    *,
    user: Any,
    reason: str,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
    prices_effective_from: datetime | None = None,
    cancel_scheduled: Iterable[str] = (),
) -> AIModel:
    """Apply ``changes`` (field → new value) to ``model`` as one new version.

    With ``expected_version`` (the version the editor saw), refuse with
    :class:`EditConflict` if someone saved a newer version meanwhile.

    Price changes take effect now and join the price timeline. With a future
    ``prices_effective_from`` they are scheduled instead: the listed prices
    stay, and every worker bills the new ones from that time on, with no
    further write. ``cancel_scheduled`` names scheduled entries (their
    ``effective_from`` as stored) to drop; one that took effect already is
    history and cannot be dropped.
    """
    changes = dict(changes)
    cancel = set(cancel_scheduled)
    now = timezone.now()
    if prices_effective_from is not None and prices_effective_from <= now:
        raise ValidationError(
            {
                "price_schedule": "A scheduled price change must take effect in the future; "
                "give no time for now."
            }
        )
    scheduling = prices_effective_from is not None
    if not scheduling and not cancel:
        return writes.update(
            model, user=user, reason=reason, changes=changes, expected_version=expected_version
        )
    with transaction.atomic():
        row = writes.lock(AIModel, model.pk)
        writes.check_version(row, expected_version)
        schedule = list(changes.pop("price_schedule", row.price_schedule) or [])
        for moment in cancel:
            if datetime.fromisoformat(moment) <= now:
                raise ValidationError(
                    {"price_schedule": f"The price of {moment} took effect already: it is history."}
                )
        schedule = [entry for entry in schedule if entry["effective_from"] not in cancel]
        if scheduling:
            changes = row.changes_from_current(changes, now)  # scheduled on top of the prices in force
            price_columns = {field.column for field in PRICE_FIELDS.values()}
            new_prices = pricing_object_from_columns(
                lambda column: changes.pop(column) if column in changes else getattr(row, column)
            )
            for column in price_columns:
                changes.pop(column, None)
            try:
                schedule = schedule_prices(
                    schedule=schedule,
                    pricing=new_prices,
                    effective_from=prices_effective_from,
                    now=now,
                )
            except ValueError as error:
                raise ValidationError({"price_schedule": str(error)}) from None
        changes["price_schedule"] = schedule
        writes.update(row, user=user, reason=reason, changes=changes)
    writes.copy_state(row, model)
    return model


def duplicate_model(
    source: AIModel, *, new_model_id: str, new_name: str, user: Any, reason: str = ""
) -> AIModel:
    """A copy of ``source`` under a new id and name; its history says "Duplicated from <source>"."""
    copy = AIModel(**{name: getattr(source, name) for name in _COPIED_FIELDS})
    copy.model_id = (new_model_id or "").strip()
    copy.name = (new_name or "").strip()
    note = (reason or "").strip()
    return save_new_model(
        copy, user=user, reason=f"Duplicated from {source.model_id}" + (f": {note}" if note else "")
    )


def deprecate_models(models_to_change: Iterable[AIModel], *, user: Any, reason: str) -> list[AIModel]:
    """Mark models deprecated (nobody can select them any more). Returns those that were not already."""
    return _set_status(
        models_to_change, ModelStatus.DEPRECATED, ChangeType.DEPRECATED, user=user, reason=reason
    )


def reactivate_models(
    models_to_change: Iterable[AIModel], *, user: Any, reason: str, status: str = ModelStatus.ACTIVE
) -> list[AIModel]:
    """Make deprecated models selectable again as ``status`` (active or beta). Returns those changed."""
    if status == ModelStatus.DEPRECATED or status not in ModelStatus.values:
        raise ValidationError({"status": "Reactivate as active or beta."})
    return _set_status(
        models_to_change, status, ChangeType.REACTIVATED, user=user, reason=reason, only_deprecated=True
    )


def _set_status(
    models_to_change: Iterable[AIModel],
    status: str,
    change_type: str,
    *,
    user: Any,
    reason: str,
    only_deprecated: bool = False,
) -> list[AIModel]:
    reason = require_reason(reason)
    wanted = {model.pk for model in models_to_change}
    changed = []
    with writes.change_set(user=user, reason=reason, summary=f"{change_type.capitalize()} models"):
        # Locked in key order, whatever order the selection came in: no deadlock with an import.
        for model in writes.lock_in_order(AIModel, wanted).values():
            if model.status == status or (only_deprecated and model.status != ModelStatus.DEPRECATED):
                continue  # an edit saved since the page loaded is kept, not overwritten
            writes.update(
                model, user=user, reason=reason, changes={"status": status}, change_type=change_type
            )
            changed.append(model)
    return changed


def revert_model(
    model: AIModel,
    *,
    to_version: int,
    user: Any,
    reason: str,
    expected_version: int | None = None,
) -> AIModel:
    """Restore ``model``'s fields as of ``to_version``, as a new version "Reverted to vN: <reason>"."""
    return writes.revert(
        model, to_version=to_version, user=user, reason=reason, expected_version=expected_version
    )


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    providers_created: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def seed_models(
    configs: Iterable[ModelConfig],
    *,
    provider_names: Mapping[str, str],
    dry_run: bool = False,
    user: Any = None,
    reason: str = SEED_REASON,
) -> SeedResult:
    """Create every model of ``configs`` that the database lacks, in one transaction.

    Existing model ids are skipped, never overwritten. If any model fails
    validation, nothing is written and the failures are listed in ``errors``.
    """
    reason = require_reason(reason)
    configs = list(configs)
    result = SeedResult(dry_run=dry_run)
    if dry_run:
        to_create, providers = _seed_plan(configs, result)
        result.created = [c.id for c in to_create]
        result.providers_created = sorted({c.provider for c in to_create} - set(providers))
        return result

    with writes.change_set(user=user, reason=reason, summary="Seed from the static catalog"):
        # Seeds of parallel deploys queue here; the later ones then find the ids and skip them.
        writes.serialize("seed_models")
        to_create, providers = _seed_plan(configs, result)
        for config in to_create:
            try:
                provider = providers.get(config.provider)
                new_provider = provider is None
                with transaction.atomic():  # a savepoint, so one failure leaves the rest usable
                    if new_provider:
                        provider = Provider(
                            slug=config.provider,
                            name=provider_names.get(config.provider, config.provider),
                            first_party=config.provider_first_party,
                        )
                        writes.create(provider, user=user, reason=reason)
                    writes.create(
                        AIModel(provider=provider, **field_values_from_config(config)),
                        user=user,
                        reason=reason,
                    )
                if new_provider:  # only once its savepoint held: a rolled-back provider is not reused
                    providers[config.provider] = provider
                    result.providers_created.append(provider.slug)
                result.created.append(config.id)
            except ValidationError as exc:
                result.errors[config.id] = "; ".join(error_lines(exc))
        if result.errors:
            # All or nothing: a partly seeded catalog is worse than none.
            transaction.set_rollback(True)
            result.providers_created = []
    return result


def _seed_plan(
    configs: list[ModelConfig], result: SeedResult
) -> tuple[list[ModelConfig], dict[str, Provider]]:
    """The configs to create (the others are listed as skipped) and the providers that exist."""
    ids = [config.id for config in configs]
    existing_ids = set(AIModel.objects.filter(model_id__in=ids).values_list("model_id", flat=True))
    to_create = [config for config in configs if config.id not in existing_ids]
    result.skipped = [config.id for config in configs if config.id in existing_ids]
    slugs = {config.provider for config in to_create}
    return to_create, {provider.slug: provider for provider in Provider.objects.filter(slug__in=slugs)}


_COPIED_FIELDS = tuple(field.name for field in writes.restorable_fields(AIModel) if field.name != "name")


# --- JSON import -------------------------------------------------------------

IMPORT_BATCH_SIZE = 500


class ImportRejected(ValidationError):
    """An import that would not apply cleanly; nothing was written. ``plan.errors`` says why, row by row."""

    def __init__(self, plan: ImportPlan, message: str | None = None) -> None:
        self.plan = plan
        super().__init__([message] if message else [str(error) for error in plan.errors])


@dataclass
class ImportOutcome:
    plan: ImportPlan
    dry_run: bool
    new_providers: list[str] = field(default_factory=list)  # slugs created (or, in a dry run, to create)
    saved: dict[str, AIModel] = field(default_factory=dict)  # model id → created or updated row

    @property
    def created(self) -> int:
        return self.plan.count(NEW)

    @property
    def updated(self) -> int:
        return self.plan.count(UPDATE)


def import_default_reason(file_name: str | None) -> str:
    return f"Imported from {file_name}" if file_name else "Imported from a JSON file"


def import_models(
    entries: list[Any],
    *,
    user: Any,
    reason: str,
    dry_run: bool = False,
    expected_digest: str | None = None,
    create_providers: bool = False,
) -> ImportOutcome:
    """Merge ``entries`` (import-file objects, see :mod:`models_registry.domain.imports`) into the catalog.

    New ids are created, existing ones updated, nothing is deleted. Every row
    is validated (file shape and database rules) before anything is written;
    if any row fails, :class:`ImportRejected` lists them all and nothing is
    written. Otherwise everything is written in one transaction: each created
    or updated model gets one history row with ``user`` and ``reason``;
    unchanged rows get none. ``dry_run`` validates and plans only.
    ``expected_digest`` (from a preview) refuses the import if what it would do
    has changed since. ``create_providers`` creates the providers the file names
    that do not exist yet (named by the entries' ``provider_name``, else their slug);
    without it they are row errors.
    """
    reason = require_reason(reason)
    scope = (
        transaction.atomic()
        if dry_run
        else writes.change_set(user=user, reason=reason, summary=f"JSON import of {len(entries)} entries")
    )
    try:
        with scope:
            return _import_in_transaction(
                entries,
                user=user,
                reason=reason,
                dry_run=dry_run,
                expected_digest=expected_digest,
                create_providers=create_providers,
            )
    except IntegrityError:
        # A concurrent write created one of our new ids between our plan and our insert.
        raise ImportRejected(
            ImportPlan(rows=(), errors=()),
            "Another change to the catalog collided with this import. Upload the file again.",
        ) from None


def _import_in_transaction(
    entries: list[Any],
    *,
    user: Any,
    reason: str,
    dry_run: bool,
    expected_digest: str | None,
    create_providers: bool,
) -> ImportOutcome:
    ids = [
        entry["id"] for entry in entries if isinstance(entry, Mapping) and isinstance(entry.get("id"), str)
    ]
    existing_rows = AIModel.objects.select_related("provider").filter(model_id__in=ids)
    if not dry_run:
        # Nobody may change these rows between our plan and our write; locked in
        # key order like every bulk write, so a concurrent deprecate cannot deadlock with us.
        existing_rows = existing_rows.select_for_update(of=("self",), no_key=True).order_by("pk")
    existing = {row.model_id: row for row in existing_rows}
    befores = {model_id: writes.snapshot(row) for model_id, row in existing.items()}
    providers = {provider.slug: provider for provider in Provider.objects.all()}
    new_providers = _missing_providers(entries, providers) if create_providers else {}
    providers.update(new_providers)  # unsaved until the import is written
    plan = plan_import(
        entries,
        # Compared with the prices in force (a scheduled price may have taken effect since the last write).
        current={model_id: _in_force(config_from_model(row)) for model_id, row in existing.items()},
        provider_slugs=providers,
    )
    instances = _import_instances(plan, existing, befores, providers, user)
    plan = plan.with_errors(_database_errors(plan, instances) + _history_errors(plan, befores))
    if not plan.ok:
        raise ImportRejected(plan)
    if expected_digest is not None and expected_digest != plan.digest:
        raise ImportRejected(
            plan,
            "The catalog changed since the preview, so the import would now do something else. "
            "Upload the file again to review the new preview.",
        )
    used = {row.values["provider"] for row in plan.rows if row.action in (NEW, UPDATE)}
    outcome = ImportOutcome(plan=plan, dry_run=dry_run, new_providers=sorted(set(new_providers) & used))
    if dry_run:
        return outcome

    for slug in outcome.new_providers:
        writes.create(new_providers[slug], user=user, reason=reason)
    for instance in instances.values():  # rows planned against a provider that was not saved yet
        if instance.provider_id is None:
            instance.provider = instance.provider
    user = writes.acting_user(user)
    new = [instances[row.model_id] for row in plan.rows if row.action == NEW]
    updated = [instances[row.model_id] for row in plan.rows if row.action == UPDATE]
    for instance in (*new, *updated):
        instance._history_user = user
        instance._change_reason = reason
    if new:
        for instance in new:
            instance.version = 1
        new = bulk_create_with_history(
            new, AIModel, batch_size=IMPORT_BATCH_SIZE, default_user=user, default_change_reason=reason
        )
        writes.record_bulk(new, [None] * len(new), user=user, reason=reason, change_type=ChangeType.CREATED)
    if updated:
        _write_updates(
            updated, [befores[instance.model_id] for instance in updated], user=user, reason=reason
        )
        writes.record_bulk(
            updated,
            [befores[instance.model_id] for instance in updated],
            user=user,
            reason=reason,
            change_type=ChangeType.UPDATED,
        )
    outcome.saved = {instance.model_id: instance for instance in (*new, *updated)}
    writes.announce_writes(outcome.saved.values())
    return outcome


def _write_updates(
    instances: list[AIModel], befores: list[Mapping[str, Any]], *, user: Any, reason: str
) -> None:
    """Write imported updates and their history rows.

    One UPDATE per distinct set of new values, so a price sheet that moves
    many models alike costs a few statements; Django's ``bulk_update`` would
    build a CASE expression per row and column, which is far slower here.
    """
    now = timezone.now()
    groups: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for instance, before in zip(instances, befores, strict=True):
        after = writes.snapshot(instance)  # the file's changes and what they imply (the price timeline)
        values = {attname: value for attname, value in after.items() if value != before[attname]}
        key = json.dumps(values, sort_keys=True, default=str)
        groups.setdefault(key, (values, []))[1].append(instance.pk)
        instance.updated_at = now
        instance.version += 1  # the rows are locked: the stored version is the one we read
    for values, pks in groups.values():
        for start in range(0, len(pks), IMPORT_BATCH_SIZE):
            AIModel.objects.filter(pk__in=pks[start : start + IMPORT_BATCH_SIZE]).update(
                **values, updated_at=now, updated_by=user, version=F("version") + 1
            )
    AIModel.history.bulk_history_create(
        instances, batch_size=IMPORT_BATCH_SIZE, update=True, default_user=user, default_change_reason=reason
    )


def _in_force(config: ModelConfig) -> ModelConfig:
    pricing, _ = config.pricing_at()
    return config if pricing is config.pricing else dataclasses.replace(config, pricing=pricing)


def _missing_providers(entries: list[Any], existing: Mapping[str, Provider]) -> dict[str, Provider]:
    """Unsaved providers for the well-formed slugs the entries name that do not exist yet."""
    missing: dict[str, Provider] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        slug = entry.get("provider")
        if (
            not isinstance(slug, str)
            or slug in existing
            or slug in missing
            or not PROVIDER_SLUG_PATTERN.match(slug)
        ):
            continue
        name = entry.get("provider_name")
        missing[slug] = Provider(
            slug=slug,
            name=name.strip()[:100] if isinstance(name, str) and name.strip() else slug,
            # A reseller unless the file says otherwise (a catalog-shaped file's providers can).
            first_party=entry.get("provider_first_party") is True,
        )
    return missing


def _import_instances(
    plan: ImportPlan,
    existing: Mapping[str, AIModel],
    befores: Mapping[str, Mapping[str, Any]],
    providers: Mapping[str, Provider],
    user: Any,
) -> dict[str, AIModel]:
    """Unsaved model objects holding each new or updated row's values."""
    instances = {}
    now = timezone.now()
    for row in plan.rows:
        if row.action not in (NEW, UPDATE):
            continue
        values = dict(row.values)
        provider = providers[values.pop("provider")]
        if row.action == NEW:
            instance = AIModel(provider=provider, created_by=user, updated_by=user, **values)
        else:
            instance = existing[row.model_id]
            changes = instance.changes_from_current(
                {change.field: change.new for change in row.changes if change.field != "provider"}, now
            )
            for column, value in changes.items():
                setattr(instance, column, value)
            if any(change.field == "provider" for change in row.changes):
                instance.provider = provider
            instance.before_write(dict(befores[row.model_id]), now)
            instance.updated_by = user
        instances[row.model_id] = instance
    return instances


def _history_errors(plan: ImportPlan, befores: Mapping[str, Mapping[str, Any]]) -> list[RowError]:
    """Rows whose price timeline rewrites prices that took effect already."""
    now = timezone.now()
    errors = []
    for row in plan.rows:
        if row.action != UPDATE or not any(change.field == "price_schedule" for change in row.changes):
            continue
        problem = rewritten_history(
            befores[row.model_id]["price_schedule"] or [], row.values["price_schedule"] or [], now
        )
        if problem:
            errors.append(RowError(row.number, row.model_id, "price_schedule", problem))
    return errors


def _database_errors(plan: ImportPlan, instances: Mapping[str, AIModel]) -> list[RowError]:
    """Rules only the model knows (lengths, choices, validators, ``clean()``), per row and field."""
    errors = []
    for row in plan.rows:
        instance = instances.get(row.model_id)
        if instance is None:
            continue
        try:
            # Foreign keys were resolved from in-memory maps; uniqueness is
            # settled by the plan (one row per id, existing ids are updates);
            # the check constraints repeat the field validators. Skipping
            # those keeps validation free of per-row queries.
            instance.clean_fields(exclude=["provider", "created_by", "updated_by"])
            instance.clean()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                key = ENTRY_KEY_FOR_FIELD.get(name, name)
                errors.extend(RowError(row.number, row.model_id, key, message) for message in messages)
    return errors
