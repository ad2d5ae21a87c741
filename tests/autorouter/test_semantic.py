"""The semantic classifier (wordllama embeddings + learned heads): offline, deterministic, taught by
editors in the admin, and replaced by the keyword rules, saying so, when it cannot run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from autorouter import router, services
from autorouter.defaults import DEFAULT_SETTINGS
from autorouter.router import route
from autorouter.semantic import Example, classify_semantic, load_embedder, train
from autorouter.state import semantic_model

PROMPTS = Path(__file__).resolve().parents[2] / "fixtures" / "router_eval" / "prompts.jsonl"
MADE_UP = "blorptastic quenzel"  # words no example and no keyword list has


@pytest.fixture(scope="module")
def split():
    rows = [json.loads(line) for line in PROMPTS.open()]
    return [r for r in rows if r["split"] == "train"], [r for r in rows if r["split"] == "test"]


def test_the_embedding_loads_from_the_wheel_without_the_network():
    embed = load_embedder()
    assert embed is not None
    vectors = embed(["hello there", ""])
    assert vectors.shape == (2, 256)
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0) and not np.isnan(vectors).any()


def test_training_and_classification_are_deterministic(split):
    train_rows, test_rows = split
    examples = [Example(r["prompt"], r["category"], r["complexity"]) for r in train_rows]
    first, second = train(examples, load_embedder()), train(examples, load_embedder())
    assert np.array_equal(first.category.weights, second.category.weights)
    message = test_rows[0]["prompt"]
    assert classify_semantic(message, model=first, settings=DEFAULT_SETTINGS) == classify_semantic(
        message, model=second, settings=DEFAULT_SETTINGS
    )


def test_a_category_without_examples_is_refused():
    with pytest.raises(ValueError, match="no example of"):
        train([Example("hi", "conversation")], load_embedder())


def test_route_uses_the_semantic_classifier_by_default(router_db, database_source):
    decision = route("Can you write a bash one-liner that renames every .jpeg file to .jpg?")
    assert decision.classifier == "semantic"
    assert decision.classification.primary == "coding"
    assert any(signal.startswith("semantic: coding") for signal in decision.classification.signals)


TAUGHT = (
    f"{MADE_UP} time!", f"need a {MADE_UP} for friday", f"{MADE_UP} {MADE_UP}", f"one more {MADE_UP} please",
    f"could you do the {MADE_UP} thing", f"{MADE_UP} for my team", f"make it a {MADE_UP}",
    f"a short {MADE_UP}", f"the usual {MADE_UP}", f"{MADE_UP}, again",
)  # fmt: skip


def test_an_editor_teaches_the_router_a_new_kind_of_message(
    router_db, database_source, editor, django_capture_on_commit_callbacks
):
    message = f"{MADE_UP} for the quarterly offsite please"
    before = route(message).classification.primary
    taught = "creative" if before != "creative" else "research"
    with django_capture_on_commit_callbacks(execute=True):  # as a commit would: every worker retrains
        for n, text in enumerate(TAUGHT):
            services.teach_example(text, taught, user=editor, reason=f"example {n}")
    model = semantic_model()
    assert model is not None and model.examples >= 10
    assert route(message).classification.primary == taught


def test_without_the_embedding_the_keyword_rules_route_and_say_so(router_db, database_source, monkeypatch):
    monkeypatch.setattr(router, "semantic_model", lambda: None)
    decision = route("Write a Python function that parses ISO dates")
    assert decision.classifier == "local"
    assert decision.classifier_fallback.startswith("semantic classifier unavailable")


def test_the_teach_page_adds_an_example_with_a_reason(router_db, client, editor, viewer):
    client.force_login(editor)
    page = client.get(reverse("admin:autorouter_routerexample_changelist"))
    assert "has learnt from" in page.content.decode()
    response = client.post(
        reverse("admin:autorouter_routerexample_add"),
        {"text": "what's a good name for a pet snail", "category": "creative", "complexity": "simple",
         "is_active": "on", "reason": "misfiled as factual"},
    )  # fmt: skip
    assert response.status_code == 302
    example = services.RouterExample.objects.get()
    assert example.history.latest().history_change_reason == "misfiled as factual"
    client.force_login(viewer)
    assert client.get(reverse("admin:autorouter_routerexample_add")).status_code == 403
