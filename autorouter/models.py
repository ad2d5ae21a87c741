"""The router's tables: its one config row, one profile per catalog model, and the decision log.

Integrity rules live in the database too (one config row, cheap < mid,
weights summing to 1, scores 0-100), so a raw ``update()`` cannot store a
config the router cannot use. Writes go through :mod:`autorouter.services`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Round
from django.db.models.lookups import Exact
from simple_history.models import HistoricalRecords

from models_registry.audit.models import Audited
from models_registry.models import AIModel

from .types import CATEGORIES, COMPLEXITIES, ROUTER_AREA, TIERS

SINGLETON_ID = 1


def _points(verbose_name: str, help_text: str) -> models.DecimalField:
    return models.DecimalField(
        verbose_name,
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text=help_text,
    )


def _weight(complexity: str, tier: str) -> models.DecimalField:
    return models.DecimalField(
        f"{complexity} → {tier}",
        max_digits=4,
        decimal_places=3,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=f"Share of {complexity} messages sent to the {tier} tier.",
    )


def weight_field_name(complexity: str, tier: str) -> str:
    return f"{complexity}_{tier}_weight"


WEIGHT_FIELDS: dict[str, tuple[str, ...]] = {
    complexity: tuple(weight_field_name(complexity, tier) for tier in TIERS) for complexity in COMPLEXITIES
}


def _weights_sum_to_one(complexity: str) -> models.CheckConstraint:
    total = (
        F(WEIGHT_FIELDS[complexity][0]) + F(WEIGHT_FIELDS[complexity][1]) + F(WEIGHT_FIELDS[complexity][2])
    )
    return models.CheckConstraint(
        condition=Exact(Round(total, 3), Value(Decimal("1.000"), output_field=models.DecimalField())),
        name=f"routerconfig_{complexity}_weights_sum_1",
    )


class RouterParameters(models.Model):
    """Every tuning parameter of the auto-router: the live config's and each draft's."""

    # Bonuses
    stickiness_bonus = _points("stickiness bonus", "Points for the previous model of the conversation.")
    reasoning_bonus = _points(
        "reasoning bonus", "Points for a thinking model when the message needs reasoning."
    )
    research_bonus = _points(
        "research bonus", "Points for a research provider's model when the message is a research task."
    )
    # Complexity
    simple_penalty = models.DecimalField(
        "simple penalty",
        max_digits=4,
        decimal_places=2,
        help_text="Multiplier on the category score of high-quality models for simple messages (overkill).",
    )
    complex_boost_threshold = models.PositiveSmallIntegerField(
        "complex boost threshold",
        validators=[MaxValueValidator(100)],
        help_text="Quality score (0-100) from which the simple penalty and the complex boost apply.",
    )
    complex_boost_multiplier = models.DecimalField(
        "complex boost multiplier",
        max_digits=4,
        decimal_places=2,
        help_text="Multiplier on the category score of high-quality models for complex messages.",
    )
    # Cost tiers
    cheap_threshold = models.DecimalField(
        "cheap threshold",
        max_digits=12,
        decimal_places=6,
        validators=[MinValueValidator(0)],
        help_text="USD per 1M tokens (mean of input and output). Below this: cheap tier.",
    )
    mid_threshold = models.DecimalField(
        "mid threshold",
        max_digits=12,
        decimal_places=6,
        validators=[MinValueValidator(0)],
        help_text="USD per 1M tokens (mean of input and output). Below this: mid tier; from it: premium.",
    )
    cost_penalty_points = _points(
        "cost penalty", "Points taken from a model at or above the mid threshold, at cost bias 50 (scaled)."
    )
    # Tier weights: one row per complexity, each row sums to 1
    simple_cheap_weight = _weight("simple", "cheap")
    simple_mid_weight = _weight("simple", "mid")
    simple_premium_weight = _weight("simple", "premium")
    moderate_cheap_weight = _weight("moderate", "cheap")
    moderate_mid_weight = _weight("moderate", "mid")
    moderate_premium_weight = _weight("moderate", "premium")
    complex_cheap_weight = _weight("complex", "cheap")
    complex_mid_weight = _weight("complex", "mid")
    complex_premium_weight = _weight("complex", "premium")
    # How a tier is chosen
    tier_mode = models.CharField(
        "tier mode",
        max_length=10,
        choices=[
            ("difficulty", "by difficulty: the hardest messages premium, the easiest cheap"),
            ("roll", "a weighted roll per message, with its complexity's weights"),
        ],
        default="difficulty",
        help_text="By difficulty, the tier weights are the target shares: calibrate_router sets the "
        "thresholds that give them over recent traffic or a dataset.",
    )
    mid_difficulty = models.DecimalField(
        "mid from difficulty",
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.331"),
        help_text="Messages from this difficulty (0-1) on get at least the mid tier.",
    )
    premium_difficulty = models.DecimalField(
        "premium from difficulty",
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.570"),
        help_text="Messages from this difficulty (0-1) on get the premium tier.",
    )
    # Scoring details
    speed_bonuses = models.JSONField(
        "speed bonuses",
        default=dict,
        blank=True,
        help_text="Pattern → points; a pattern matches a model id or name (flash) or its first host (groq).",
    )
    secondary_share = models.DecimalField(
        "secondary category share",
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of the secondary category's score added to the primary category's.",
    )
    research_providers = models.JSONField(
        "research providers",
        default=list,
        blank=True,
        help_text="Provider slugs whose models search the web (they get the research bonus).",
    )
    # Router settings
    router_model = models.ForeignKey(
        AIModel,
        to_field="model_id",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="router model",
        help_text="Catalog model the LLM classifier calls.",
    )
    fallback_model = models.ForeignKey(
        AIModel,
        to_field="model_id",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="fallback model",
        help_text="Catalog model returned when no model is eligible.",
    )
    max_retries = models.PositiveSmallIntegerField(
        "max retries",
        validators=[MaxValueValidator(10)],
        help_text="Retries after a failed model (and after a failed LLM classifier call).",
    )
    context_buffer = models.DecimalField(
        "context buffer",
        max_digits=4,
        decimal_places=2,
        validators=[MinValueValidator(1)],
        help_text="A model needs a context window of at least context tokens * this (1.2 = 20% margin).",
    )
    long_context_threshold = models.PositiveIntegerField(
        "long-context threshold",
        validators=[MinValueValidator(1)],
        help_text="Tokens: the smallest window of a long-context model.",
    )
    high_stakes_domains = models.JSONField(
        "high-stakes domains",
        default=list,
        blank=True,
        help_text="Domains (medical, legal, ...) whose messages go to the premium tier.",
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        from .conversions import settings_from_row
        from .defaults import settings_errors

        errors = _json_shape_errors(self)
        numbers = [
            field.attname
            for field in self._meta.concrete_fields
            if field.name in PARAMETER_FIELDS and isinstance(field, NUMBER_FIELDS)
        ]
        if not errors and all(getattr(self, name) is not None for name in numbers):
            for name, messages in settings_errors(settings_from_row(self)).items():
                field = ERROR_FIELDS.get(name, name)
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)


class RouterConfig(Audited, RouterParameters):
    """The live parameters of the auto-router. Exactly one row (id 1)."""

    snapshot_area = ROUTER_AREA
    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)

    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))

    class Meta:
        verbose_name = "router config"
        verbose_name_plural = "router config"
        permissions = [("try_router", "Can use the Try the router page")]
        constraints = [
            models.CheckConstraint(condition=Q(id=SINGLETON_ID), name="routerconfig_singleton"),
            models.CheckConstraint(
                condition=Q(cheap_threshold__gte=0) & Q(cheap_threshold__lt=F("mid_threshold")),
                name="routerconfig_cheap_lt_mid",
            ),
            models.CheckConstraint(
                condition=Q(simple_penalty__gt=0) & Q(complex_boost_multiplier__gt=0),
                name="routerconfig_multipliers_gt_0",
            ),
            models.CheckConstraint(condition=Q(context_buffer__gte=1), name="routerconfig_buffer_gte_1"),
            models.CheckConstraint(
                condition=Q(complex_boost_threshold__lte=100), name="routerconfig_boost_threshold_lte_100"
            ),
            models.CheckConstraint(
                condition=Q(long_context_threshold__gt=0), name="routerconfig_long_context_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(
                    *[Q(**{f"{name}__gte": 0}) for names in WEIGHT_FIELDS.values() for name in names]
                ),
                name="routerconfig_weights_gte_0",
            ),
            *[_weights_sum_to_one(complexity) for complexity in COMPLEXITIES],
        ]

    def __str__(self) -> str:
        return "Router config"


# Every tuning parameter, in the order of the admin page.
PARAMETER_FIELDS: tuple[str, ...] = (
    "stickiness_bonus",
    "reasoning_bonus",
    "research_bonus",
    "simple_penalty",
    "complex_boost_threshold",
    "complex_boost_multiplier",
    "cheap_threshold",
    "mid_threshold",
    "cost_penalty_points",
    *(name for names in WEIGHT_FIELDS.values() for name in names),
    "tier_mode",
    "mid_difficulty",
    "premium_difficulty",
    "speed_bonuses",
    "secondary_share",
    "research_providers",
    "router_model",
    "fallback_model",
    "max_retries",
    "context_buffer",
    "long_context_threshold",
    "high_stakes_domains",
)

NUMBER_FIELDS = (models.DecimalField, models.PositiveSmallIntegerField, models.PositiveIntegerField)
# settings_errors() reports a weight row as "<complexity>_weights": shown on the row's first field.
ERROR_FIELDS = {f"{complexity}_weights": names[0] for complexity, names in WEIGHT_FIELDS.items()}


def _json_shape_errors(config: RouterConfig) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    bonuses = config.speed_bonuses
    if not isinstance(bonuses, dict) or not all(
        isinstance(key, str) and isinstance(value, int | float) and not isinstance(value, bool)
        for key, value in bonuses.items()
    ):
        errors["speed_bonuses"] = ['Must map patterns to points, e.g. {"groq": 10, "thinking": -5}.']
    elif any(not -100 <= value <= 100 for value in bonuses.values()):
        errors["speed_bonuses"] = ["Points must be between -100 and 100."]
    for name in ("high_stakes_domains", "research_providers"):
        value = getattr(config, name)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            errors[name] = ["Must be a list of names."]
    return errors


class ModelProfile(Audited):
    """How good one catalog model is, overall and per category (0-100), for the router."""

    immutable_fields = ("model",)
    snapshot_area = ROUTER_AREA

    model = models.OneToOneField(
        AIModel,
        to_field="model_id",
        on_delete=models.CASCADE,
        related_name="router_profile",
        verbose_name="model",
    )
    quality = models.PositiveSmallIntegerField("quality", validators=[MaxValueValidator(100)])
    coding = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    reasoning = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    creative = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    factual = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    analysis = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    conversation = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    multimodal = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    research = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])

    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))

    class Meta:
        ordering = ["model"]
        verbose_name = "model profile"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    *[Q(**{f"{name}__gte": 0, f"{name}__lte": 100}) for name in ("quality", *CATEGORIES)]
                ),
                name="modelprofile_scores_0_100",
            )
        ]

    def __str__(self) -> str:
        return f"Profile of {self.model_id}"


class DraftStatus(models.TextChoices):
    OPEN = "open", "open"
    PUBLISHED = "published", "published"
    DISCARDED = "discarded", "discarded"


SCORE_NAMES: tuple[str, ...] = ("quality", *CATEGORIES)


class RouterDraft(Audited, RouterParameters):
    """A copy of the router's parameters, and profile changes, that no user is routed with.

    Editors change it, replay it over the decision log and an evaluation dataset, then publish it:
    the fields it changed since it was made become one new live version (the live config's changes
    made meanwhile to other fields are kept; a field changed on both sides is a conflict).
    """

    snapshot_area = "router_drafts"  # no router snapshot reloads for a draft's edit
    immutable_fields = ("based_on_version", "base_parameters")

    name = models.CharField(max_length=100, help_text="What this draft tries, e.g. “cheaper simple tier”.")
    status = models.CharField(
        max_length=10, choices=DraftStatus.choices, default=DraftStatus.OPEN, editable=False
    )
    based_on_version = models.PositiveIntegerField(
        "based on config version", editable=False, help_text="The live config's version it was copied from."
    )
    base_parameters = models.JSONField(
        editable=False, help_text="The live parameters it was copied from (what publishing compares to)."
    )
    profile_overrides = models.JSONField(
        "profile changes",
        default=dict,
        blank=True,
        help_text="Model id → the scores it changes (quality and the eight categories, 0-100).",
    )
    base_profile_versions = models.JSONField(
        default=dict,
        editable=False,
        help_text="Model id → the live profile's version when the draft first changed it (0: none).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_config_version = models.PositiveIntegerField(
        null=True, blank=True, editable=False, help_text="The live config's version its publication made."
    )

    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))

    class Meta:
        ordering = ["-id"]
        verbose_name = "router draft"
        permissions = [("publish_routerdraft", "Can publish a router draft (make it live)")]

    def __str__(self) -> str:
        return f"Draft {self.pk}: {self.name}" if self.pk else self.name

    @property
    def is_open(self) -> bool:
        return self.status == DraftStatus.OPEN

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors.update(exc.message_dict)
        problems = profile_override_errors(self.profile_overrides)
        if problems:
            errors.setdefault("profile_overrides", []).extend(problems)
        if errors:
            raise ValidationError(errors)

    def before_write(self, before: dict | None, now: object) -> None:
        # The live profile version each changed model had when the draft first changed it: publishing
        # refuses to overwrite a profile edited since (no write silently undoes another).
        overrides = self.profile_overrides or {}
        known = {key: value for key, value in (self.base_profile_versions or {}).items() if key in overrides}
        new = [model_id for model_id in overrides if model_id not in known]
        if new:
            live = dict(ModelProfile.objects.filter(model_id__in=new).values_list("model_id", "version"))
            known.update({model_id: live.get(model_id, 0) for model_id in new})
        self.base_profile_versions = known


def profile_override_errors(overrides: object) -> list[str]:
    """What is wrong with a draft's profile changes (empty: nothing)."""
    if not isinstance(overrides, dict):
        return ["Must map model ids to their scores."]
    errors = []
    known = set(AIModel.objects.filter(model_id__in=list(overrides)).values_list("model_id", flat=True))
    profiled = set(
        ModelProfile.objects.filter(model_id__in=list(overrides)).values_list("model_id", flat=True)
    )
    for model_id, scores in overrides.items():
        if model_id not in known:
            errors.append(f"{model_id}: not in the catalog.")
            continue
        if not isinstance(scores, dict) or not scores:
            errors.append(f"{model_id}: give at least one score, e.g. quality=80.")
            continue
        unknown = sorted(set(scores) - set(SCORE_NAMES))
        if unknown:
            errors.append(f"{model_id}: unknown score {', '.join(unknown)} (use {', '.join(SCORE_NAMES)}).")
        bad = [
            name
            for name, value in scores.items()
            if name in SCORE_NAMES
            and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100)
        ]
        if bad:
            errors.append(f"{model_id}: {', '.join(bad)} must be whole numbers from 0 to 100.")
        missing = [name for name in SCORE_NAMES if name not in scores]
        if model_id not in profiled and missing:
            errors.append(f"{model_id} has no profile yet: give every score (missing {', '.join(missing)}).")
    return errors


class RouterExample(Audited):
    """A message with its category (and, optionally, difficulty) that the semantic classifier learns
    from: "teach the router". Added by editors; the built-in examples are the train split of
    ``fixtures/router_eval/prompts.jsonl``. Retired rather than deleted, so the history stays whole."""

    snapshot_area = "router_examples"  # a new example retrains the classifier, not the router's state

    text = models.TextField("example message", max_length=4000)
    category = models.CharField(max_length=20, choices=[(name, name) for name in CATEGORIES])
    complexity = models.CharField(
        max_length=10,
        choices=[(name, name) for name in COMPLEXITIES],
        blank=True,
        help_text="Optional: how hard the message is (teaches the difficulty too).",
    )
    is_active = models.BooleanField(
        "active", default=True, help_text="Untick to stop the classifier learning from it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = HistoricalRecords(history_change_reason_field=models.TextField(null=True))

    class Meta:
        ordering = ["-id"]
        verbose_name = "router example"

    def __str__(self) -> str:
        text = " ".join(self.text.split())
        return f"{self.category}: {text[:60]}{'…' if len(text) > 60 else ''}"

    def clean(self) -> None:
        if not self.text.strip():
            raise ValidationError({"text": "Write the example message."})


class DecisionLog(models.Model):
    """A sampled routing decision, for analytics. Holds the message's length and hash, never its text."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    model_id = models.CharField("chosen model", max_length=150, db_index=True)
    tier = models.CharField(max_length=10, blank=True)
    sticky = models.BooleanField(default=False)
    fallback = models.BooleanField(default=False)
    primary_category = models.CharField(max_length=20)
    complexity = models.CharField(max_length=10)
    high_stakes = models.BooleanField(default=False)
    classifier = models.CharField(max_length=10)
    source = models.CharField("config source", max_length=20)
    message_length = models.PositiveIntegerField()
    message_sha256 = models.CharField(max_length=64)
    decision = models.JSONField(help_text="The decision's to_dict() (no message text).")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "routing decision"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} → {self.model_id}"
