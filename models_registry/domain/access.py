"""Who may use which model: the one access rule of ``list_models``, ``search_models`` and ``route()``.

- internal-only models are never offered to users (only admin tools list them);
- pro models are offered to pro users only.

``user_tier`` names the user's plan: ``"free"`` or ``"pro"``. Callers that serve no user (the
admin, operations) pass ``None`` to see every model the other filters allow.
"""

from __future__ import annotations

from typing import Any

FREE, PRO = "free", "pro"
USER_TIERS: tuple[str, ...] = (FREE, PRO)


def check_user_tier(user_tier: Any) -> str | None:
    """``user_tier`` if it is a known tier or ``None``; a ``ValueError`` naming the tiers otherwise."""
    if user_tier is None or user_tier in USER_TIERS:
        return user_tier
    raise ValueError(
        f"user_tier must be one of {', '.join(map(repr, USER_TIERS))} or None, not {user_tier!r}"
    )


def sees_pro_models(user_tier: str | None) -> bool:
    return user_tier is None or user_tier == PRO


def available_to(model: Any, user_tier: str | None) -> bool:
    """Whether a user on ``user_tier`` may be offered ``model`` (``None``: no user, no rule)."""
    if user_tier is None:
        return True
    return not model.is_internal_only and (not model.is_pro or user_tier == PRO)
