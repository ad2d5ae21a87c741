"""The audit trail's tables: change sets, one change record per version, and the audited base.

Every audited table (providers, AI models, rollout flags, the router's config
and profiles, and whatever comes later) inherits :class:`Audited`: a
``version`` column bumped by every write, so the staleness check reads one
column under the row lock instead of counting history.

django-simple-history keeps a full snapshot of each version (what "as of
version N", compare and revert read). :class:`ChangeRecord` is the change log
across all of them (NetBox's ``ObjectChange`` is the model): who, when, why,
the change type and the field diff, with the user's name stored so a deleted
account leaves the trail readable. Versions written together (one import, one
bulk action, one command) share a :class:`ChangeSet`.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models


class ChangeType(models.TextChoices):
    CREATED = "created", "created"
    UPDATED = "updated", "updated"
    DEPRECATED = "deprecated", "deprecated"
    REACTIVATED = "reactivated", "reactivated"
    REVERTED = "reverted", "reverted"


class Audited(models.Model):
    """Base of every audited table. Writes go through :mod:`models_registry.audit.writes` only."""

    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Bumped by every audited write; 1 after creation."
    )

    # Fields a revert never restores: the identity and bookkeeping columns.
    audit_excluded_fields: tuple[str, ...] = (
        "id",
        "version",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
    )
    # Fields that identify the object and cannot change after creation.
    immutable_fields: tuple[str, ...] = ()
    # The snapshot area a write to this table moves (see models_registry.read.catalog_version):
    # only the snapshots of that area are rebuilt.
    snapshot_area: str = "catalog"
    # A column stamped with the area's new version by every write of a row, so snapshots reload
    # only the rows written since the version they have (None: the table is reloaded whole).
    revision_field: str | None = None

    class Meta:
        abstract = True

    def changes_from_current(self, changes: dict[str, Any], now: Any) -> dict[str, Any]:
        """The changes to write to this (locked, stored) row, completed with what the row's current
        state implies; called before they are applied. Default: as given."""
        return changes

    def before_write(self, before: dict[str, Any] | None, now: Any) -> None:
        """Derive dependent fields from the values about to be saved; ``before`` holds the stored
        values (attname → value), ``None`` for a new row. Called by every audited write."""

    @classmethod
    def describe_field(cls, name: str, value: Any) -> str | None:
        """How ``value`` of field ``name`` reads in diffs and history, or ``None`` for the default."""
        return None

    def change_type_of(self, before: dict[str, Any], after: dict[str, Any]) -> str:
        """The change type of an edit from ``before`` to ``after`` (attname → value); override per table."""
        return ChangeType.UPDATED

    def validate_constraints(self, exclude: Any = None) -> None:
        """Unique constraints only: each check constraint restates a field validator or ``clean()``
        (which report it with a readable message) and the database enforces it on save; checking
        them here would cost one query each on every form save."""
        checks = [c for c in self._meta.constraints if isinstance(c, models.CheckConstraint)]
        excluded = set(exclude or ())
        for constraint in self._meta.constraints:
            if constraint in checks:
                continue
            try:
                constraint.validate(type(self), self, exclude=excluded)
            except ValidationError as error:
                raise ValidationError({NON_FIELD_ERRORS: [error]}) from None


class ChangeSet(models.Model):
    """Versions written by one request, one import or one command."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_name = models.CharField("user", max_length=150, blank=True, help_text="Empty for system jobs.")
    reason = models.TextField()
    summary = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "change set"

    def __str__(self) -> str:
        who = self.user_name or "system"
        return f"{self.summary or self.reason} by {who}"


class ChangeRecord(models.Model):
    """One version of one audited object: the change log's row."""

    change_set = models.ForeignKey(ChangeSet, on_delete=models.PROTECT, related_name="records")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_pk = models.CharField("object key", max_length=64)
    object_repr = models.CharField("object", max_length=200)
    version = models.PositiveIntegerField()
    change_type = models.CharField(max_length=20, choices=ChangeType.choices)
    at = models.DateTimeField("time (UTC)", db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_name = models.CharField("user", max_length=150, blank=True, help_text="Empty for system jobs.")
    reason = models.TextField()
    # [{"field": name, "old": text, "new": text}, ...], values as people read them.
    diff = models.JSONField(default=list)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "change-log entry"
        verbose_name_plural = "change log entries"
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_pk", "version"], name="changerecord_one_row_per_version"
            )
        ]
        indexes = [
            models.Index(fields=["content_type", "object_pk", "version"], name="changerecord_object_idx"),
            models.Index(fields=["user_name", "at"], name="changerecord_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.object_repr} v{self.version} ({self.change_type})"

    @property
    def changed_by(self) -> str:
        return self.user_name or "system"
