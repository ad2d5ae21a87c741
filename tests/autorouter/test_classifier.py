"""The local classifier: what users' messages are taken to need. Pure, no database."""

from __future__ import annotations

import pytest

from autorouter.classifier import classify
from autorouter.defaults import DEFAULT_SETTINGS


def run(message: str, **kwargs):
    return classify(message, settings=DEFAULT_SETTINGS, **kwargs)


@pytest.mark.parametrize(
    ("message", "primary"),
    [
        ("Fix this Python function, it raises a KeyError exception", "coding"),
        ("Prove that there are infinitely many primes", "reasoning"),
        ("Write a short poem about autumn rain", "creative"),
        ("What is the capital of Australia?", "factual"),
        ("Compare the pros and cons of these two pricing plans and summarize", "analysis"),
        ("hey, how are you?", "conversation"),
        ("Draw a logo for my bakery", "multimodal"),
        ("What is the latest news on the EU AI act this week? Cite sources", "research"),
    ],
)
def test_primary_category_follows_the_message(message, primary):
    assert run(message).primary == primary


def test_a_message_with_two_topics_gets_a_secondary_category():
    result = run("Analyze this Python code and compare it with the data trends of the report")
    assert {result.primary, result.secondary} == {"coding", "analysis"}


def test_no_keyword_is_conversation_with_low_confidence():
    result = run("mmh")
    assert result.primary == "conversation"
    assert result.secondary is None
    assert result.confidence < 0.5


def test_complexity_simple_moderate_complex():
    assert run("hello there").complexity == "simple"
    assert run("Write a Python function to parse dates").complexity == "moderate"
    assert run(
        "Design a scalable architecture for a chat app, step by step, with the trade-offs"
    ).complexity == ("complex")
    assert run("word " * 130).complexity == "complex"


def test_reasoning_is_needed_for_maths_and_logic():
    assert run("Solve this equation step by step: 3x + 5 = 20").needs_reasoning
    assert not run("Write a poem about the sea").needs_reasoning


def test_attachments_need_vision_and_lean_multimodal():
    result = run("what is in this?", has_attachments=True)
    assert result.needs_vision
    assert result.primary == "multimodal"
    assert not run("what is in this?").needs_vision


def test_long_context_from_tokens_or_from_the_request():
    assert run("summarize", context_tokens=70_000).needs_long_context  # half of the 128K threshold
    assert not run("summarize", context_tokens=10_000).needs_long_context
    assert run("Summarize the entire book I pasted").needs_long_context


@pytest.mark.parametrize(
    ("message", "domain"),
    [
        ("What dose of ibuprofen is safe with my blood pressure medication?", "medical"),
        ("My landlord wants an eviction without notice, can I sue?", "legal"),
        ("Should I move my retirement savings into crypto?", "financial"),
        ("I think I smell a gas leak in the kitchen", "safety"),
        ("I feel hopeless and think about suicide", "mental_health"),
        ("Someone is tracking me with spyware on my phone", "privacy"),
        ("My work visa expires next month, what about my green card?", "immigration"),
        ("My partner hits me when he is drunk", "domestic_abuse"),
    ],
)
def test_high_stakes_domains_are_detected(message, domain):
    result = run(message)
    assert result.high_stakes
    assert result.domain == domain
    assert result.complexity != "simple"  # never treated as small talk


def test_everyday_messages_are_not_high_stakes():
    result = run("Write a haiku about coffee")
    assert not result.high_stakes
    assert result.domain is None


def test_follow_up_keeps_the_previous_model_and_a_new_topic_changes_it():
    assert run("thanks! can you make it shorter?", previous_model_id="x:y").action == "keep"
    assert run("Write a SQL query joining orders and customers", previous_model_id="x:y").action == "change"
    assert run("thanks! can you make it shorter?").action == "change"  # no previous model


def test_classification_is_deterministic():
    message = "Debug this Rust code step by step and explain the borrow checker error"
    assert run(message) == run(message)


def test_a_question_without_topic_keywords_is_factual():
    assert run("What dose of ibuprofen is safe with my blood pressure medication?").primary == "factual"
    assert run("Is Pluto bigger than the Moon?").primary == "factual"
    assert run("mmh ok").primary == "conversation"


@pytest.mark.parametrize(
    ("message", "asks"),
    [
        ("Draw me a cat wearing a tiny hat", True),
        ("please draw a dragon over a castle", True),
        ("Generate an image of a sunset over Lisbon", True),
        ("make a logo for my bakery, warm colors", True),
        ("Could you illustrate a children's book page with a fox?", True),
        ("What breed is the dog in this photo?", False),
        ("Describe the attached screenshot", False),
        ("Draw conclusions from these survey results", False),
        ("How do I draw a line in matplotlib?", False),
        ("Create a pie chart of sales by region in Excel", False),
        ("Sketch out a plan for the product launch", False),
    ],
)
def test_asking_for_an_image_is_told_from_asking_about_one(message, asks):
    classification = run(message, has_attachments="photo" in message or "screenshot" in message)
    assert classification.needs_image_generation is asks
    assert classification.to_dict()["needs_image_generation"] is asks
