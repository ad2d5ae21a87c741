"""Write services for the router's tables.

Every write takes the acting user (``None`` for system jobs) and a reason,
validates fully, records a history row with both, and bumps the catalog
version when its transaction commits, so every process's router snapshot
reloads. Admin classes and commands call these instead of saving models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from models_registry.audit import writes
from models_registry.audit.writes import EditConflict, require_reason  # noqa: F401  (part of this API)
from models_registry.models import AIModel

from .conversions import field_values_from_profile, field_values_from_settings
from .decision import Decision
from .defaults import DEFAULT_SETTINGS, default_profiles
from .models import (
    PARAMETER_FIELDS,
    SCORE_NAMES,
    SINGLETON_ID,
    DecisionLog,
    DraftStatus,
    ModelProfile,
    RouterConfig,
    RouterDraft,
    RouterExample,
)
from .types import Profile, RouterSettings

CONFIG_SEED_REASON = "Initial seed from the router defaults"
PROFILES_SEED_REASON = "Initial seed from fixtures/model_profiles.json"

CREATED, SKIPPED, REPLACED, UNCHANGED = "created", "skipped", "replaced", "unchanged"


def get_config() -> RouterConfig | None:
    return RouterConfig.objects.filter(pk=SINGLETON_ID).first()


def save_config(
    config: RouterConfig,
    *,
    user: Any,
    reason: str,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
) -> RouterConfig:
    """Apply ``changes`` (parameter → value) to the config as one new version.

    ``expected_version``: the version the editor started from; if the config
    moved on since, nothing is saved and :class:`EditConflict` is raised.
    """
    return writes.update(config, user=user, reason=reason, changes=changes, expected_version=expected_version)


def revert_config(
    config: RouterConfig, *, to_version: int, user: Any, reason: str, expected_version: int | None = None
) -> RouterConfig:
    return writes.revert(
        config, to_version=to_version, user=user, reason=reason, expected_version=expected_version
    )


def reset_config(
    *, user: Any, reason: str, settings: RouterSettings = DEFAULT_SETTINGS
) -> tuple[RouterConfig, str]:
    """Set every parameter to ``settings`` (the built-in defaults), creating the row if missing.

    Returns the row and ``"created"``, ``"replaced"`` (one more version; the
    history is kept) or ``"unchanged"`` (it had those values already: no version).
    """
    values = field_values_from_settings(settings)
    with transaction.atomic():
        writes.serialize("router_config")  # two first seeds at once: the second finds the row
        config = RouterConfig.objects.select_for_update().filter(pk=SINGLETON_ID).first()
        if config is None:
            config = writes.create(RouterConfig(pk=SINGLETON_ID, **values), user=user, reason=reason)
            return config, CREATED
        if all(getattr(config, name) == value for name, value in values.items()):
            return config, UNCHANGED
        writes.update(config, user=user, reason=reason, changes=values)
    return config, REPLACED


@dataclass
class SeedConfigResult:
    action: str  # created, skipped, replaced or unchanged
    dry_run: bool = False


def seed_config(
    *,
    user: Any = None,
    reason: str = CONFIG_SEED_REASON,
    force_replace: bool = False,
    dry_run: bool = False,
) -> SeedConfigResult:
    """Create the config from the defaults; skip if it exists, unless ``force_replace``.

    Raises ``ValidationError`` if the catalog lacks the default router or fallback model.
    """
    reason = require_reason(reason)
    exists = RouterConfig.objects.filter(pk=SINGLETON_ID).exists()
    if exists and not force_replace:
        return SeedConfigResult(SKIPPED, dry_run)
    action = REPLACED if exists else CREATED
    if dry_run:
        config = RouterConfig(pk=SINGLETON_ID, **field_values_from_settings(DEFAULT_SETTINGS))
        config.full_clean()
        return SeedConfigResult(action, dry_run=True)
    _, action = reset_config(user=user, reason=reason)
    return SeedConfigResult(action)


def create_profile(profile: ModelProfile, *, user: Any, reason: str) -> ModelProfile:
    """Save a new profile as its version 1."""
    return writes.create(profile, user=user, reason=reason)


def update_profile(
    profile: ModelProfile,
    *,
    user: Any,
    reason: str,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
) -> ModelProfile:
    return writes.update(
        profile, user=user, reason=reason, changes=changes, expected_version=expected_version
    )


def revert_profile(
    profile: ModelProfile, *, to_version: int, user: Any, reason: str, expected_version: int | None = None
) -> ModelProfile:
    return writes.revert(
        profile, to_version=to_version, user=user, reason=reason, expected_version=expected_version
    )


@dataclass
class SeedProfilesResult:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # a profile exists already: never overwritten
    not_in_catalog: list[str] = field(default_factory=list)
    dry_run: bool = False


def seed_profiles(
    profiles: Mapping[str, Profile] | None = None,
    *,
    user: Any = None,
    reason: str = PROFILES_SEED_REASON,
    dry_run: bool = False,
) -> SeedProfilesResult:
    """Create a profile for every catalog model of ``profiles`` that has none, in one transaction."""
    reason = require_reason(reason)
    profiles = default_profiles() if profiles is None else profiles
    result = SeedProfilesResult(dry_run=dry_run)
    ids = sorted(profiles)
    in_catalog = set(AIModel.objects.filter(model_id__in=ids).values_list("model_id", flat=True))
    existing = set(ModelProfile.objects.filter(model_id__in=ids).values_list("model_id", flat=True))
    result.not_in_catalog = [model_id for model_id in ids if model_id not in in_catalog]
    result.skipped = [model_id for model_id in ids if model_id in existing]
    to_create = [model_id for model_id in ids if model_id in in_catalog and model_id not in existing]
    if dry_run:
        result.created = to_create
        return result
    with writes.change_set(user=user, reason=reason, summary="Seed of the router profiles"):
        writes.serialize("seed_profiles")  # a parallel deploy's seed: wait, then skip what it made
        made_meanwhile = set(
            ModelProfile.objects.filter(model_id__in=to_create).values_list("model_id", flat=True)
        )
        result.skipped += sorted(made_meanwhile)
        for model_id in [model_id for model_id in to_create if model_id not in made_meanwhile]:
            row = ModelProfile(model_id=model_id, **field_values_from_profile(profiles[model_id]))
            writes.create(row, user=user, reason=reason)
            result.created.append(model_id)
    return result


# --- drafts -------------------------------------------------------------------


def _parameter_values(row: Any) -> dict[str, Any]:
    """The parameters of a config or draft row, comparable and JSON-ready (FKs by id, numbers as text)."""
    values = {}
    for name in PARAMETER_FIELDS:
        value = getattr(row, RouterConfig._meta.get_field(name).attname)
        values[name] = (
            str(value) if isinstance(value, Decimal | int) and not isinstance(value, bool) else value
        )
    return values


def _same(name: str, left: Any, right: Any) -> bool:
    numeric = (models.DecimalField, models.PositiveSmallIntegerField, models.PositiveIntegerField)
    if left is not None and right is not None and isinstance(RouterConfig._meta.get_field(name), numeric):
        return Decimal(str(left)) == Decimal(str(right))
    return left == right


def create_draft(*, name: str, user: Any, reason: str) -> RouterDraft:
    """A new open draft holding the live config's parameters (version 1 of the draft)."""
    config = get_config()
    if config is None:
        raise ValidationError("The router config does not exist yet: create it before drafting changes.")
    attnames = [RouterConfig._meta.get_field(name).attname for name in PARAMETER_FIELDS]
    values = {attname: getattr(config, attname) for attname in attnames}
    draft = RouterDraft(
        name=name.strip(),
        based_on_version=config.version,
        base_parameters=_parameter_values(config),
        created_by=writes.acting_user(user),
        **values,
    )
    return writes.create(draft, user=user, reason=reason)


def update_draft(
    draft: RouterDraft,
    *,
    user: Any,
    reason: str,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
) -> RouterDraft:
    if not draft.is_open:
        raise ValidationError(f"{draft} is {draft.status}: it cannot be changed.")
    return writes.update(draft, user=user, reason=reason, changes=changes, expected_version=expected_version)


@dataclass
class DraftChanges:
    """What publishing a draft would write, and what stops it."""

    parameters: list[tuple[str, Any, Any]] = field(default_factory=list)  # (name, live, draft)
    profiles: list[tuple[str, dict[str, int], dict[str, int]]] = field(
        default_factory=list
    )  # (id, live, new)
    conflicts: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.parameters and not self.profiles


def draft_changes(draft: RouterDraft, config: RouterConfig | None = None) -> DraftChanges:
    """The parameters and profiles the draft changes against what is live now.

    A parameter counts if the draft changed it since it was copied; if the live config changed the
    same parameter to another value meanwhile, it is a conflict. A profile counts if its scores
    differ from the live ones; if the live profile was edited since the draft changed it, a conflict.
    """
    config = config if config is not None else get_config()
    result = DraftChanges()
    if config is None:
        result.conflicts.append("The router config does not exist: there is nothing to publish onto.")
        return result
    live, mine, base = _parameter_values(config), _parameter_values(draft), draft.base_parameters
    for name in PARAMETER_FIELDS:
        if _same(name, mine[name], base.get(name)) or _same(name, mine[name], live[name]):
            continue  # not changed by the draft, or already live
        if not _same(name, live[name], base.get(name)):
            result.conflicts.append(
                f"{RouterConfig._meta.get_field(name).verbose_name}: changed live since the draft was made "
                f"({base.get(name)} → {live[name]}); the draft has {mine[name]}."
            )
        result.parameters.append((name, live[name], mine[name]))
    overrides = draft.profile_overrides or {}
    profiles = {row.model_id: row for row in ModelProfile.objects.filter(model_id__in=list(overrides))}
    for model_id, scores in sorted(overrides.items()):
        row = profiles.get(model_id)
        current = {name: getattr(row, name) for name in SCORE_NAMES} if row else {}
        new = {**current, **scores}
        if new == current:
            continue
        seen = int((draft.base_profile_versions or {}).get(model_id, 0))
        if (row.version if row else 0) != seen:
            result.conflicts.append(
                f"The profile of {model_id} was changed live since the draft changed it "
                f"(version {seen} → {row.version if row else 0})."
            )
        result.profiles.append((model_id, current, new))
    return result


def publish_draft(
    draft: RouterDraft, *, user: Any, reason: str, expected_version: int | None = None
) -> RouterConfig:
    """Make the draft live: its changed parameters as one new config version, its profile changes as
    new profile versions, all with ``reason`` in one change set; the draft is marked published.

    Refused with nothing written if the draft moved past ``expected_version``, is not open, changes
    nothing, or conflicts with a live change made since it was copied."""
    reason = require_reason(reason)
    with writes.change_set(
        user=user, reason=reason, summary=f"Publish of router draft {draft.pk} ({draft.name})"
    ):
        row = writes.lock(RouterDraft, draft.pk)
        writes.check_version(row, expected_version)
        if not row.is_open:
            raise ValidationError(f"{row} is {row.status} already.")
        config = writes.lock(RouterConfig, SINGLETON_ID)
        changes = draft_changes(row, config)
        if changes.conflicts:
            raise ValidationError(changes.conflicts)
        if changes.empty:
            raise ValidationError("The draft changes nothing that is live: nothing to publish.")
        if changes.parameters:
            writes.update(
                config,
                user=user,
                reason=reason,
                changes={name: getattr(row, name) for name, _, _ in changes.parameters},
            )
        for model_id, current, new in changes.profiles:
            if current:
                profile = writes.lock(ModelProfile, ModelProfile.objects.get(model_id=model_id).pk)
                writes.update(profile, user=user, reason=reason, changes=new)
            else:
                writes.create(ModelProfile(model_id=model_id, **new), user=user, reason=reason)
        writes.update(
            row,
            user=user,
            reason=reason,
            changes={"status": DraftStatus.PUBLISHED, "published_config_version": config.version},
        )
    writes.copy_state(row, draft)
    return config


def discard_draft(
    draft: RouterDraft, *, user: Any, reason: str, expected_version: int | None = None
) -> RouterDraft:
    if not draft.is_open:
        raise ValidationError(f"{draft} is {draft.status} already.")
    return writes.update(
        draft,
        user=user,
        reason=reason,
        changes={"status": DraftStatus.DISCARDED},
        expected_version=expected_version,
    )


def teach_example(text: str, category: str, *, complexity: str = "", user: Any, reason: str) -> RouterExample:
    """A new example for the semantic classifier ("teach the router"); every worker retrains on the
    next read after the commit."""
    return writes.create(
        RouterExample(
            text=text, category=category, complexity=complexity, created_by=writes.acting_user(user)
        ),
        user=user,
        reason=reason,
    )


def logged_decisions(start: Any, end: Any, *, limit: int) -> tuple[list[Any], int]:
    """The decisions logged in ``[start, end)`` as :class:`.replay.Logged` (with the tokens of the
    usage they led to), and how many could not be read. ``ValueError`` past ``limit`` of them.
    Two queries: the log, and the usage summed per decision."""
    from django.db.models import Sum

    from models_registry.usage.models import UsageRecord

    from .replay import Logged
    from .types import Classification

    rows = DecisionLog.objects.filter(created_at__gte=start, created_at__lt=end).order_by("id")
    if rows.count() > limit:
        raise ValueError(f"more than {limit:,} decisions in the range: replay a shorter one.")
    tokens = {
        row["decision_id"]: (row["input"] or 0, row["output"] or 0)
        for row in UsageRecord.objects.filter(decision_id__in=rows.values("id"))
        .values("decision_id")
        .annotate(input=Sum("input_tokens"), output=Sum("output_tokens"))
    }
    entries, unreadable = [], 0
    for log_id, model_id, tier, stored in rows.values_list("id", "model_id", "tier", "decision").iterator():
        try:
            classification = Classification.from_dict(stored["classification"])
            inputs = dict(stored.get("inputs") or {}, seed_key=stored["seed_key"])
        except (ValueError, KeyError, TypeError, AttributeError):
            unreadable += 1
            continue
        entries.append(Logged(log_id, model_id, tier, classification, inputs, tokens.get(log_id)))
    return entries, unreadable


def log_decision(decision: Decision) -> DecisionLog:
    """Store a decision for analytics: its dict, the message's length and hash, never the text."""
    with transaction.atomic():  # a savepoint: a failed insert must not break the caller's transaction
        return DecisionLog.objects.create(
            model_id=decision.model_id,
            tier=decision.tier or "",
            sticky=decision.sticky,
            fallback=decision.is_fallback,
            primary_category=decision.classification.primary,
            complexity=decision.classification.complexity,
            high_stakes=decision.classification.high_stakes,
            classifier=decision.classifier,
            source=decision.source,
            message_length=decision.message_length,
            message_sha256=decision.message_sha256,
            decision=decision.to_dict(),
        )
