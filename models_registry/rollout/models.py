"""The rollout flag table: django-waffle's flag with history and per-subject buckets."""

from __future__ import annotations

import logging

from django.db import models
from simple_history.models import HistoricalRecords
from waffle.models import AbstractUserFlag

from models_registry.audit.models import Audited
from models_registry.rollout.buckets import subject_is_in_percent

logger = logging.getLogger(__name__)


class RolloutFlag(Audited, AbstractUserFlag):
    """The project's waffle flag model (``WAFFLE_FLAG_MODEL``).

    Waffle's own percentage is a per-request cookie roll; the rollout needs a
    deterministic per-subject bucket instead, computed from this row's
    ``percent`` by :mod:`models_registry.rollout.flags`. History records who moved
    the percentage and why.
    """

    immutable_fields = ("name",)
    snapshot_area = "rollout"
    audit_excluded_fields = (*Audited.audit_excluded_fields, "created", "modified")

    history = HistoricalRecords(
        history_change_reason_field=models.TextField(null=True), excluded_fields=["modified"]
    )

    class Meta(AbstractUserFlag.Meta):
        verbose_name = "rollout flag"
        verbose_name_plural = "rollout flags"

    def __str__(self) -> str:
        return self.name

    def flush(self) -> None:
        # Waffle clears its cached copy after a save; with Redis down that must not turn a
        # committed rollout change (a rollback, say) into an error. Reads here never use that cache.
        try:
            super().flush()
        except Exception as exc:
            logger.warning("rollout flag %s: waffle's cache could not be cleared (%s)", self.name, exc)

    def _is_active_for_percent(self, request, read_only: bool) -> bool | None:
        # Request-based waffle checks (views, templates) bucket the request's
        # user or session exactly like library reads do, instead of waffle's
        # per-request cookie roll, so a user gets one answer everywhere.
        if not self.percent:
            return None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            subject = user
        else:
            session = getattr(request, "session", None)
            subject = session.session_key if session is not None else None
        return subject_is_in_percent(self.name, subject, self.percent)
