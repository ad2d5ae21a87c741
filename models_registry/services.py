"""Write services for the catalog.

Every write takes the acting user (``None`` for system jobs) and a reason,
validates fully, records a history row with both, and bumps the catalog
version when its transaction commits. Admin classes, views and commands call
these instead of saving models themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from .catalog_version import bump_on_commit
from .conversions import field_values_from_config
from .models import AIModel, Provider
from .types import ModelConfig

SEED_REASON = "Initial seed from static catalog"


def require_reason(reason: str | None) -> str:
    """A change reason is mandatory on every write; return it stripped."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason for the change is required."})
    return reason


def save_with_history(obj: models.Model, *, user: Any, reason: str) -> None:
    """Validate and save ``obj``, recording ``user`` and ``reason`` on its history row."""
    obj.full_clean()
    obj._history_user = user  # read by simple-history instead of the request user
    obj._change_reason = reason
    obj.save()


def create_provider(*, slug: str, name: str, user: Any, reason: str) -> Provider:
    provider = Provider(slug=slug, name=name)
    with transaction.atomic():
        save_with_history(provider, user=user, reason=require_reason(reason))
        bump_on_commit()
    return provider


def create_model(*, provider: Provider, user: Any, reason: str, **values: Any) -> AIModel:
    """Create one model. ``values`` are ``AIModel`` field values."""
    reason = require_reason(reason)
    model = AIModel(provider=provider, created_by=user, updated_by=user, **values)
    with transaction.atomic():
        save_with_history(model, user=user, reason=reason)
        bump_on_commit()
    return model


def update_model(model: AIModel, *, user: Any, reason: str, changes: Mapping[str, Any]) -> AIModel:
    """Apply ``changes`` (field → new value) to ``model`` as one new version."""
    reason = require_reason(reason)
    if "model_id" in changes and changes["model_id"] != model.model_id:
        raise ValidationError({"model_id": "The model id cannot be changed after creation."})
    for name, value in changes.items():
        setattr(model, name, value)
    model.updated_by = user
    with transaction.atomic():
        save_with_history(model, user=user, reason=reason)
        bump_on_commit()
    return model


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    providers_created: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def seed_models(
    configs: Iterable[ModelConfig],
    *,
    provider_names: Mapping[str, str],
    dry_run: bool = False,
    user: Any = None,
    reason: str = SEED_REASON,
) -> SeedResult:
    """Create every model of ``configs`` that the database lacks, in one transaction.

    Existing model ids are skipped, never overwritten. If any model fails
    validation, nothing is written and the failures are listed in ``errors``.
    """
    reason = require_reason(reason)
    configs = list(configs)
    result = SeedResult(dry_run=dry_run)
    existing_ids = set(
        AIModel.objects.filter(model_id__in=[c.id for c in configs]).values_list("model_id", flat=True)
    )
    to_create = [c for c in configs if c.id not in existing_ids]
    result.skipped = [c.id for c in configs if c.id in existing_ids]
    providers = {p.slug: p for p in Provider.objects.filter(slug__in={c.provider for c in to_create})}

    if dry_run:
        result.created = [c.id for c in to_create]
        result.providers_created = sorted({c.provider for c in to_create} - set(providers))
        return result

    with transaction.atomic():
        for config in to_create:
            try:
                with transaction.atomic():  # a savepoint, so one failure leaves the rest usable
                    provider = providers.get(config.provider)
                    if provider is None:
                        provider = Provider(
                            slug=config.provider, name=provider_names.get(config.provider, config.provider)
                        )
                        save_with_history(provider, user=user, reason=reason)
                        providers[config.provider] = provider
                        result.providers_created.append(provider.slug)
                    model = AIModel(
                        provider=provider,
                        created_by=user,
                        updated_by=user,
                        **field_values_from_config(config),
                    )
                    save_with_history(model, user=user, reason=reason)
                result.created.append(config.id)
            except ValidationError as exc:
                result.errors[config.id] = "; ".join(
                    f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()
                )
        if result.errors:
            # All or nothing: a partly seeded catalog is worse than none.
            transaction.set_rollback(True)
            result.providers_created = []
        elif result.created:
            bump_on_commit()
    return result
