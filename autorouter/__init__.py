"""The auto-router: picks a model for each chat message. Depends on models_registry.

::

    from autorouter import route

    decision = route(text, subject=request.user, previous_model_id=conversation.model_id)
    decision.model_id, decision.explanation, decision.to_dict()

Retries: ``autorouter.attempts(text, ...)`` yields the first choice and then
one decision per failed model, up to the configured max retries;
``autorouter.next_candidate(text, failed=[...])`` is the one-step form.

The functions here import the router on first call, so importing this package
(as Django does at start-up) loads no models.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .decision import Decision

__all__ = ["attempts", "next_candidate", "route"]


def route(
    message: str,
    *,
    subject: Any = None,
    previous_model_id: str | None = None,
    has_attachments: bool = False,
    context_tokens: int = 0,
    cost_bias: int = 50,
    speed_bias: int = 50,
    exclude: Collection[str] = (),
    seed_key: str | None = None,
    user_tier: str = "free",
) -> Decision:
    """Pick the model for ``message`` (``user_tier``: ``"free"`` or ``"pro"``); see
    :func:`autorouter.router.route`."""
    from .router import route as _route

    return _route(
        message,
        subject=subject,
        previous_model_id=previous_model_id,
        has_attachments=has_attachments,
        context_tokens=context_tokens,
        cost_bias=cost_bias,
        speed_bias=speed_bias,
        exclude=exclude,
        seed_key=seed_key,
        user_tier=user_tier,
    )


def next_candidate(message: str, *, failed: Collection[str], **kwargs: Any) -> Decision | None:
    """The next decision after the models in ``failed`` failed; ``None`` once retries are used up."""
    from .router import next_candidate as _next_candidate

    return _next_candidate(message, failed=failed, **kwargs)


def attempts(message: str, **kwargs: Any) -> Iterator[Decision]:
    """The first choice, then one decision per failure, up to the configured max retries."""
    from .router import attempts as _attempts

    return _attempts(message, **kwargs)
