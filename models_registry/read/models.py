"""The snapshot version table, for deployments without Redis (and the truth with it)."""

from __future__ import annotations

from django.db import models


class SnapshotVersion(models.Model):
    """One row per snapshot area (``catalog``, ``rollout``, ``router``, ...) holding its version.

    Bumped by every committed write to that area; readers poll their area's row (one
    indexed read per refresh interval) to know when to reload their snapshot. Models
    and providers are stamped with the catalog version that last changed them, so a
    reader reloads only the rows past the version it has.
    """

    area = models.CharField(max_length=40, primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.area} version {self.version}"
