"""The evaluation harness: reading a dataset, the report's arithmetic, and `evaluate_router`."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from autorouter.evaluation import Example, Routed, evaluate, read_dataset

DATASET = Path(__file__).resolve().parents[2] / "fixtures" / "router_eval" / "prompts.jsonl"


def routed(tier: str, *, weak: bool, strong: bool, category: str = "coding", guess: str = "coding") -> Routed:
    example = Example(
        1, "p", category=category, complexity="simple", weak_correct=weak, strong_correct=strong
    )
    return Routed(example, guess, "simple", tier, "x:m", Decimal("0.5"))


def test_the_gap_recovered_is_measured_against_random_routing_at_the_same_share():
    results = [
        routed("premium", weak=False, strong=True),  # the router sent the hard one up: recovered
        routed("cheap", weak=True, strong=True),
        routed("cheap", weak=False, strong=True),  # missed: the weak model fails it
        routed("mid", weak=True, strong=True, category="factual"),
    ]
    report = evaluate(results)
    ws = report["weak_strong"]
    assert ws["strong_share"] == 0.25
    assert (ws["weak_accuracy"], ws["strong_accuracy"], ws["router_accuracy"]) == (0.5, 1.0, 0.75)
    assert ws["gap_recovered"] == 0.5 and ws["random_gap_recovered"] == 0.25
    assert report["category_accuracy"] == 0.75
    assert report["category_confusion"]["factual"]["coding"] == 1
    assert report["tier_shares"] == {"cheap": 0.5, "mid": 0.25, "premium": 0.25}
    assert report["estimated_cost_usd"] == "2.0" and report["estimated_cost_per_1000_usd"] == "500.0000"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('["a list"]', "not a JSON object"),
        ('{"prompt": ""}', "prompt must be a non-empty string"),
        ('{"prompt": "hi", "category": "poetry"}', "unknown category 'poetry'"),
        ('{"prompt": "hi", "complexity": "hard"}', "unknown complexity 'hard'"),
        ('{"prompt": "hi", "weak_correct": true}', "weak_correct and strong_correct go together"),
        ('{"prompt": "hi", "weak_correct": 1, "strong_correct": 0}', "not booleans"),
        ('{"prompt": "hi", "scores": {"x:m": "high"}}', "scores must map model ids to numbers"),
    ],
)
def test_a_malformed_line_is_named_and_nothing_is_evaluated(line, message):
    with pytest.raises(ValueError, match=message):
        read_dataset(['{"prompt": "fine"}', line] if "line 1" not in message else [line])


def test_the_projects_dataset_reads_with_its_splits():
    lines = DATASET.read_text(encoding="utf-8").splitlines()
    train, test = read_dataset(lines, split="train"), read_dataset(lines, split="test")
    assert len(train) + len(test) == len(lines) >= 400
    assert {example.category for example in test} == {
        "coding", "reasoning", "creative", "factual", "analysis", "conversation", "multimodal", "research"
    }  # fmt: skip
    assert not {example.prompt for example in train} & {example.prompt for example in test}


def test_evaluate_router_prints_the_report_and_refuses_a_bad_file(router_db, tmp_path):
    dataset = tmp_path / "small.jsonl"
    rows = [
        {"prompt": "Write a Python function that parses ISO dates", "category": "coding",
         "complexity": "moderate", "weak_correct": False, "strong_correct": True},
        {"prompt": "hi there!", "category": "conversation", "complexity": "simple",
         "weak_correct": True, "strong_correct": True, "scores": {"openai:gpt-5": 0.4}},
        {"prompt": "What breed is this dog?", "needs": "vision", "category": "multimodal"},
    ]  # fmt: skip
    dataset.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")

    out = StringIO()
    call_command("evaluate_router", "--dataset", str(dataset), stdout=out)
    text = out.getvalue()
    assert "examples: 3" in text and "category accuracy:" in text and "tier shares:" in text
    assert "weak/strong (2 examples)" in text and "for random routing at the same share" in text

    out = StringIO()
    call_command("evaluate_router", "--dataset", str(dataset), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["examples"] == 3 and report["category_labelled"] == 3
    assert Decimal(report["estimated_cost_usd"]) > 0

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": 3}\n', encoding="utf-8")
    with pytest.raises(CommandError, match="line 2: prompt must be a non-empty string"):
        call_command("evaluate_router", "--dataset", str(bad))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("evaluate_router", "--dataset", str(tmp_path / "missing.jsonl"))


def test_on_the_held_out_split_the_router_recovers_more_of_the_gap_than_random(router_db):
    """Tiers by difficulty (thresholds calibrated on the train split): the hard prompts go to the
    strong tier, so more of the weak→strong gap is recovered than random routing at that share."""
    out = StringIO()
    dataset = DATASET.parent / "weak_strong.jsonl"
    call_command("evaluate_router", "--dataset", str(dataset), "--split", "test", "--json", stdout=out)
    ws = json.loads(out.getvalue())["weak_strong"]
    assert ws["examples"] >= 150
    assert ws["gap_recovered"] > ws["random_gap_recovered"] + 0.10, ws
