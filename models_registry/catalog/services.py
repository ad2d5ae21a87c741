"""Write services for the catalog.

Every write takes the acting user (``None`` for system jobs) and a reason,
validates fully, records a history row with both, and bumps the catalog
version when its transaction commits. Admin classes, views and commands call
these instead of saving models themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from models_registry.audit.history import AUDIT_FIELDS, FieldChange, Version, version_of, versions_of
from models_registry.catalog.conversions import config_from_model
from models_registry.catalog.models import AIModel, ModelStatus, Provider
from models_registry.domain.fields import field_values_from_config
from models_registry.domain.imports import (
    ENTRY_KEY_FOR_FIELD,
    NEW,
    UPDATE,
    ImportPlan,
    PlannedRow,
    RowError,
    plan_import,
)
from models_registry.domain.types import ModelConfig, format_money
from models_registry.read.catalog_version import bump_on_commit

SEED_REASON = "Initial seed from static catalog"


def require_reason(reason: str | None) -> str:
    """A change reason is mandatory on every write; return it stripped."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason for the change is required."})
    return reason


def save_with_history(obj: models.Model, *, user: Any, reason: str) -> None:
    """Validate and save ``obj``, recording ``user`` and ``reason`` on its history row."""
    obj.full_clean()
    obj._history_user = user  # read by simple-history instead of the request user
    obj._change_reason = reason
    obj.save()


def refresh_locked(obj: models.Model) -> None:
    """Reload ``obj`` from the database and lock its row until the transaction ends."""
    obj.refresh_from_db(from_queryset=type(obj)._default_manager.select_for_update())


def create_provider(*, slug: str, name: str, user: Any, reason: str) -> Provider:
    return save_new_provider(Provider(slug=slug, name=name), user=user, reason=reason)


def save_new_provider(provider: Provider, *, user: Any, reason: str) -> Provider:
    """Save an unsaved ``provider`` (built by a form, say) as its version 1."""
    reason = require_reason(reason)
    with transaction.atomic():
        save_with_history(provider, user=user, reason=reason)
        bump_on_commit()
    return provider


def update_provider(provider: Provider, *, user: Any, reason: str, changes: Mapping[str, Any]) -> Provider:
    """Apply ``changes`` (field → new value) to ``provider`` as one new version."""
    reason = require_reason(reason)
    with transaction.atomic():
        refresh_locked(provider)
        for name, value in changes.items():
            setattr(provider, name, value)
        save_with_history(provider, user=user, reason=reason)
        bump_on_commit()
    return provider


def create_model(*, provider: Provider, user: Any, reason: str, **values: Any) -> AIModel:
    """Create one model. ``values`` are ``AIModel`` field values."""
    return save_new_model(AIModel(provider=provider, **values), user=user, reason=reason)


def save_new_model(model: AIModel, *, user: Any, reason: str) -> AIModel:
    """Save an unsaved ``model`` built elsewhere (e.g. by the admin's form) as its version 1."""
    reason = require_reason(reason)
    if model.pk is not None:
        raise ValueError(f"{model} is already saved; use update_model()")
    model.created_by = model.updated_by = user
    with transaction.atomic():
        save_with_history(model, user=user, reason=reason)
        bump_on_commit()
    return model


def version_number(instance: models.Model) -> int:
    """How many versions ``instance`` has: the number of its latest version (see ``history.versions_of``)."""
    return instance.history.count()


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


class EditConflict(ValidationError):
    """The object changed after the editor opened it; saving would silently undo those changes."""

    def __init__(self, instance: models.Model, seen_version: int, versions: list[Version]) -> None:
        self.instance = instance
        self.seen_version = seen_version
        self.versions = versions
        lines = [
            f"{instance} was changed after you opened it (you edited version {seen_version}, "
            f"it is now at version {versions[-1].number if versions else seen_version}). "
            "Nothing was saved. Reload the page to edit the current version."
        ]
        for version in versions:
            changed = "; ".join(
                f"{change.field}: {describe_value(change.old)} → {describe_value(change.new)}"
                for change in version.changes
            )
            lines.append(
                f"Version {version.number} by {version.changed_by} at {version.at:%Y-%m-%d %H:%M:%S} UTC "
                f"({version.reason or 'no reason'}): {changed or 'no field changed'}"
            )
        super().__init__(lines)


def check_not_stale(instance: models.Model, expected_version: int | None) -> None:
    """Raise :class:`EditConflict` if ``instance`` has versions newer than ``expected_version``."""
    if expected_version is None:
        return
    if version_number(instance) != expected_version:
        newer = [version for version in versions_of(instance) if version.number > expected_version]
        raise EditConflict(instance, expected_version, newer)


def update_model(
    model: AIModel,
    *,
    user: Any,
    reason: str,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
) -> AIModel:
    """Apply ``changes`` (field → new value) to ``model`` as one new version.

    With ``expected_version`` (the version the editor saw), refuse with
    :class:`EditConflict` if someone saved a newer version meanwhile.
    """
    reason = require_reason(reason)
    if "model_id" in changes and changes["model_id"] != model.model_id:
        raise ValidationError({"model_id": "The model id cannot be changed after creation."})
    with transaction.atomic():
        # Lock the row and start from what is stored, so two editors that both saw
        # version N cannot both save N+1, and no stale in-memory field is written back.
        refresh_locked(model)
        if expected_version is not None:
            check_not_stale(model, expected_version)
        for name, value in changes.items():
            setattr(model, name, value)
        model.updated_by = user
        save_with_history(model, user=user, reason=reason)
        bump_on_commit()
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
    return _set_status(models_to_change, ModelStatus.DEPRECATED, user=user, reason=reason)


def reactivate_models(
    models_to_change: Iterable[AIModel], *, user: Any, reason: str, status: str = ModelStatus.ACTIVE
) -> list[AIModel]:
    """Make deprecated models selectable again as ``status`` (active or beta). Returns those changed."""
    if status == ModelStatus.DEPRECATED or status not in ModelStatus.values:
        raise ValidationError({"status": "Reactivate as active or beta."})
    deprecated = [model for model in models_to_change if model.status == ModelStatus.DEPRECATED]
    return _set_status(deprecated, status, user=user, reason=reason)


def _set_status(models_to_change: Iterable[AIModel], status: str, *, user: Any, reason: str) -> list[AIModel]:
    reason = require_reason(reason)
    changed = []
    with transaction.atomic():
        for model in models_to_change:
            refresh_locked(model)  # an edit saved since the page loaded is kept, not overwritten
            if model.status == status:
                continue
            model.status = status
            model.updated_by = user
            save_with_history(model, user=user, reason=reason)
            changed.append(model)
        if changed:
            bump_on_commit()
    return changed


def _revertible_fields() -> list[models.Field]:
    skipped = {"model_id", *AUDIT_FIELDS}
    return [f for f in AIModel._meta.concrete_fields if not f.primary_key and f.name not in skipped]


def revert_changes(model: AIModel, to_version: int) -> tuple[FieldChange, ...]:
    """What reverting ``model`` to ``to_version`` would change: current value → that version's value."""
    record = version_of(model, to_version).record
    changes = []
    for f in _revertible_fields():
        current, target = getattr(model, f.attname), getattr(record, f.attname)
        if current != target:
            changes.append(FieldChange(f.name, current, target))
    provider_ids = {c.old for c in changes if c.field == "provider"} | {
        c.new for c in changes if c.field == "provider"
    }
    if provider_ids:
        names = {p.pk: str(p) for p in Provider.objects.filter(pk__in=provider_ids)}
        changes = [
            FieldChange(c.field, names.get(c.old, c.old), names.get(c.new, c.new))
            if c.field == "provider"
            else c
            for c in changes
        ]
    return tuple(changes)


def revert_model(
    model: AIModel,
    *,
    to_version: int,
    user: Any,
    reason: str,
    expected_version: int | None = None,
) -> AIModel:
    """Restore ``model``'s fields as of ``to_version``, as a new version "Reverted to vN: <reason>".

    History is never rewritten; the restored values are validated like any
    edit. Raises ``LookupError`` for an unknown version and
    ``ValidationError`` if the version equals the current one.
    """
    reason = require_reason(reason)
    record = version_of(model, to_version).record
    changes = {
        f.attname: getattr(record, f.attname)
        for f in _revertible_fields()
        if getattr(model, f.attname) != getattr(record, f.attname)
    }
    if not changes:
        raise ValidationError(f"Version {to_version} is the same as the current version: nothing to revert.")
    return update_model(
        model,
        user=user,
        reason=f"Reverted to v{to_version}: {reason}",
        changes=changes,
        expected_version=expected_version,
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
    existing_ids = set(
        AIModel.objects.filter(model_id__in=[c.id for c in configs]).values_list("model_id", flat=True)
    )
    to_create = [c for c in configs if c.id not in existing_ids]
    result.skipped = [c.id for c in configs if c.id in existing_ids]
    providers = {p.slug: p for p in Provider.objects.filter(slug__in={c.provider for c in to_create})}

    if dry_run:
        result.created = [c.id for c in to_create]
        result.providers_created = sorted({c.provider for c in to_create} - set(providers))
        return result

    with transaction.atomic():
        for config in to_create:
            try:
                provider = providers.get(config.provider)
                new_provider = provider is None
                with transaction.atomic():  # a savepoint, so one failure leaves the rest usable
                    if new_provider:
                        provider = Provider(
                            slug=config.provider, name=provider_names.get(config.provider, config.provider)
                        )
                        save_with_history(provider, user=user, reason=reason)
                    model = AIModel(
                        provider=provider,
                        created_by=user,
                        updated_by=user,
                        **field_values_from_config(config),
                    )
                    save_with_history(model, user=user, reason=reason)
                if new_provider:  # only once its savepoint held: a rolled-back provider is not reused
                    providers[config.provider] = provider
                    result.providers_created.append(provider.slug)
                result.created.append(config.id)
            except ValidationError as exc:
                result.errors[config.id] = "; ".join(
                    f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()
                )
        if result.errors:
            # All or nothing: a partly seeded catalog is worse than none.
            transaction.set_rollback(True)
            result.providers_created = []
        elif result.created:
            bump_on_commit()
    return result


_COPIED_FIELDS = tuple(
    f.name
    for f in AIModel._meta.concrete_fields
    if not f.primary_key and f.name not in {"model_id", "name", *AUDIT_FIELDS}
)


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
) -> ImportOutcome:
    """Merge ``entries`` (import-file objects, see :mod:`models_registry.domain.imports`) into the catalog.

    New ids are created, existing ones updated, nothing is deleted. Every row
    is validated (file shape and database rules) before anything is written;
    if any row fails, :class:`ImportRejected` lists them all and nothing is
    written. Otherwise everything is written in one transaction: each created
    or updated model gets one history row with ``user`` and ``reason``;
    unchanged rows get none. ``dry_run`` validates and plans only.
    ``expected_digest`` (from a preview) refuses the import if what it would do
    has changed since.
    """
    reason = require_reason(reason)
    try:
        with transaction.atomic():
            return _import_in_transaction(
                entries, user=user, reason=reason, dry_run=dry_run, expected_digest=expected_digest
            )
    except IntegrityError:
        # A concurrent write created one of our new ids between our plan and our insert.
        raise ImportRejected(
            ImportPlan(rows=(), errors=()),
            "Another change to the catalog collided with this import. Upload the file again.",
        ) from None


def _import_in_transaction(
    entries: list[Any], *, user: Any, reason: str, dry_run: bool, expected_digest: str | None
) -> ImportOutcome:
    ids = [
        entry["id"] for entry in entries if isinstance(entry, Mapping) and isinstance(entry.get("id"), str)
    ]
    existing_rows = AIModel.objects.select_related("provider").filter(model_id__in=ids)
    if not dry_run:
        # Nobody may change these rows between our plan and our write.
        existing_rows = existing_rows.select_for_update(of=("self",))
    existing = {row.model_id: row for row in existing_rows}
    providers = {provider.slug: provider for provider in Provider.objects.all()}
    plan = plan_import(
        entries,
        current={model_id: config_from_model(row) for model_id, row in existing.items()},
        provider_slugs=providers,
    )
    instances = _import_instances(plan, existing, providers, user)
    plan = plan.with_errors(_database_errors(plan, instances))
    if not plan.ok:
        raise ImportRejected(plan)
    if expected_digest is not None and expected_digest != plan.digest:
        raise ImportRejected(
            plan,
            "The catalog changed since the preview, so the import would now do something else. "
            "Upload the file again to review the new preview.",
        )
    outcome = ImportOutcome(plan=plan, dry_run=dry_run)
    if dry_run:
        return outcome

    new = [instances[row.model_id] for row in plan.rows if row.action == NEW]
    updated = [instances[row.model_id] for row in plan.rows if row.action == UPDATE]
    for instance in (*new, *updated):
        instance._history_user = user
        instance._change_reason = reason
    if new:
        new = bulk_create_with_history(
            new, AIModel, batch_size=IMPORT_BATCH_SIZE, default_user=user, default_change_reason=reason
        )
    if updated:
        _write_updates([row for row in plan.rows if row.action == UPDATE], updated, user=user, reason=reason)
    outcome.saved = {instance.model_id: instance for instance in (*new, *updated)}
    if outcome.saved:
        bump_on_commit()
    return outcome


def _write_updates(rows: list[PlannedRow], instances: list[AIModel], *, user: Any, reason: str) -> None:
    """Write imported updates and their history rows.

    One UPDATE per distinct set of new values, so a price sheet that moves
    many models alike costs a few statements; Django's ``bulk_update`` would
    build a CASE expression per row and column, which is far slower here.
    """
    now = timezone.now()
    groups: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for row, instance in zip(rows, instances, strict=True):
        values = {
            ("provider_id" if change.field == "provider" else change.field): (
                instance.provider_id if change.field == "provider" else change.new
            )
            for change in row.changes
        }
        key = json.dumps(values, sort_keys=True, default=str)
        groups.setdefault(key, (values, []))[1].append(instance.pk)
        instance.updated_at = now
    for values, pks in groups.values():
        for start in range(0, len(pks), IMPORT_BATCH_SIZE):
            AIModel.objects.filter(pk__in=pks[start : start + IMPORT_BATCH_SIZE]).update(
                **values, updated_at=now, updated_by=user
            )
    AIModel.history.bulk_history_create(
        instances, batch_size=IMPORT_BATCH_SIZE, update=True, default_user=user, default_change_reason=reason
    )


def _import_instances(
    plan: ImportPlan, existing: Mapping[str, AIModel], providers: Mapping[str, Provider], user: Any
) -> dict[str, AIModel]:
    """Unsaved model objects holding each new or updated row's values."""
    instances = {}
    for row in plan.rows:
        if row.action not in (NEW, UPDATE):
            continue
        values = dict(row.values)
        provider = providers[values.pop("provider")]
        if row.action == NEW:
            instance = AIModel(provider=provider, created_by=user, updated_by=user, **values)
        else:
            instance = existing[row.model_id]
            for change in row.changes:
                setattr(instance, change.field, provider if change.field == "provider" else change.new)
            instance.updated_by = user
        instances[row.model_id] = instance
    return instances


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
