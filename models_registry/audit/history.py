"""Reading the audit trail: numbered versions and field-level diffs.

Works for any model tracked by django-simple-history (``AIModel``,
``Provider``, and the router's tables). The admin's history pages, revert and
the tests all read history through :func:`versions_of` / :func:`version_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models

from models_registry.domain.types import FieldChange

# Audit columns change on every save; the history row already records them.
AUDIT_FIELDS = ("created_at", "updated_at", "created_by", "updated_by")

CREATED, UPDATED, DEPRECATED, DELETED = "created", "updated", "deprecated", "deleted"


@dataclass(frozen=True, slots=True)
class Version:
    number: int
    change_type: str
    changes: tuple[FieldChange, ...]
    user: Any  # the user model instance, or None for system jobs
    reason: str
    at: datetime
    record: Any  # the historical row (``record.instance`` rebuilds the object as it was)

    @property
    def changed_by(self) -> str:
        return self.user.get_username() if self.user is not None else "system"

    @property
    def changed_fields(self) -> tuple[str, ...]:
        return tuple(change.field for change in self.changes)


def _display(value: Any) -> Any:
    # With foreign_keys_are_objs, related values are objects: show them by name.
    if isinstance(value, models.Model):
        return str(value)
    return value


def _change_type(record: Any, changes: tuple[FieldChange, ...]) -> str:
    if record.history_type == "+":
        return CREATED
    if record.history_type == "-":
        return DELETED
    for change in changes:
        if change.field == "status" and change.new == "deprecated":
            return DEPRECATED
    return UPDATED


def _initial_value(record: Any, field: models.Field) -> Any:
    if field.is_relation:
        try:  # show a related row by name, as the later diffs do
            return _display(getattr(record, field.name))
        except ObjectDoesNotExist:
            pass  # deleted since: its key is all there is
    return getattr(record, field.attname)


def _initial_changes(record: Any, excluded: set[str]) -> tuple[FieldChange, ...]:
    changes = []
    for field in record.instance_type._meta.fields:
        if field.name in excluded or field.primary_key or not hasattr(record, field.attname):
            continue  # audit columns, the key, and fields the history does not track
        changes.append(FieldChange(field.name, None, _initial_value(record, field)))
    return tuple(changes)


def versions_of(instance: models.Model) -> list[Version]:
    """Every version of ``instance``, oldest first, numbered from 1."""
    records = list(instance.history.select_related("history_user").order_by("history_date", "history_id"))
    excluded = set(AUDIT_FIELDS)
    versions: list[Version] = []
    previous = None
    for number, record in enumerate(records, start=1):
        if previous is None:
            changes = _initial_changes(record, excluded)
        else:
            delta = record.diff_against(
                previous,
                excluded_fields=[f for f in AUDIT_FIELDS if hasattr(record, f)],
                foreign_keys_are_objs=True,
            )
            changes = tuple(
                FieldChange(change.field, _display(change.old), _display(change.new))
                for change in delta.changes
            )
        versions.append(
            Version(
                number=number,
                change_type=_change_type(record, changes),
                changes=changes,
                user=record.history_user,
                reason=record.history_change_reason or "",
                at=record.history_date,
                record=record,
            )
        )
        previous = record
    return versions


def version_of(instance: models.Model, number: int) -> Version:
    """Version ``number`` (1-based) of ``instance``. Raises ``LookupError`` if there is none."""
    versions = versions_of(instance)
    if not 1 <= number <= len(versions):
        raise LookupError(f"{instance} has no version {number} (it has {len(versions)})")
    return versions[number - 1]
