"""Catalog tables: providers and AI models, with their audit history.

Integrity rules live in the database (check constraints, unique keys) as well
as in ``clean()``, so a bypassed form or a raw ``update()`` still cannot store
a negative price or an unknown status.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from models_registry.audit.models import Audited, ChangeType
from models_registry.domain.fields import (
    COLUMNS,
    DESCRIBE_COLUMN,
    PROVIDER_SLUG_MESSAGE,
    PROVIDER_SLUG_PATTERN,
    carry_price_timeline,
    in_force_pricing_object,
    price_columns_from_object,
    pricing_object_from_columns,
    value_errors,
)
from models_registry.domain.types import CAPABILITIES, CAPABILITY_FIELDS


def _catalog_revision_field() -> models.BigIntegerField:
    """The catalog version that last wrote the row (stamped by the audited writes): registry
    snapshots reload only the rows past the version they have."""
    return models.BigIntegerField(default=0, editable=False, db_index=True)


class Provider(Audited):
    """A model vendor (OpenAI, Anthropic, ...). Data, not code: adding one needs no deploy."""

    immutable_fields = ("slug",)  # model ids and import files name providers by slug
    revision_field = "catalog_revision"

    slug = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(PROVIDER_SLUG_PATTERN, f"The slug {PROVIDER_SLUG_MESSAGE}.")],
        help_text="As model ids and files name the provider, e.g. 'openai' or 'fireworks_ai'.",
    )
    name = models.CharField("display name", max_length=100)
    first_party = models.BooleanField(
        "first-party",
        default=False,
        help_text=(
            "The provider makes the models it serves (OpenAI, Anthropic), as opposed to reselling "
            "others' (a cloud, an aggregator). Search ranks first-party models first among equal matches."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    catalog_revision = _catalog_revision_field()

    history = HistoricalRecords(
        history_change_reason_field=models.TextField(null=True), excluded_fields=["catalog_revision"]
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug


class ModelStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    BETA = "beta", "Beta"
    DEPRECATED = "deprecated", "Deprecated"


class Gateway(models.TextChoices):
    VERCEL = "vercel", "Vercel AI Gateway"
    OPENROUTER = "openrouter", "OpenRouter"


class SpeedTier(models.TextChoices):
    ULTRA_FAST = "ultra-fast", "Ultra fast"
    INSTANT = "instant", "Instant"
    FAST = "fast", "Fast"
    STANDARD = "standard", "Standard"
    SLOW = "slow", "Slow"


def _price_field(verbose_name: str, *, optional: bool = False) -> models.DecimalField:
    # "≥ 0" is a rule of the field declaration (domain.fields), checked by clean() and a constraint.
    return models.DecimalField(
        verbose_name,
        max_digits=12,
        decimal_places=6,
        null=optional,
        blank=optional,
        help_text="USD per 1M tokens" + ("; empty = same as the base rate" if optional else ""),
    )


assert tuple(CAPABILITY_FIELDS.values()) == CAPABILITIES


class AIModel(Audited):
    """One LLM offered by the chat app."""

    immutable_fields = ("model_id",)
    revision_field = "catalog_revision"

    # Identity
    model_id = models.CharField(
        "model id",
        max_length=150,
        unique=True,
        help_text="Stable id such as 'openai:gpt-5'. Cannot be changed after creation.",
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)

    # Core
    context_window = models.PositiveIntegerField(help_text="Tokens.")
    actual_model_id = models.CharField(
        max_length=200, blank=True, help_text="Id sent to the provider, when it differs."
    )
    is_local = models.BooleanField(default=False)

    # Pricing, USD per 1M tokens
    input_price = _price_field("input price")
    output_price = _price_field("output price")
    cached_input_price = _price_field("cached input price", optional=True)
    reasoning_price = _price_field("reasoning price", optional=True)
    cache_write_5m_price = _price_field("cache write (5 min) price", optional=True)
    cache_write_1h_price = _price_field("cache write (1 h) price", optional=True)
    audio_input_price = _price_field("audio input price", optional=True)
    audio_output_price = _price_field("audio output price", optional=True)
    image_input_price = _price_field("image input price", optional=True)
    image_output_price = _price_field("image output price", optional=True)
    # Kept in the files' canonical form (exact decimal strings); shape rules: domain.fields.
    request_fees = models.JSONField(
        default=dict, blank=True, help_text='Fees per requests, e.g. {"web_search_per_1000": "10"} (USD).'
    )
    price_tiers = models.JSONField(
        "long-context tiers",
        default=list,
        blank=True,
        help_text="Above N prompt tokens (cached and cache writes included), the whole request is billed "
        "at the tier's prices; a price left out keeps the base price.",
    )
    service_tiers = models.JSONField(
        default=dict, blank=True, help_text="batch / flex / priority: a multiplier on every price, or prices."
    )
    price_schedule = models.JSONField(
        "price timeline",
        default=list,
        blank=True,
        help_text="Past and scheduled prices, each with the UTC time it takes effect.",
    )
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens.")

    # Capabilities: booleans so they can be filtered and indexed
    supports_vision = models.BooleanField("vision", default=False)
    supports_function_calling = models.BooleanField("function calling", default=False)
    supports_thinking = models.BooleanField("thinking", default=False)
    supports_extended_thinking = models.BooleanField("extended thinking", default=False)
    supports_image_generation = models.BooleanField("image generation", default=False)

    # Reasoning: provider-specific config whose shape depends on its "type"
    reasoning_config = models.JSONField(null=True, blank=True)

    # Routing
    gateway = models.CharField(max_length=20, choices=Gateway.choices, blank=True)
    host_order = models.JSONField(default=list, blank=True, help_text="Ordered fallback inference hosts.")

    # Display
    knowledge_cutoff = models.CharField(max_length=60, blank=True)
    user_friendly_description = models.TextField(blank=True)
    best_for = models.TextField(blank=True)
    benchmarks = models.JSONField(null=True, blank=True)
    speed_tier = models.CharField(max_length=20, choices=SpeedTier.choices, blank=True)

    # Access
    is_pro = models.BooleanField("pro only", default=False)
    is_internal_only = models.BooleanField("internal only", default=False)
    is_experimental = models.BooleanField("experimental", default=False)

    status = models.CharField(max_length=20, choices=ModelStatus.choices, default=ModelStatus.ACTIVE)
    deprecation_date = models.DateField(
        null=True,
        blank=True,
        help_text="From this day (UTC) on, users can no longer select it; still priced.",
    )
    successor = models.CharField(max_length=150, blank=True, help_text="The model id that replaces it.")

    # Audit
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    catalog_revision = _catalog_revision_field()

    history = HistoricalRecords(
        history_change_reason_field=models.TextField(null=True), excluded_fields=["catalog_revision"]
    )

    class Meta:
        ordering = ["model_id"]
        verbose_name = "AI model"
        permissions = [
            ("import_aimodel", "Can import AI models from JSON"),
            ("export_aimodel", "Can export AI models to JSON"),
        ]
        indexes = [
            models.Index(fields=["provider", "status"], name="aimodel_provider_status_idx"),
            models.Index(fields=["status"], name="aimodel_status_idx"),
            models.Index(
                fields=[
                    "supports_vision",
                    "supports_function_calling",
                    "supports_thinking",
                    "supports_extended_thinking",
                    "supports_image_generation",
                ],
                name="aimodel_capabilities_idx",
            ),
            models.Index(fields=["updated_at"], name="aimodel_updated_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(input_price__gte=0), name="aimodel_input_price_gte_0"),
            models.CheckConstraint(condition=Q(output_price__gte=0), name="aimodel_output_price_gte_0"),
            models.CheckConstraint(
                condition=Q(cached_input_price__isnull=True) | Q(cached_input_price__gte=0),
                name="aimodel_cached_input_price_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(reasoning_price__isnull=True) | Q(reasoning_price__gte=0),
                name="aimodel_reasoning_price_gte_0",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{column}__isnull": True}) | Q(**{f"{column}__gte": 0}),
                    name=f"aimodel_{column}_gte_0",
                )
                for column in (
                    "cache_write_5m_price",
                    "cache_write_1h_price",
                    "audio_input_price",
                    "audio_output_price",
                    "image_input_price",
                    "image_output_price",
                )
            ),
            models.CheckConstraint(
                condition=Q(max_output_tokens__isnull=True) | Q(max_output_tokens__gt=0),
                name="aimodel_max_output_tokens_gt_0",
            ),
            models.CheckConstraint(condition=Q(context_window__gt=0), name="aimodel_context_window_gt_0"),
            models.CheckConstraint(condition=Q(status__in=ModelStatus.values), name="aimodel_status_valid"),
        ]

    def __str__(self) -> str:
        return self.model_id

    def save(self, *args, **kwargs) -> None:
        if self._model_id_changed():
            raise ValidationError({"model_id": "The model id cannot be changed after creation."})
        super().save(*args, **kwargs)
        self._stored_model_id = self.model_id

    @classmethod
    def describe_field(cls, name: str, value: Any) -> str | None:
        describe = DESCRIBE_COLUMN.get(name)
        return describe(value) if describe else None

    def listed_prices(self) -> dict[str, Any]:
        """The price columns as a canonical pricing object."""
        return pricing_object_from_columns(lambda column: getattr(self, column))

    def prices_in_force(self, now: Any) -> dict[str, Any]:
        """The canonical prices in force at ``now``: the timeline's entry by then, else the listed ones."""
        return in_force_pricing_object(self.listed_prices(), self.price_schedule or [], now)

    def changes_from_current(self, changes: dict[str, Any], now: Any) -> dict[str, Any]:
        """A write starts from the prices in force: when a scheduled price took effect since the last
        write, the listed prices are behind it, and the price columns this write leaves alone are
        brought up to it (else a change of one price would bring back the others' old values)."""
        listed, in_force = self.listed_prices(), self.prices_in_force(now)
        if in_force == listed:
            return changes
        caught_up = price_columns_from_object(in_force)
        return {**{column: value for column, value in caught_up.items() if column not in changes}, **changes}

    def before_write(self, before: dict[str, Any] | None, now: Any) -> None:
        """A change of the listed prices takes effect now and joins the price timeline."""
        if before is None:
            return
        self.price_schedule = carry_price_timeline(
            before_pricing=pricing_object_from_columns(before.__getitem__),
            before_schedule=before["price_schedule"] or [],
            after_pricing=self.listed_prices(),
            after_schedule=self.price_schedule or [],
            now=now,
            listed_since=self.created_at or now,
        )

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self._model_id_changed():
            errors["model_id"] = ["The model id cannot be changed after creation."]
        values = {column: getattr(self, column) for column in COLUMNS if column != "provider"}
        for column, problems in value_errors(values).items():
            errors.setdefault(column, []).extend(problems)
        if errors:
            raise ValidationError(errors)

    def change_type_of(self, before: dict[str, Any], after: dict[str, Any]) -> str:
        deprecated = ModelStatus.DEPRECATED
        if before["status"] != deprecated and after["status"] == deprecated:
            return ChangeType.DEPRECATED
        if before["status"] == deprecated and after["status"] != deprecated:
            return ChangeType.REACTIVATED
        return ChangeType.UPDATED

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(cap for field, cap in CAPABILITY_FIELDS.items() if getattr(self, field))

    def _model_id_changed(self) -> bool:
        stored = getattr(self, "_stored_model_id", None)
        return self.pk is not None and stored is not None and stored != self.model_id

    @classmethod
    def from_db(cls, db, field_names, values):  # type: ignore[override]
        instance = super().from_db(db, field_names, values)
        # Remember the stored id so clean()/save() can refuse to change it.
        instance._stored_model_id = instance.__dict__.get("model_id")
        return instance


class ImportUpload(models.Model):
    """A JSON import file between its preview and its confirmation.

    Kept in the database, so any worker on any host can confirm it with or
    without Redis; named by a random token, never by a path. Deleted on
    confirm, and after ``IMPORT_UPLOAD_TTL_SECONDS`` if never confirmed.
    """

    token = models.CharField(max_length=32, unique=True)
    data = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "import upload"

    def __str__(self) -> str:
        return f"import upload {self.token}"
