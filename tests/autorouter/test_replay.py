"""What-if replay of logged decisions: stored inputs re-decide them exactly; a change reports the
exact decisions it changes, and the cost of their recorded usage before and after."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from autorouter.engine import tier_for_difficulty
from autorouter.models import DecisionLog, RouterConfig
from autorouter.router import route
from autorouter.services import save_config
from autorouter.state import database_state
from autorouter.types import Classification
from models_registry import registry

MESSAGES = [
    "hi",
    "thanks, that helps",
    "What is the capital of Australia?",
    "Write a Python function that parses ISO dates and handles time zones",
    "Prove step by step that the square root of 2 is irrational",
    "Compare the pros and cons of PostgreSQL and MySQL for an analytics workload in detail",
    "Summarize this paragraph: the quarterly numbers went up while costs fell.",
    "Explain recursion to a ten year old",
    "Design a distributed rate limiter; analyze trade-offs, failure modes and consistency step by step",
    "What's the weather like on Mars?",
]


def replayed(*args: str) -> dict:
    out = StringIO()
    call_command("replay_router", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def logged(router_db, database_source, settings):
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    decisions = [route(message, subject=n, context_tokens=n * 100) for n, message in enumerate(MESSAGES)]
    assert DecisionLog.objects.count() == len(MESSAGES)
    return decisions


def test_a_stored_classification_reads_back_as_it_was(logged):
    for decision in logged:
        stored = DecisionLog.objects.get(pk=decision.log_id).decision
        assert Classification.from_dict(stored["classification"]) == decision.classification
    with pytest.raises(ValueError, match="not a stored classification"):
        Classification.from_dict({"primary": "coding"})


def test_replaying_with_the_same_config_changes_nothing(logged):
    report = replayed("--days", "1")
    assert report["decisions"] == len(MESSAGES) and report["changed"] == 0
    assert report["tiers_before"] == report["tiers_after"] and report["unreadable"] == 0


def test_a_changed_threshold_reports_exactly_the_decisions_it_changes(
    logged, django_capture_on_commit_callbacks
):
    config = RouterConfig.objects.get()
    changes = {"premium_difficulty": Decimal("0.2"), "mid_difficulty": Decimal("0.1")}
    new = replace(database_state().settings, **changes)
    expected = {
        decision.log_id
        for decision in logged
        if not decision.classification.high_stakes
        and tier_for_difficulty(decision.classification.difficulty, new)[0] != decision.tier
    }
    assert len(expected) >= 2  # the fixture's messages straddle the new thresholds
    with django_capture_on_commit_callbacks(execute=True):
        save_config(config, user=None, reason="what if", changes=changes)
    report = replayed("--days", "1")
    changed = {item["log_id"] for item in report["changed_sample"]}
    # Exactly those: the others keep their model and tier.
    assert changed == expected
    assert all(item["after"]["tier"] != "cheap" for item in report["changed_sample"])
    assert report["tiers_after"].get("premium", 0) > report["tiers_before"].get("premium", 0)


def test_the_cost_change_prices_the_recorded_usage_on_both_models(logged, django_capture_on_commit_callbacks):
    decision = logged[3]
    registry.record_usage(
        decision.model_id, {"input_tokens": 100_000, "output_tokens": 20_000}, usage_format="generic",
        request_id="call-3", decision=decision.log_id,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        changes = {"premium_difficulty": Decimal("0"), "mid_difficulty": Decimal("0")}
        save_config(RouterConfig.objects.get(), user=None, reason="everything premium", changes=changes)
    report = replayed("--days", "1")
    assert report["priced_calls"] == 1
    item = next((i for i in report["changed_sample"] if i["log_id"] == decision.log_id), None)
    after_model = item["after"]["model_id"] if item else decision.model_id
    before = registry.calculate_cost(decision.model_id, input_tokens=100_000, output_tokens=20_000)
    after = registry.calculate_cost(after_model, input_tokens=100_000, output_tokens=20_000)
    assert (report["cost_before_usd"], report["cost_after_usd"]) == (str(before), str(after))


def test_bad_ranges_are_refused_in_words(router_db):
    with pytest.raises(CommandError, match="not a date"):
        call_command("replay_router", "--from", "yesterday")
    with pytest.raises(CommandError, match="ends before it starts"):
        call_command("replay_router", "--from", "2026-02-02", "--to", "2026-02-01")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("replay_router", "--days", "0")
