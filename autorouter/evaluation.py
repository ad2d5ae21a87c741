"""Evaluating the router on a labelled dataset: pure reading and arithmetic, no ORM, no routing.

A dataset is JSON Lines; each line has ``prompt`` and any of:

- ``category`` (one of :data:`.types.CATEGORIES`) and ``complexity`` (simple / moderate / complex):
  the classifier's accuracy and confusion matrices;
- ``weak_correct`` and ``strong_correct`` (booleans: did a weak and a strong model answer it
  right?): the share of strong calls and the share of the weak→strong gap the router recovers,
  against random routing at the same share of strong calls (which recovers exactly that share);
- ``scores`` (model id → a number, higher is better): the mean score of the models the router
  chose, where the dataset scored them;
- ``split`` (``train`` / ``test``), ``has_attachments`` (bool), ``context_tokens`` (int).

The caller routes each prompt and hands back one :class:`Routed` per line; :func:`evaluate` sums
them up. A "strong call" is a call routed to the premium tier.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .types import CATEGORIES, COMPLEXITIES, TIERS

STRONG_TIER = "premium"
MAX_PROMPT_CHARS = 100_000


@dataclass(frozen=True)
class Example:
    """One labelled line of a dataset."""

    line: int
    prompt: str
    category: str | None = None
    complexity: str | None = None
    weak_correct: bool | None = None
    strong_correct: bool | None = None
    scores: dict[str, float] = field(default_factory=dict)
    split: str | None = None
    has_attachments: bool = False
    context_tokens: int = 0


@dataclass(frozen=True)
class Routed:
    """What the router made of one example."""

    example: Example
    category: str
    complexity: str
    tier: str | None
    model_id: str
    cost: Decimal  # estimated USD of the call on the chosen model


def _check(condition: bool, line: int, message: str) -> None:
    if not condition:
        raise ValueError(f"line {line}: {message}")


def read_dataset(lines: Iterable[str], *, split: str | None = None) -> list[Example]:
    """The examples of a JSON Lines dataset (blank lines skipped), those of ``split`` if given.

    ``ValueError`` naming the line for anything malformed: nothing is evaluated on a bad file.
    """
    examples = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data: Any = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"line {number}: not JSON ({exc})") from None
        _check(isinstance(data, dict), number, "not a JSON object")
        prompt = data.get("prompt")
        _check(isinstance(prompt, str) and bool(prompt.strip()), number, "prompt must be a non-empty string")
        _check(len(prompt) <= MAX_PROMPT_CHARS, number, f"prompt longer than {MAX_PROMPT_CHARS:,} characters")
        category, complexity = data.get("category"), data.get("complexity")
        _check(category is None or category in CATEGORIES, number, f"unknown category {category!r}")
        _check(complexity is None or complexity in COMPLEXITIES, number, f"unknown complexity {complexity!r}")
        weak, strong = data.get("weak_correct"), data.get("strong_correct")
        _check((weak is None) == (strong is None), number, "weak_correct and strong_correct go together")
        _check(weak is None or (isinstance(weak, bool) and isinstance(strong, bool)), number, "not booleans")
        scores = data.get("scores") or {}
        _check(
            isinstance(scores, dict)
            and all(
                isinstance(key, str) and isinstance(value, int | float) and not isinstance(value, bool)
                for key, value in scores.items()
            ),
            number,
            "scores must map model ids to numbers",
        )
        attachments, context = (
            data.get("has_attachments", data.get("needs") == "vision"),
            data.get("context_tokens", 0),
        )
        _check(isinstance(attachments, bool), number, "has_attachments must be a boolean")
        _check(
            isinstance(context, int) and not isinstance(context, bool) and context >= 0,
            number,
            "bad context_tokens",
        )
        example = Example(
            number,
            prompt,
            category,
            complexity,
            weak,
            strong,
            dict(scores),
            data.get("split"),
            attachments,
            context,
        )
        if split is None or example.split == split:
            examples.append(example)
    if not examples:
        raise ValueError("the dataset has no example" + (f" in split {split!r}" if split else ""))
    return examples


def read_dataset_file(path: Path, *, split: str | None = None) -> list[Example]:
    """:func:`read_dataset` of a file; ``ValueError`` naming the file for anything unreadable."""
    try:
        with path.open(encoding="utf-8") as lines:
            return read_dataset(lines, split=split)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def _confusion(pairs: Sequence[tuple[str, str]], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    counts = Counter(pairs)
    return {truth: {guess: counts[(truth, guess)] for guess in labels} for truth in labels}


def _accuracy(pairs: Sequence[tuple[str, str]]) -> float | None:
    return sum(truth == guess for truth, guess in pairs) / len(pairs) if pairs else None


def evaluate(results: Sequence[Routed]) -> dict[str, Any]:
    """The report (JSON-ready): accuracies, confusion matrices, tier and model shares, cost, quality."""
    total = len(results)
    categories = [(r.example.category, r.category) for r in results if r.example.category]
    complexities = [(r.example.complexity, r.complexity) for r in results if r.example.complexity]
    tiers = Counter(r.tier or "fallback" for r in results)
    models = Counter(r.model_id for r in results)
    cost = sum((r.cost for r in results), Decimal(0))
    report: dict[str, Any] = {
        "examples": total,
        "category_accuracy": _accuracy(categories),
        "category_labelled": len(categories),
        "category_confusion": _confusion(categories, CATEGORIES) if categories else None,
        "complexity_accuracy": _accuracy(complexities),
        "complexity_labelled": len(complexities),
        "complexity_confusion": _confusion(complexities, COMPLEXITIES) if complexities else None,
        "tier_shares": {tier: tiers[tier] / total for tier in (*TIERS, "fallback") if tiers[tier]},
        "top_models": [
            {"model_id": model, "share": count / total} for model, count in models.most_common(10)
        ],
        "estimated_cost_usd": str(cost),
        "estimated_cost_per_1000_usd": str((cost * 1000 / total).quantize(Decimal("0.0001")))
        if total
        else "0",
    }
    judged = [r for r in results if r.example.weak_correct is not None]
    if judged:
        strong_share = sum(r.tier == STRONG_TIER for r in judged) / len(judged)
        weak = sum(r.example.weak_correct for r in judged) / len(judged)
        strong = sum(r.example.strong_correct for r in judged) / len(judged)
        routed = sum(
            (r.example.strong_correct if r.tier == STRONG_TIER else r.example.weak_correct) for r in judged
        ) / len(judged)
        gap = strong - weak
        report["weak_strong"] = {
            "examples": len(judged),
            "strong_share": strong_share,
            "weak_accuracy": weak,
            "strong_accuracy": strong,
            "router_accuracy": routed,
            # Random routing with the same share of strong calls recovers that share of the gap.
            "gap_recovered": (routed - weak) / gap if gap else None,
            "random_gap_recovered": strong_share,
        }
    scored = [r.example.scores[r.model_id] for r in results if r.model_id in r.example.scores]
    if scored:
        report["model_scores"] = {"examples": len(scored), "mean_score_of_chosen": sum(scored) / len(scored)}
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as text, for the command's output."""

    def percent(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    lines = [f"examples: {report['examples']}"]
    for name, labels in (("category", CATEGORIES), ("complexity", COMPLEXITIES)):
        if report[f"{name}_confusion"] is None:
            continue
        accuracy, labelled = report[f"{name}_accuracy"], report[f"{name}_labelled"]
        lines.append(f"{name} accuracy: {percent(accuracy)} over {labelled} labelled")
        width = max(len(label) for label in labels) + 1
        lines.append(
            "  truth \\ guess".ljust(width + 2) + " " + " ".join(label[:6].rjust(6) for label in labels)
        )
        for truth in labels:
            row = report[f"{name}_confusion"][truth]
            lines.append(f"  {truth.ljust(width)}" + " ".join(str(row[guess]).rjust(6) for guess in labels))
    lines.append(
        "tier shares: "
        + ", ".join(f"{tier} {percent(share)}" for tier, share in report["tier_shares"].items())
    )
    lines.append(
        "top models: " + ", ".join(f"{m['model_id']} {percent(m['share'])}" for m in report["top_models"][:5])
    )
    per_1000 = report["estimated_cost_per_1000_usd"]
    lines.append(f"estimated cost: {report['estimated_cost_usd']} USD ({per_1000} per 1,000 messages)")
    if "weak_strong" in report:
        ws = report["weak_strong"]
        lines.append(
            f"weak/strong ({ws['examples']} examples): strong calls {percent(ws['strong_share'])}; "
            "accuracy weak "
            f"{percent(ws['weak_accuracy'])}, strong {percent(ws['strong_accuracy'])}, router "
            f"{percent(ws['router_accuracy'])}; gap recovered {percent(ws['gap_recovered'])} against "
            f"{percent(ws['random_gap_recovered'])} for random routing at the same share"
        )
    if "model_scores" in report:
        ms = report["model_scores"]
        lines.append(
            f"mean score of the chosen models: {ms['mean_score_of_chosen']:.3f} ({ms['examples']} scored)"
        )
    return "\n".join(lines)
