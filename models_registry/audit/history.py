"""Reading the audit trail: an object's versions, two versions compared, an object as of a version.

Works for every audited table. Versions and their diffs come from the change
log (:class:`~models_registry.audit.models.ChangeRecord`, one query per
object); full snapshots for "as of" and compare come from simple-history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from models_registry.audit.models import ChangeRecord
from models_registry.audit.values import describe_field_value, describe_value
from models_registry.audit.writes import historical_record, tracked_fields
from models_registry.domain.types import FieldChange


@dataclass(frozen=True, slots=True)
class Version:
    number: int
    change_type: str
    changes: tuple[FieldChange, ...]  # display strings: old → new
    changed_by: str  # the user's name as it was when they saved, "system" for jobs
    user_id: int | None
    reason: str
    at: datetime
    change_set_id: Any

    @property
    def changed_fields(self) -> tuple[str, ...]:
        return tuple(change.field for change in self.changes)


def _version(record: ChangeRecord) -> Version:
    return Version(
        number=record.version,
        change_type=record.change_type,
        changes=tuple(FieldChange(d["field"], d["old"], d["new"]) for d in record.diff),
        changed_by=record.changed_by,
        user_id=record.user_id,
        reason=record.reason,
        at=record.at,
        change_set_id=record.change_set_id,
    )


def records_of(instance: models.Model):
    return ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(type(instance)), object_pk=str(instance.pk)
    )


def versions_of(instance: models.Model) -> list[Version]:
    """Every version of ``instance``, oldest first."""
    return [_version(record) for record in records_of(instance).order_by("version")]


def version_of(instance: models.Model, number: int) -> Version:
    """Version ``number`` of ``instance``. Raises ``LookupError`` if there is none."""
    record = records_of(instance).filter(version=number).first()
    if record is None:
        raise LookupError(f"{instance} has no version {number}")
    return _version(record)


def _related_display(field: models.Field, value: Any) -> str:
    if value is None:
        return describe_value(None)
    row = field.related_model._default_manager.filter(**{field.target_field.attname: value}).first()
    return str(row) if row is not None else str(value)


def display_value(field: models.Field, value: Any) -> str:
    """A stored value as people read it; related rows by name."""
    return _related_display(field, value) if field.is_relation else describe_field_value(field, value)


@dataclass(frozen=True, slots=True)
class FieldValue:
    field: str
    label: str
    value: str


def as_of(instance: models.Model, number: int) -> list[FieldValue]:
    """Every tracked field of ``instance`` as it was at version ``number``. Raises ``LookupError``."""
    record = historical_record(instance, number)
    return [
        FieldValue(field.name, str(field.verbose_name), display_value(field, getattr(record, field.attname)))
        for field in tracked_fields(type(instance))
    ]


def compare(instance: models.Model, first: int, second: int) -> list[FieldChange]:
    """The fields that differ between two versions of ``instance``: value at ``first`` → at ``second``."""
    older, newer = historical_record(instance, first), historical_record(instance, second)
    changes = []
    for field in tracked_fields(type(instance)):
        old, new = getattr(older, field.attname), getattr(newer, field.attname)
        if old != new:
            changes.append(FieldChange(field.name, display_value(field, old), display_value(field, new)))
    return changes
