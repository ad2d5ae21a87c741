"""Tables of the catalog sync: id mappings, sync runs and their proposed changes.

A sync run never writes the catalog: it records what the source says differs
(:class:`ProposedChange`). Editors accept or reject each proposal; *apply*
writes the accepted ones through the audited-write mechanism, as one change
set. Mappings say which upstream key a registry model has in a source; they
are audited like the catalog (who confirmed or rejected one, and why).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from models_registry.audit.models import Audited
from models_registry.catalog.models import AIModel
from models_registry.domain.sources import SOURCES
from models_registry.domain.sync import KINDS

SOURCE_CHOICES = [(source, source) for source in SOURCES]


class MappingStatus(models.TextChoices):
    SUGGESTED = "suggested", "suggested"
    CONFIRMED = "confirmed", "confirmed"
    REJECTED = "rejected", "rejected"


class SourceMapping(Audited):
    """A registry model's key in one upstream source.

    Suggested by normalised name; only a confirmed mapping is synced. A
    rejected suggestion stays rejected: the same pair is never suggested again.
    """

    immutable_fields = ("model", "source", "upstream_key")
    snapshot_area = "sync"  # no snapshot reads mappings: a mapping edit rebuilds nothing

    model = models.ForeignKey(AIModel, on_delete=models.CASCADE, related_name="source_mappings")
    source = models.CharField(max_length=20, choices=SOURCE_CHOICES)
    upstream_key = models.CharField("upstream key", max_length=300)
    status = models.CharField(max_length=10, choices=MappingStatus.choices, default=MappingStatus.SUGGESTED)

    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))

    class Meta:
        ordering = ["source", "model__model_id", "upstream_key"]
        verbose_name = "source mapping"
        constraints = [
            models.UniqueConstraint(fields=["model", "source", "upstream_key"], name="mapping_unique_pair"),
            # One confirmed key per model and source, and one confirmed model per key.
            models.UniqueConstraint(
                fields=["model", "source"], condition=Q(status="confirmed"), name="mapping_one_key_per_model"
            ),
            models.UniqueConstraint(
                fields=["source", "upstream_key"],
                condition=Q(status="confirmed"),
                name="mapping_one_model_per_key",
            ),
            models.CheckConstraint(condition=Q(status__in=MappingStatus.values), name="mapping_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.model.model_id} → {self.source}:{self.upstream_key}"

    def clean(self) -> None:
        # The conditional unique constraints, said in words before the database refuses them.
        if self.status != MappingStatus.CONFIRMED:
            return
        confirmed = SourceMapping.objects.filter(source=self.source, status=MappingStatus.CONFIRMED).exclude(
            pk=self.pk
        )
        other = confirmed.filter(model_id=self.model_id).first()
        if other is not None:
            raise ValidationError(
                f"{self.model.model_id} already has a confirmed {self.source} key ({other.upstream_key}): "
                "reject that one first."
            )
        other = confirmed.filter(upstream_key=self.upstream_key).select_related("model").first()
        if other is not None:
            raise ValidationError(
                f"{self.source}:{self.upstream_key} is already confirmed for {other.model.model_id}: "
                "reject that one first."
            )


class RunStatus(models.TextChoices):
    NO_CHANGES = "no_changes", "nothing to review"
    REVIEW = "review", "changes wait for review"
    APPLIED = "applied", "applied"


class SyncRun(models.Model):
    """One reading of an upstream source and what it proposes. Written by ``sync_catalog``."""

    source = models.CharField(max_length=20, choices=SOURCE_CHOICES)
    origin = models.CharField(max_length=500, help_text="The file or URL read.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=RunStatus.choices)
    upstream_models = models.PositiveIntegerField(default=0)
    problems = models.JSONField(
        default=list, blank=True, help_text="What the source said that could not be read."
    )
    providers = models.JSONField(
        default=list, blank=True, help_text="Registry providers the run was limited to."
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_reason = models.TextField(blank=True)
    change_set = models.ForeignKey(
        "models_registry.ChangeSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = "sync run"
        permissions = [("review_syncrun", "Can review and apply sync runs")]

    def __str__(self) -> str:
        return f"{self.source} sync of {self.started_at:%Y-%m-%d %H:%M} UTC"


class Decision(models.TextChoices):
    PENDING = "pending", "pending"
    ACCEPTED = "accepted", "accepted"
    REJECTED = "rejected", "rejected"


class ProposedChange(models.Model):
    """One difference a run found: a field of a model, a new upstream model, or a model gone upstream."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=20, choices=[(kind, kind.replace("_", " ")) for kind in KINDS])
    model = models.ForeignKey(AIModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_key = models.CharField("model id", max_length=150)
    provider = models.CharField(max_length=50, blank=True)
    upstream_key = models.CharField(max_length=300)
    column = models.CharField(max_length=50, blank=True)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    relative_change = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    entry = models.JSONField(null=True, blank=True, help_text="new models: the entry to create")
    model_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The model's version when the run read it."
    )
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "pk"]
        verbose_name = "proposed change"
        indexes = [models.Index(fields=["run", "kind"], name="proposal_run_kind_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=KINDS), name="proposal_kind_valid"),
            models.CheckConstraint(condition=Q(decision__in=Decision.values), name="proposal_decision_valid"),
        ]

    def __str__(self) -> str:
        what = self.column or self.kind.replace("_", " ")
        return f"{self.model_key}: {what}"

    @property
    def flagged(self) -> bool:
        return bool(self.flags)
