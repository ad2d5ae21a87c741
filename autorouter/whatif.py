"""What a config would do before it is live: replay over the decision log, evaluation on a dataset.

The commands (``replay_router``, ``evaluate_router``) and the admin's draft pages call these, so
the CLI and the admin report the same figures. Routes without logging; writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from models_registry import registry

from .conversions import settings_from_row
from .decision import Decision
from .derived import with_derived_profiles
from .evaluation import Example, Routed, evaluate
from .models import DraftStatus, RouterDraft
from .replay import Logged, replay
from .router import catalog_for, route_with_state
from .services import logged_decisions
from .state import DATABASE, DEFAULTS, DRAFT, RouterState, database_state, state_from
from .types import CATEGORIES, Profile

MAX_REPLAYED = 200_000  # decisions per replay: a longer range is refused (it is read in memory)
OUTPUT_TOKENS = 500  # assumed per call when a dataset's cost is estimated


def draft_state(draft: RouterDraft) -> RouterState:
    """The state a draft routes with: its parameters, and the live profiles with its changes."""
    live = database_state()
    profiles: dict[str, Profile] = dict(live.profiles)
    for model_id, scores in (draft.profile_overrides or {}).items():
        base = profiles.get(model_id)
        values = {"quality": base.quality, **base.scores} if base else {}
        values.update(scores)
        if len(values) == 1 + len(CATEGORIES):
            profiles[model_id] = Profile(
                quality=values["quality"], scores={name: values[name] for name in CATEGORIES}
            )
    return RouterState(settings_from_row(draft), MappingProxyType(profiles), DRAFT, f"draft {draft.pk}")


def state_named(name: str) -> RouterState:
    """``live``, ``defaults``, ``draft`` (the newest open draft) or ``draft:<id>``.

    ``LookupError`` says what is missing."""
    if name == "draft":
        draft = RouterDraft.objects.filter(status=DraftStatus.OPEN).order_by("-id").first()
        if draft is None:
            raise LookupError("no open router draft: make one in the admin (Router drafts → Add)")
        return draft_state(draft)
    if name.startswith("draft:"):
        try:
            draft = RouterDraft.objects.get(pk=int(name.removeprefix("draft:")))
        except (ValueError, RouterDraft.DoesNotExist):
            raise LookupError(f"no router draft {name.removeprefix('draft:')!r}") from None
        return draft_state(draft)
    sources = {"live": DATABASE, "defaults": DEFAULTS}
    if name not in sources:
        raise LookupError(f"unknown config {name!r}: use live, defaults, draft or draft:<id>")
    return state_from(sources[name])


def _price(model_id: str, tokens: tuple[int, int]) -> Decimal | None:
    try:
        return registry.calculate_cost(model_id, input_tokens=tokens[0], output_tokens=tokens[1])
    except (LookupError, ValueError):
        return None  # a model outside the catalog (the fallback, say): not priced


def replay_range(state: RouterState, start: datetime, end: datetime) -> dict[str, Any]:
    """Re-decide the decisions logged in ``[start, end)`` with ``state``; the report of
    :func:`.replay.replay` plus ``unreadable``. ``ValueError`` past :data:`MAX_REPLAYED` decisions."""
    entries, unreadable = logged_decisions(start, end, limit=MAX_REPLAYED)
    catalog = catalog_for(state)
    profiles = with_derived_profiles(catalog.models, state.profiles, state.settings)

    def decide(entry: Logged) -> Decision:
        inputs = entry.inputs
        return route_with_state(
            state,
            "",
            previous_model_id=inputs.get("previous_model_id"),
            has_attachments=bool(inputs.get("has_attachments")),
            context_tokens=int(inputs.get("context_tokens") or 0),
            cost_bias=int(inputs.get("cost_bias", 50)),
            speed_bias=int(inputs.get("speed_bias", 50)),
            exclude=tuple(inputs.get("exclude") or ()),
            seed_key=str(inputs["seed_key"]),
            classification=entry.classification,
            user_tier=inputs.get("user_tier") or "free",
            log=False,
        )

    report = replay(entries, decide, profiles=profiles, price=_price)
    report["unreadable"] = unreadable
    return report


def evaluate_dataset(
    state: RouterState,
    examples: Sequence[Example],
    *,
    classifier: str | None = None,
    user_tier: str = "free",
    output_tokens: int = OUTPUT_TOKENS,
) -> dict[str, Any]:
    """Route every example with ``state`` and report (:func:`.evaluation.evaluate`); the cost
    assumes a token per 4 characters of prompt and ``output_tokens`` per answer."""
    results = []
    for example in examples:
        decision = route_with_state(
            state,
            example.prompt,
            has_attachments=example.has_attachments,
            context_tokens=example.context_tokens,
            seed_key=f"evaluate-{example.line}",
            classifier=classifier,
            user_tier=user_tier,
            log=False,
        )
        tokens = (math.ceil(len(example.prompt) / 4), output_tokens)
        results.append(
            Routed(
                example,
                decision.classification.primary,
                decision.classification.complexity,
                decision.tier,
                decision.model_id,
                _price(decision.model_id, tokens) or Decimal(0),
            )
        )
    return evaluate(results)


def compare_on_dataset(
    before: RouterState, after: RouterState, examples: Sequence[Example], **options: Any
) -> dict[str, Any]:
    """Both reports on the same examples: before (usually live) and after (usually a draft)."""
    return {
        "before": evaluate_dataset(before, examples, **options),
        "after": evaluate_dataset(after, examples, **options),
    }
