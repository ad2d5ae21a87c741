"""Messages built to break the router: any str routes, in bounded work; wrong types are refused."""

from __future__ import annotations

import json

import pytest

from autorouter import attempts, route
from autorouter.classifier import NUMBERED_ITEM, classify, sampled
from autorouter.defaults import DEFAULT_SETTINGS


def test_long_messages_are_classified_on_a_bounded_head_and_tail():
    message = "Prove this theorem step by step. " + "filler " * 200_000 + " Write a Python function."
    classification = classify(message, settings=DEFAULT_SETTINGS, max_chars=20_000)
    assert any(signal.startswith("long message") for signal in classification.signals)
    assert classification.needs_long_context  # the full length still counts for the context
    sample = sampled(message, 20_000)
    assert len(sample) <= 20_001 and sample.startswith("Prove") and sample.endswith("function.")


def test_line_start_patterns_do_not_run_across_blank_lines():
    # "\s*" at a line start used to span every following blank line (quadratic in newlines).
    assert NUMBERED_ITEM.findall("\n\n\n1. one\n  2) two\n- three") == ["1. o", "  2) t", "- t"]
    assert NUMBERED_ITEM.match("\n\n1. item") is None  # a match starts on the item's own line


@pytest.mark.parametrize(
    "message",
    ["\n" * 50_000, "1. item\n" * 50_000, "x" * 1_000_000, "why \ud800 is this broken?", ""],
    ids=["50k newlines", "50k list lines", "1 MB", "lone surrogate", "empty"],
)
def test_any_str_routes(message, router_db, database_source):
    decision = route(message, subject=1)
    assert decision.model_id
    assert decision.message_length == len(message)
    json.dumps(decision.to_dict())  # the decision log can store it


@pytest.mark.parametrize("message", [None, 42, b"bytes", ["a list"]])
def test_a_message_that_is_not_text_is_a_type_error(message, router_db):
    with pytest.raises(TypeError, match="message as a str"):
        route(message)


def test_exclude_as_one_string_is_refused_not_ignored(router_db):
    with pytest.raises(TypeError, match="wrap a single id in a list"):
        route("hello", exclude="openai:gpt-5")
    with pytest.raises(TypeError):
        next(attempts("hello", exclude="openai:gpt-5"))


@pytest.mark.parametrize("max_chars", [-4, 0, 1, 2, 3])
def test_the_sample_stays_bounded_whatever_the_setting(max_chars):
    assert len(sampled("x" * 1_000_000, max_chars)) <= 3
