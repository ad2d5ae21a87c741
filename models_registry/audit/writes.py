"""The one audited-write mechanism: every write to an audited table goes through here.

A write names the acting user (``None`` for system jobs), a reason and, for an
edit, the version the editor started from. Inside one transaction it locks
the row, refuses a stale version with :class:`EditConflict` (listing who
changed what meanwhile), validates, saves with ``version + 1``, records the
simple-history snapshot and a :class:`~models_registry.audit.models.ChangeRecord`
with user, reason and field diff, and bumps the catalog version on commit.

Rows are always locked in primary-key order, so two bulk writes over
overlapping rows wait for each other instead of deadlocking. Services of
each object type (catalog, rollout, router) call these functions; nothing
else saves an audited row.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from models_registry.audit.models import Audited, ChangeRecord, ChangeSet, ChangeType
from models_registry.audit.values import describe_field_value
from models_registry.read.catalog_version import CATALOG, bump_on_commit, version_expression

A = TypeVar("A", bound=Audited)


def require_reason(reason: str | None) -> str:
    """A change reason is mandatory on every write; return it stripped."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason for the change is required."})
    return reason


def acting_user(user: Any) -> Any:
    """The user to store: ``None`` for system jobs and anonymous users."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return None
    return user


def user_name(user: Any) -> str:
    user = acting_user(user)
    return user.get_username() if user is not None else ""


# --- change sets --------------------------------------------------------------


@dataclass
class _Scope:
    change_set: ChangeSet
    written: bool = False
    # What the block wrote, (table, pk) per table: the versions of their snapshot areas are bumped
    # once, when the block ends, and the rows stamped with them.
    written_rows: dict[type, set[Any]] = dataclasses.field(default_factory=dict)
    # Rows locked by lock_in_order() in this block: every later write of the block goes through
    # these same objects, so lock() hands them back instead of reading each row a second time.
    locked: dict[tuple[type, Any], Any] = dataclasses.field(default_factory=dict)


_scope: ContextVar[_Scope | None] = ContextVar("audit_change_set_scope", default=None)


@contextmanager
def change_set(*, user: Any, reason: str, summary: str = "") -> Iterator[None]:
    """Group every audited write inside into one change set, in one transaction.

    A block that writes nothing leaves no change set behind. Nested blocks
    join the outer one.
    """
    if _scope.get() is not None:
        yield
        return
    with transaction.atomic():
        # Created up front, outside any savepoint of the block, so a rolled-back
        # savepoint inside cannot take the change set with it.
        scope = _Scope(_new_change_set(user, require_reason(reason), summary))
        token = _scope.set(scope)
        try:
            yield
        finally:
            _scope.reset(token)
        if scope.written_rows and not transaction.get_rollback():
            # Once for the whole block, outside any savepoint inside it: a bulk write (an apply of
            # 500 changes) costs one version update per area, not one per row.
            _announce(scope.written_rows)
        if not scope.written and not transaction.get_rollback():
            scope.change_set.delete()  # (a rolled-back block takes it along anyway)


def announce_writes(objs: Iterable[models.Model]) -> None:
    """Say that these rows changed: now, or at the end of the enclosing change set.

    Their snapshot areas' versions move (once per area) and, for tables with a
    ``revision_field``, the rows are stamped with the new version.
    """
    written: dict[type, set[Any]] = {}
    for obj in objs:
        written.setdefault(type(obj), set()).add(obj.pk)
    if not written:
        return
    scope = _scope.get()
    if scope is None:
        _announce(written)
    else:
        for model, pks in written.items():
            scope.written_rows.setdefault(model, set()).update(pks)


def _announce(written: Mapping[type, set[Any]]) -> None:
    bump_on_commit(getattr(model, "snapshot_area", CATALOG) for model in written)
    for model, pks in written.items():
        revision_field = getattr(model, "revision_field", None)
        if revision_field:
            version = version_expression(model.snapshot_area)
            rows = list(pks)
            for start in range(0, len(rows), _STAMP_BATCH):  # SQLite caps the parameters of a query
                batch = rows[start : start + _STAMP_BATCH]
                model._default_manager.filter(pk__in=batch).update(**{revision_field: version})


_STAMP_BATCH = 900


def current_change_set() -> ChangeSet | None:
    """The change set the enclosing :func:`change_set` block writes to, if any."""
    scope = _scope.get()
    return scope.change_set if scope is not None else None


def _new_change_set(user: Any, reason: str, summary: str) -> ChangeSet:
    user = acting_user(user)
    return ChangeSet.objects.create(
        created_at=timezone.now(), user=user, user_name=user_name(user), reason=reason, summary=summary
    )


def _current_change_set(user: Any, reason: str) -> ChangeSet:
    scope = _scope.get()
    if scope is None:
        return _new_change_set(user, reason, "")
    scope.written = True
    return scope.change_set


# --- field values -------------------------------------------------------------


def tracked_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields an audited write diffs, restores and shows: all but identity and bookkeeping."""
    excluded = {*getattr(model, "audit_excluded_fields", ()), getattr(model, "revision_field", None)}
    return [
        field for field in model._meta.concrete_fields if not field.primary_key and field.name not in excluded
    ]


def _display(field: models.Field, value: Any, related: Mapping[tuple[str, Any], str] | None = None) -> str:
    if field.is_relation and value is not None:
        if related is not None and (field.name, value) in related:
            return related[(field.name, value)]
        return str(value)
    return describe_field_value(field, value)


def _related_names(obj: models.Model, fields: Iterable[models.Field], values: Iterable[Any]) -> dict:
    """Readable names of related rows by key; loaded only for the relation fields that changed."""
    names: dict[tuple[str, Any], str] = {}
    for field, value in zip(fields, values, strict=True):
        if not field.is_relation or value is None:
            continue
        cached = field.get_cached_value(obj, default=None) if field.is_cached(obj) else None
        target = field.target_field.attname
        if cached is not None and getattr(cached, target) == value:
            names[(field.name, value)] = str(cached)
            continue
        row = field.related_model._default_manager.filter(**{target: value}).first()
        names[(field.name, value)] = str(row) if row is not None else str(value)
    return names


def field_diff(obj: models.Model, before: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The change log's diff of ``obj`` against ``before`` (attname → value; ``None`` for a creation)."""
    fields, olds, news = [], [], []
    for field in tracked_fields(type(obj)):
        new = getattr(obj, field.attname)
        old = None if before is None else before[field.attname]
        if before is not None and old == new:
            continue
        fields.append(field)
        olds.append(old)
        news.append(new)
    related = _related_names(obj, fields, news)
    if before is not None:
        related.update(_related_names(obj, fields, olds))
    return [
        {
            "field": field.name,
            "old": "" if before is None else _display(field, old, related),
            "new": _display(field, new, related),
        }
        for field, old, new in zip(fields, olds, news, strict=True)
    ]


def snapshot(obj: models.Model) -> dict[str, Any]:
    return {field.attname: getattr(obj, field.attname) for field in tracked_fields(type(obj))}


# --- conflicts ----------------------------------------------------------------


class WriteRefused(Exception):
    """A write that a rule of its object type refused (the rollout's stages, say); the message says why."""


class EditConflict(ValidationError):
    """The object changed after the editor opened it; saving would silently undo those changes."""

    def __init__(self, instance: models.Model, seen_version: int, records: Sequence[ChangeRecord]) -> None:
        self.instance = instance
        self.seen_version = seen_version
        self.records = list(records)
        current = getattr(instance, "version", seen_version)
        lines = [
            f"{instance} was changed after you opened it (you edited version {seen_version}, "
            f"it is now at version {current}). Nothing was saved. Your input is kept below: "
            "reload the page to edit the current version."
        ]
        for record in self.records:
            changed = "; ".join(f"{d['field']}: {d['old']} → {d['new']}" for d in record.diff)
            lines.append(
                f"Version {record.version} by {record.changed_by} at {record.at:%Y-%m-%d %H:%M:%S} UTC "
                f"({record.reason or 'no reason'}): {changed or 'no field changed'}"
            )
        super().__init__(lines)


def records_since(obj: models.Model, version: int) -> list[ChangeRecord]:
    return list(
        ChangeRecord.objects.filter(
            content_type=ContentType.objects.get_for_model(type(obj)),
            object_pk=str(obj.pk),
            version__gt=version,
        ).order_by("version")
    )


def check_version(obj: Audited, expected_version: int | None) -> None:
    """Raise :class:`EditConflict` if ``obj`` (read under its row lock) moved past ``expected_version``."""
    if expected_version is not None and obj.version != expected_version:
        raise EditConflict(obj, expected_version, records_since(obj, expected_version))


def serialize(name: str) -> None:
    """Wait for any other transaction that called ``serialize(name)``, until this transaction ends.

    A PostgreSQL advisory lock: for check-then-insert jobs (seeds) that parallel
    deploys may run at once. SQLite serializes writers by itself.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def lock(model: type[A], pk: Any) -> A:
    """The row as stored, locked until the transaction ends. Raises ``model.DoesNotExist``.

    ``FOR NO KEY UPDATE`` (PostgreSQL): an audited row's key never changes, and a plain
    ``FOR UPDATE`` would also block the foreign-key checks of writes to rows that reference it
    (a model write re-checks its provider when it is stamped, after taking the version row:
    with a provider edit waiting on that row, a deadlock).
    """
    scope = _scope.get()
    if scope is not None and (model, pk) in scope.locked:
        return scope.locked[(model, pk)]
    return model._default_manager.select_for_update(no_key=True).get(pk=pk)


def lock_in_order(model: type[A], pks: Iterable[Any]) -> dict[Any, A]:
    """Lock many rows in primary-key order (the one global order, so bulk writes cannot deadlock).

    Inside a :func:`change_set` block the block's writes of these rows must use these objects.
    """
    rows = {
        row.pk: row
        for row in model._default_manager.select_for_update(no_key=True)
        .filter(pk__in=list(pks))
        .order_by("pk")
    }
    scope = _scope.get()
    if scope is not None:
        scope.locked.update({(model, pk): row for pk, row in rows.items()})
    return rows


# --- writes -------------------------------------------------------------------


def _stamp(obj: models.Model, user: Any, *, created: bool) -> None:
    names = {field.name for field in obj._meta.concrete_fields}
    if "updated_by" in names:
        obj.updated_by = user
    if created and "created_by" in names:
        obj.created_by = user


def _save(obj: models.Model, *, user: Any, reason: str, new: bool) -> None:
    obj._history_user = user  # read by simple-history instead of the request's user
    obj._change_reason = reason
    if not new:
        obj.save()  # validated in full; identity (the only unique columns) never changes
        return
    try:
        with (
            transaction.atomic()
        ):  # a savepoint: a concurrent insert of the same key leaves the caller usable
            obj.save()
    except IntegrityError as error:
        raise ValidationError(f"The database refused the new row: {error}") from None


def _record(
    obj: models.Model, *, user: Any, reason: str, change_type: str, diff: list[dict[str, str]]
) -> ChangeRecord:
    now = timezone.now()
    return ChangeRecord.objects.create(
        change_set=_current_change_set(user, reason),
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_pk=str(obj.pk),
        object_repr=str(obj)[:200],
        version=obj.version,
        change_type=change_type,
        at=now,
        user=user,
        user_name=user_name(user),
        reason=reason,
        diff=diff,
    )


def _clean(obj: models.Model, *, new: bool, changed: Iterable[str] = ()) -> None:
    # Uniqueness matters for new rows only (identity fields never change). An
    # edit re-validates the fields it changes (stored values were valid) and the
    # whole object's clean(); the acting user was just authenticated.
    if new:
        obj.full_clean(exclude=["created_by", "updated_by"])
        return
    changed = set(changed)
    unchanged = [field.name for field in obj._meta.concrete_fields if field.attname not in changed]
    obj.full_clean(exclude=unchanged, validate_unique=False)


def create(obj: A, *, user: Any, reason: str, change_type: str = ChangeType.CREATED) -> A:
    """Validate and save the unsaved ``obj`` as its version 1."""
    reason = require_reason(reason)
    user = acting_user(user)
    if obj.pk is not None and type(obj)._default_manager.filter(pk=obj.pk).exists():
        raise ValueError(f"{obj} is already saved; use update()")
    with transaction.atomic():
        _stamp(obj, user, created=True)
        obj.version = 1
        _clean(obj, new=True)
        _save(obj, user=user, reason=reason, new=True)
        _record(obj, user=user, reason=reason, change_type=change_type, diff=field_diff(obj, None))
        announce_writes([obj])
    return obj


@contextmanager
def _transaction() -> Iterator[None]:
    """A transaction, or the caller's if it has one.

    Inside the caller's transaction no savepoint is taken: every refusal
    (stale version, no change, invalid value) is raised before the first write,
    so the caller's transaction stays usable, and a save costs two queries less.
    """
    if transaction.get_connection().in_atomic_block:
        yield
    else:
        with transaction.atomic():
            yield


def update(
    obj: A,
    *,
    user: Any,
    reason: str,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
    change_type: str = ChangeType.UPDATED,
) -> A:
    """Apply ``changes`` (field name → value) to the stored row as one new version.

    ``expected_version`` is the version the editor started from: if the row
    moved on, nothing is written and :class:`EditConflict` says what changed.
    A write that changes nothing is refused. ``obj`` is refreshed to the saved state.
    """
    reason = require_reason(reason)
    user = acting_user(user)
    model = type(obj)
    immutable = [name for name in getattr(model, "immutable_fields", ()) if name in changes]
    with _transaction():
        row = lock(model, obj.pk)
        check_version(row, expected_version)
        for name in immutable:
            if changes[name] != getattr(row, name):
                raise ValidationError({name: "This cannot be changed after creation."})
        now = timezone.now()
        changes = row.changes_from_current(dict(changes), now)
        before = snapshot(row)
        for name, value in changes.items():
            setattr(row, name, value)
        row.before_write(before, now)
        after = snapshot(row)
        if after == before:
            raise ValidationError("Nothing to save: no field differs from the current version.")
        _stamp(row, user, created=False)
        row.version += 1
        _clean(row, new=False, changed=[name for name in after if after[name] != before[name]])
        _save(row, user=user, reason=reason, new=False)
        if change_type == ChangeType.UPDATED:  # a plain edit may still be a deprecation, say
            change_type = row.change_type_of(before, after)
        _record(row, user=user, reason=reason, change_type=change_type, diff=field_diff(row, before))
        announce_writes([row])
    copy_state(row, obj)
    return obj


def copy_state(source: models.Model, target: models.Model) -> None:
    if source is target:
        return
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.fields_cache = dict(source._state.fields_cache)


def record_bulk(
    objs: Sequence[Audited],
    befores: Sequence[Mapping[str, Any] | None],
    *,
    user: Any,
    reason: str,
    change_type: str,
) -> None:
    """Change records for rows a bulk write (an import) saved with ``version`` already set."""
    if not objs:
        return
    user = acting_user(user)
    content_type = ContentType.objects.get_for_model(type(objs[0]))
    change_set_row = _current_change_set(user, reason)
    now = timezone.now()
    # Built and inserted a batch at a time: 5,000 records with their diffs held at once were the
    # peak of a large import's memory.
    for start in range(0, len(objs), _RECORD_BATCH):
        batch = zip(objs[start : start + _RECORD_BATCH], befores[start : start + _RECORD_BATCH], strict=True)
        ChangeRecord.objects.bulk_create(
            [
                ChangeRecord(
                    change_set=change_set_row,
                    content_type=content_type,
                    object_pk=str(obj.pk),
                    object_repr=str(obj)[:200],
                    version=obj.version,
                    change_type=(
                        obj.change_type_of(before, snapshot(obj))
                        if before is not None and change_type == ChangeType.UPDATED
                        else change_type
                    ),
                    at=now,
                    user=user,
                    user_name=user_name(user),
                    reason=reason,
                    diff=field_diff(obj, before),
                )
                for obj, before in batch
            ]
        )


_RECORD_BATCH = 500


# --- history snapshots and revert ----------------------------------------------


def historical_record(obj: models.Model, version: int) -> Any:
    """The simple-history snapshot of ``obj`` at ``version``. Raises ``LookupError``."""
    record = type(obj).history.filter(**{obj._meta.pk.attname: obj.pk, "version": version}).first()
    if record is None:
        raise LookupError(f"{obj} has no version {version}")
    return record


def values_at(obj: models.Model, version: int) -> dict[str, Any]:
    """``obj``'s tracked field values (by attname) as of ``version``."""
    record = historical_record(obj, version)
    return {field.attname: getattr(record, field.attname) for field in tracked_fields(type(obj))}


def restorable_fields(model: type[models.Model]) -> list[models.Field]:
    immutable = set(getattr(model, "immutable_fields", ()))
    return [field for field in tracked_fields(model) if field.name not in immutable]


def revert_changes(obj: models.Model, to_version: int) -> dict[str, tuple[Any, Any]]:
    """What reverting ``obj`` to ``to_version`` would change: attname → (current, restored).

    The restored values go through the object's ``before_write`` like any edit,
    so the preview shows what the revert will store (a price timeline keeps its
    history, say).
    """
    target = values_at(obj, to_version)
    current = snapshot(obj)
    fields = restorable_fields(type(obj))
    probe = copy.copy(obj)
    for field in fields:
        setattr(probe, field.attname, target[field.attname])
    probe.before_write(current, timezone.now())
    return {
        field.attname: (current[field.attname], getattr(probe, field.attname))
        for field in fields
        if current[field.attname] != getattr(probe, field.attname)
    }


def revert(obj: A, *, to_version: int, user: Any, reason: str, expected_version: int | None = None) -> A:
    """Restore ``obj`` as of ``to_version`` as a new version of type ``reverted``.

    History is never rewritten; the restored values are validated like any
    edit. Raises ``LookupError`` for an unknown version and ``ValidationError``
    if nothing would change.
    """
    reason = require_reason(reason)
    with _transaction():
        row = lock(type(obj), obj.pk)
        check_version(row, expected_version)
        changes = {name: restored for name, (_, restored) in revert_changes(row, to_version).items()}
        if not changes:
            raise ValidationError(
                f"Version {to_version} is the same as the current version: nothing to revert."
            )
        update(
            row,
            user=user,
            reason=f"Reverted to v{to_version}: {reason}",
            changes=changes,
            change_type=ChangeType.REVERTED,
        )
    copy_state(row, obj)
    return obj
