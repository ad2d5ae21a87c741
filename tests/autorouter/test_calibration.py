"""Tiers by difficulty: calibrated thresholds, monotone tiers, the explanation, calibrate_router."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from autorouter.calibration import calibrate
from autorouter.defaults import DEFAULT_SETTINGS
from autorouter.engine import decide
from autorouter.models import DecisionLog, RouterConfig
from autorouter.services import save_config
from autorouter.types import COMPLEXITIES, TIERS
from tests.autorouter.conftest import make_classification, make_model, make_profile

DATASET = Path(__file__).resolve().parents[2] / "fixtures" / "router_eval"
RANK = {tier: rank for rank, tier in enumerate(TIERS)}


def shares_within(calibration, points: Decimal) -> bool:
    return all(
        abs(calibration.achieved_shares[tier] - calibration.target_shares[tier]) <= points / 100
        for tier in TIERS
    )


def test_calibration_reproduces_the_configured_shares_and_is_deterministic():
    rng = random.Random(7)
    samples = [(round(rng.betavariate(2, 3), 3), rng.choice(COMPLEXITIES)) for _ in range(3000)]
    first = calibrate(samples, DEFAULT_SETTINGS)
    assert shares_within(first, Decimal(2))
    assert calibrate(list(reversed(samples)), DEFAULT_SETTINGS) == first  # order does not matter
    skewed = replace(
        DEFAULT_SETTINGS,
        tier_weights={
            c: {"cheap": Decimal("0.2"), "mid": Decimal("0.2"), "premium": Decimal("0.6")}
            for c in COMPLEXITIES
        },
    )
    assert shares_within(calibrate(samples, skewed), Decimal(2))
    assert calibrate(samples, skewed).premium_difficulty < first.premium_difficulty
    with pytest.raises(ValueError, match="no samples"):
        calibrate([], DEFAULT_SETTINGS)


def three_tier_catalog():
    catalog = [make_model("x:cheap", "0.5"), make_model("x:mid", "2"), make_model("x:premium", "10")]
    return catalog, {model.id: make_profile() for model in catalog}


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.sampled_from(COMPLEXITIES), st.text(max_size=20))
def test_a_harder_message_never_gets_a_cheaper_tier(easier, harder, complexity, key):
    easier, harder = sorted((round(easier, 3), round(harder, 3)))
    catalog, profiles = three_tier_catalog()

    def tier(difficulty):
        classification = make_classification(complexity=complexity, difficulty=difficulty)
        return decide(
            "m",
            catalog=catalog,
            profiles=profiles,
            settings=DEFAULT_SETTINGS,
            classification=classification,
            seed_key=key,
        ).tier

    assert RANK[tier(easier)] <= RANK[tier(harder)]


def test_the_decision_says_the_difficulty_and_threshold():
    catalog, profiles = three_tier_catalog()
    config = replace(DEFAULT_SETTINGS, mid_difficulty=Decimal("0.4"), premium_difficulty=Decimal("0.74"))
    decision = decide(
        "m",
        catalog=catalog,
        profiles=profiles,
        settings=config,
        classification=make_classification(difficulty=0.82),
    )
    assert decision.tier == "premium" and decision.model_id == "x:premium"
    assert decision.tier_reason == "difficulty 0.820 >= premium threshold 0.74"
    assert "difficulty 0.820 >= premium threshold 0.74" in decision.explanation
    low = decide(
        "m",
        catalog=catalog,
        profiles=profiles,
        settings=config,
        classification=make_classification(difficulty=0.1),
    )
    assert low.tier == "cheap" and low.tier_reason == "difficulty 0.100 < mid threshold 0.4"
    # The roll stays available as a config option.
    rolled = decide(
        "m",
        catalog=catalog,
        profiles=profiles,
        settings=replace(config, tier_mode="roll"),
        classification=make_classification(difficulty=0.82),
    )
    assert rolled.tier_reason.startswith("roll ")


def test_the_local_classifier_orders_its_labels_by_difficulty():
    from autorouter.classifier import classify

    hi = classify("hi!", settings=DEFAULT_SETTINGS)
    proof = classify(
        "Prove step by step that there are infinitely many primes of the form 4k+3, then analyze the "
        "complexity of a sieve that enumerates them, comparing two approaches in detail.",
        settings=DEFAULT_SETTINGS,
    )
    assert 0 <= hi.difficulty < proof.difficulty <= 1
    assert f"difficulty {proof.difficulty:.3f}" in proof.signals


def test_calibrate_router_on_a_dataset_then_applied_as_an_audited_version(router_db):
    out = StringIO()
    call_command(
        "calibrate_router", "--dataset", str(DATASET / "prompts.jsonl"), "--split", "train", stdout=out
    )
    text = out.getvalue()
    assert "298 messages: mid from difficulty" in text and "Not saved" in text
    save_config(
        RouterConfig.objects.get(), user=None, reason="back to the roll", changes={"tier_mode": "roll"}
    )
    before = RouterConfig.objects.get()

    with pytest.raises(CommandError, match="--apply and --draft need a --reason"):
        call_command("calibrate_router", "--dataset", str(DATASET / "prompts.jsonl"), "--apply")

    out = StringIO()
    call_command(
        "calibrate_router", "--dataset", str(DATASET / "prompts.jsonl"), "--split", "train", "--json",
        "--apply", "--reason", "first calibration", stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue().split("\nApplied")[0])
    after = RouterConfig.objects.get()
    assert after.version == before.version + 1
    assert (str(after.mid_difficulty), str(after.premium_difficulty)) == (
        report["mid_difficulty"],
        report["premium_difficulty"],
    )
    assert after.tier_mode == "difficulty"
    assert after.history.latest().history_change_reason == "calibrate_router: first calibration"
    out = StringIO()
    call_command(
        "calibrate_router", "--dataset", str(DATASET / "prompts.jsonl"), "--split", "train",
        "--apply", "--reason", "again", stdout=out,
    )  # fmt: skip
    assert "has these already: nothing saved" in out.getvalue()
    assert RouterConfig.objects.get().version == after.version


def test_calibrate_router_into_a_draft_leaves_the_live_config_alone(router_db):
    from autorouter.models import RouterDraft

    live = RouterConfig.objects.get()
    # Targets that differ from the live weights, so the draft's thresholds differ from live's.
    save_config(live, user=None, reason="more premium", changes={
        "complex_cheap_weight": Decimal("0.1"), "complex_mid_weight": Decimal("0.3"),
        "complex_premium_weight": Decimal("0.6"),
    })  # fmt: skip
    live.refresh_from_db()
    arguments = ["calibrate_router", "--dataset", str(DATASET / "prompts.jsonl"), "--split", "train"]
    out = StringIO()
    call_command(*arguments, "--draft", "new", "--reason", "try the new mix", stdout=out)
    draft = RouterDraft.objects.get()
    assert f"Written into {draft}" in out.getvalue()
    assert RouterConfig.objects.get().version == live.version  # live untouched
    assert draft.history.latest().history_change_reason == "calibrate_router: try the new mix"
    out = StringIO()
    call_command(*arguments, "--draft", str(draft.pk), "--reason", "again", stdout=out)
    assert "has these already: nothing saved" in out.getvalue()
    with pytest.raises(CommandError, match="no router draft '77'"):
        call_command(*arguments, "--draft", "77", "--reason", "x")


def test_calibrate_router_from_the_decision_log(router_db, settings):
    from autorouter.router import route

    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    for message in (
        "hi",
        "thanks!",
        "Write a Python function that parses ISO dates",
        "Prove that sqrt(2) is irrational",
    ):
        route(message)
    out = StringIO()
    call_command("calibrate_router", "--from-log", "1", stdout=out)
    assert "4 messages" in out.getvalue()
    DecisionLog.objects.all().delete()
    with pytest.raises(CommandError, match="no samples to calibrate on: nothing to calibrate on"):
        call_command("calibrate_router", "--from-log", "1")
