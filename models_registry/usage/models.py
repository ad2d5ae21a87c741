"""Tables of usage analytics: one row per model call the chat app made, and their rollups.

A ``UsageRecord`` is written once per ``request_id`` (a retried record is stored once), with
its cost computed when it was recorded, at the prices in force at its time: a later price
change never reprices the past. No message text is stored; the subject is kept as its key
(hashed when ``USAGE_HASH_SUBJECTS`` is on).

``UsageRollup`` holds hourly and daily aggregates per model and dimension, kept up to date
with every write of records; ``UsageSubjectRollup`` the daily totals per subject. The
dashboard reads only rollups, never the raw rows (which a retention command deletes).
"""

from __future__ import annotations

from django.db import models

CATALOG_SOURCES = [("static", "static"), ("database", "database")]
STATUSES = [("ok", "ok"), ("error", "error")]
PERIODS = [("hour", "hour"), ("day", "day")]

_MONEY = {"max_digits": 24, "decimal_places": 12}  # exact USD; a token can cost 1e-9 USD


class UsageRecord(models.Model):
    """One model call of the chat app, as recorded by ``registry.record_usage``."""

    request_id = models.CharField(max_length=200, help_text="The caller's id of the call.")
    at = models.DateTimeField(help_text="When the call was made (UTC).")
    recorded_at = models.DateTimeField(auto_now_add=True)
    model_id = models.CharField(max_length=150)
    provider = models.CharField(max_length=50)
    catalog_source = models.CharField(max_length=10, choices=CATALOG_SOURCES)
    subject_key = models.CharField(max_length=128, blank=True)
    conversation_id = models.CharField(max_length=200, blank=True)

    # The auto-router's decision, when the model was routed (not picked by the user).
    routed = models.BooleanField(default=False)
    decision_id = models.BigIntegerField(null=True, blank=True, help_text="The routing decision's log id.")
    router_tier = models.CharField(max_length=10, blank=True)
    category = models.CharField(max_length=20, blank=True)
    sticky = models.BooleanField(default=False)
    fallback = models.BooleanField(default=False)

    # Token counts, OpenAI's convention: input includes cached reads and cache writes; output
    # includes reasoning.
    input_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)

    cost = models.DecimalField(**_MONEY, help_text="USD, at the prices in force at `at`.")
    cost_breakdown = models.JSONField(default=list, help_text="The cost's lines (exact strings).")
    price_effective_from = models.DateTimeField(
        null=True, blank=True, help_text="When the prices used took effect (empty: the listed prices)."
    )
    service_tier = models.CharField(max_length=20, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=STATUSES, default="ok")
    error_type = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        # Every index costs the ingester on each row (ten of them halved its rate), and the
        # dashboard reads rollups: only what the raw rows are looked up by. A constraint, not
        # unique=True, so PostgreSQL gets no second (LIKE) index on the request id.
        constraints = [models.UniqueConstraint(fields=["request_id"], name="usage_one_record_per_request")]
        indexes = [
            # Retention, rollup rebuilds and the rollout's traffic since a stage began.
            models.Index(fields=["at"], name="usage_at_idx"),
            # A routing decision's page lists the calls it led to; most calls have no decision.
            models.Index(
                fields=["decision_id"],
                name="usage_decision_idx",
                condition=models.Q(decision_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} · {self.model_id} · {self.cost} USD"


class UsageRollup(models.Model):
    """Aggregates of the records of one period (an hour or a day, UTC) and one set of dimensions."""

    period = models.CharField(max_length=4, choices=PERIODS)
    bucket_start = models.DateTimeField()
    model_id = models.CharField(max_length=150)
    provider = models.CharField(max_length=50)
    catalog_source = models.CharField(max_length=10, choices=CATALOG_SOURCES)
    routed = models.BooleanField(default=False)
    router_tier = models.CharField(max_length=10, blank=True)
    category = models.CharField(max_length=20, blank=True)

    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    sticky = models.BigIntegerField(default=0)
    fallbacks = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(**_MONEY, default=0)
    # Latency as a histogram over fixed bucket bounds (models_registry.domain.usage_rollups),
    # so percentiles of any sum of rollups are exact to a bucket.
    latency_count = models.BigIntegerField(default=0)
    latency_histogram = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "period",
                    "bucket_start",
                    "model_id",
                    "catalog_source",
                    "routed",
                    "router_tier",
                    "category",
                ],
                name="usage_rollup_one_row_per_bucket",
            )
        ]
        indexes = [models.Index(fields=["period", "bucket_start"], name="usage_rollup_period_idx")]

    def __str__(self) -> str:
        return f"{self.period} {self.bucket_start:%Y-%m-%d %H:%M} {self.model_id}"


class UsageSubjectRollup(models.Model):
    """Daily totals per subject (the dashboard's top subjects)."""

    day = models.DateField()
    subject_key = models.CharField(max_length=128)
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(**_MONEY, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "subject_key"], name="usage_subject_one_row_per_day")
        ]
        indexes = [models.Index(fields=["day", "cost"], name="usage_subject_day_cost_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.subject_key}"
