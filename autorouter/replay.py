"""What-if replay: re-deciding logged routing decisions under another config (pure, no ORM).

A logged decision keeps every input needed to decide again without the message text: the
classification (difficulty included) and ``inputs`` (previous model, attachments, context
tokens, biases, exclusions, seed key, user tier). :func:`replay` re-decides each one with the
caller's ``decide`` (another config, profiles or catalog) and reports what changes: how many
decisions, the model and tier distributions before and after, the expected quality change (the
chosen models' profile quality under the new profiles), the cost change (each call's recorded
tokens priced now, on the old and the new model), and a sample of changed decisions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .decision import Decision
from .types import Classification, Profile

SAMPLE = 20


@dataclass(frozen=True)
class Logged:
    """One logged decision: what it chose, and what it was decided from."""

    log_id: int
    model_id: str
    tier: str
    classification: Classification
    inputs: Mapping[str, Any]
    # The tokens its calls recorded (input, output), or None when no usage is linked.
    tokens: tuple[int, int] | None = None


def replay(
    entries: Iterable[Logged],
    decide: Callable[[Logged], Decision],
    *,
    profiles: Mapping[str, Profile],
    price: Callable[[str, tuple[int, int]], Decimal | None],
) -> dict[str, Any]:
    """The report (JSON-ready) of re-deciding ``entries`` with ``decide``.

    ``profiles``: the new config's (the quality change reads them for both choices: the same
    yardstick); ``price(model_id, tokens)``: USD of those tokens on that model now, or ``None``."""
    total = changed = priced = 0
    models_before: Counter[str] = Counter()
    models_after: Counter[str] = Counter()
    tiers_before: Counter[str] = Counter()
    tiers_after: Counter[str] = Counter()
    quality_delta = 0
    cost_before = cost_after = Decimal(0)
    sample: list[dict[str, Any]] = []
    for entry in entries:
        decision = decide(entry)
        total += 1
        models_before[entry.model_id] += 1
        models_after[decision.model_id] += 1
        tiers_before[entry.tier or "fallback"] += 1
        tiers_after[decision.tier or "fallback"] += 1
        old, new = profiles.get(entry.model_id), profiles.get(decision.model_id)
        if old is not None and new is not None:
            quality_delta += new.quality - old.quality
        if entry.tokens is not None:
            before, after = price(entry.model_id, entry.tokens), price(decision.model_id, entry.tokens)
            if before is not None and after is not None:
                priced += 1
                cost_before += before
                cost_after += after
        if decision.model_id != entry.model_id or (decision.tier or "") != entry.tier:
            changed += 1
            if len(sample) < SAMPLE:
                sample.append(
                    {
                        "log_id": entry.log_id,
                        "category": entry.classification.primary,
                        "difficulty": entry.classification.difficulty,
                        "before": {"model_id": entry.model_id, "tier": entry.tier},
                        "after": {
                            "model_id": decision.model_id,
                            "tier": decision.tier,
                            "why": decision.tier_reason,
                        },
                    }
                )
    return {
        "decisions": total,
        "changed": changed,
        "models_before": dict(models_before.most_common()),
        "models_after": dict(models_after.most_common()),
        "tiers_before": dict(tiers_before),
        "tiers_after": dict(tiers_after),
        "mean_quality_change": quality_delta / total if total else 0.0,
        "priced_calls": priced,
        "cost_before_usd": str(cost_before),
        "cost_after_usd": str(cost_after),
        "cost_change_usd": str(cost_after - cost_before),
        "changed_sample": sample,
    }
