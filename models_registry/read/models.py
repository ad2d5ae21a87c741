"""The catalog version table, for deployments without Redis."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class CatalogVersion(models.Model):
    """One row holding the catalog version when no Redis is configured.

    Bumped by every committed write to the registry; readers poll it (one
    indexed read per refresh interval) to know when to reload their snapshot.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="catalogversion_single_row")]

    def __str__(self) -> str:
        return f"catalog version {self.version}"
