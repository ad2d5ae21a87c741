"""route() end to end: config source per subject, freshness, query count, retries, decision log, CLI."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import OperationalError

from autorouter import attempts, next_candidate, route
from autorouter.flags import ROUTER_CONFIG_FLAG
from autorouter.models import DecisionLog, RouterConfig
from autorouter.services import save_config
from autorouter.types import ROUTER_AREA
from models_registry.read.catalog_version import bump_shared_version, uses_redis
from models_registry.rollout.flags import flag_is_active, set_flag_percent

CODING = "Write a Python function that parses ISO dates"
FOLLOW_UP = "thanks, can you make it shorter?"


def sticky_points(decision, model_id="openai:gpt-5"):
    candidate = next(c for c in decision.candidates if c.model_id == model_id)
    return {term.name: term.points for term in candidate.terms}.get("sticky")


def edit_config(**changes) -> None:
    save_config(RouterConfig.objects.get(), user=None, reason="test edit", changes=changes)


def test_route_returns_an_explained_decision(router_db, database_source):
    decision = route(CODING, subject=1)
    assert decision.model is not None and decision.model.id == decision.model_id
    assert decision.source == "database"
    assert decision.classification.primary == "coding"
    # The best candidates are kept and the exclusions counted per reason (none was named).
    assert decision.candidates and decision.excluded_counts and not decision.excluded
    assert decision.eligible_count >= len(decision.candidates)
    assert decision.model_id in decision.explanation
    json.dumps(decision.to_dict())


def test_flag_off_routes_with_the_built_in_defaults(router_db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        edit_config(stickiness_bonus=Decimal(40))
    decision = route(CODING, subject=1, previous_model_id="openai:gpt-5")
    assert decision.source == "defaults"
    assert sticky_points(decision) == 25  # the database says 40, but this subject is not rolled out


def test_flag_on_routes_with_the_saved_config(router_db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        edit_config(stickiness_bonus=Decimal(40))
        set_flag_percent(ROUTER_CONFIG_FLAG, 100, user=None, reason="test")
    decision = route(CODING, subject=1, previous_model_id="openai:gpt-5")
    assert decision.source == "database"
    assert sticky_points(decision) == 40


def test_partial_rollout_is_decided_per_subject(router_db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(ROUTER_CONFIG_FLAG, 50, user=None, reason="half")
    sources = {subject: route(CODING, subject=subject).source for subject in range(1, 41)}
    assert set(sources.values()) == {"database", "defaults"}
    for subject, source in sources.items():
        assert (source == "database") == flag_is_active(ROUTER_CONFIG_FLAG, subject)
        assert route(CODING, subject=subject).source == source  # stable for a subject
    assert route(CODING).source == "defaults"  # anonymous: only at 100%


def test_an_edit_in_this_process_is_seen_at_once(
    router_db, database_source, django_capture_on_commit_callbacks
):
    assert sticky_points(route(CODING, previous_model_id="openai:gpt-5")) == 25
    with django_capture_on_commit_callbacks(execute=True):
        edit_config(stickiness_bonus=Decimal(33))
    assert sticky_points(route(CODING, previous_model_id="openai:gpt-5")) == 33


def test_an_edit_by_another_process_is_seen_at_the_next_poll(router_db, database_source, settings):
    settings.REGISTRY_REFRESH_SECONDS = 0  # poll the shared catalog version on every read
    assert sticky_points(route(CODING, previous_model_id="openai:gpt-5")) == 25
    # Committed elsewhere: the shared version moves, this process's own generation does not.
    edit_config(stickiness_bonus=Decimal(33))
    if uses_redis():  # Redis moves on commit, which this test's transaction never reaches
        bump_shared_version([ROUTER_AREA])
    assert sticky_points(route(CODING, previous_model_id="openai:gpt-5")) == 33


def test_between_polls_the_snapshot_is_served(router_db, database_source, settings):
    settings.REGISTRY_REFRESH_SECONDS = 3600
    assert sticky_points(route(CODING, previous_model_id="openai:gpt-5")) == 25
    edit_config(stickiness_bonus=Decimal(33))  # another process's commit, not yet polled
    assert sticky_points(route(CODING, previous_model_id="openai:gpt-5")) == 25


def test_routing_runs_no_query_in_steady_state(
    router_db, database_source, settings, django_assert_num_queries
):
    settings.REGISTRY_REFRESH_SECONDS = 3600
    route("warm up")
    with django_assert_num_queries(0):
        route(CODING, subject=7, previous_model_id="openai:gpt-5", context_tokens=5_000)
        route("What is the latest news about the EU AI act?", subject="session-abc")


def test_defaults_serve_when_the_database_never_answered(router_db, database_source, monkeypatch):
    from autorouter import state
    from models_registry.read.snapshot import VersionedSnapshot

    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(state, "database_snapshot", VersionedSnapshot(unreachable, name="autorouter-test"))
    decision = route(CODING, subject=1)
    assert decision.source == "defaults"
    assert decision.model_id


def test_unseeded_config_routes_with_default_parameters(seeded, database_source):
    decision = route(CODING, subject=1)
    assert decision.source == "database"
    assert decision.candidates  # built-in profiles stand in until seed_model_profiles runs


# --- retries ---------------------------------------------------------------------------


def test_exclude_skips_models_that_already_failed(router_db, database_source):
    first = route(CODING, seed_key="conversation-1")
    second = route(CODING, seed_key="conversation-1", exclude=[first.model_id])
    assert second.model_id != first.model_id
    assert (first.model_id, "excluded") in [(e.model_id, e.reason) for e in second.excluded]


def test_retries_stop_after_max_retries(router_db, database_source, django_capture_on_commit_callbacks):
    decisions = list(attempts(CODING, subject=1, seed_key="conversation-1"))
    ids = [decision.model_id for decision in decisions]
    assert len(ids) == 1 + 3 == len(set(ids))
    assert next_candidate(CODING, failed=ids, subject=1, seed_key="conversation-1") is None
    assert next_candidate(CODING, failed=ids[:3], subject=1, seed_key="conversation-1").model_id == ids[3]

    with django_capture_on_commit_callbacks(execute=True):
        edit_config(max_retries=1)
    assert len(list(attempts(CODING, subject=1, seed_key="conversation-1"))) == 2


def test_retries_end_when_only_a_failed_fallback_is_left(core_models, database_source):
    # The catalog holds four models; excluding two leaves gpt-5 and gpt-5-mini (also the fallback).
    gone = ["openai:gpt-oss-120b", "anthropic:claude-haiku-4.5"]
    ids = [d.model_id for d in attempts(CODING, subject=1, exclude=gone)]
    assert sorted(ids) == ["openai:gpt-5", "openai:gpt-5-mini"]


def test_when_nothing_fits_the_fallback_is_tried_once(core_models, database_source):
    decisions = list(attempts(CODING, subject=1, context_tokens=250_000))  # needs a 300K window
    assert [(d.model_id, d.is_fallback) for d in decisions] == [("openai:gpt-5-mini", True)]
    assert decisions[0].fallback_reason == "No eligible model (4 left out)"


# --- decision log -------------------------------------------------------------------------


def test_the_decision_log_is_off_by_default(router_db, database_source):
    route(CODING)
    assert not DecisionLog.objects.exists()


def test_sampled_decisions_are_stored_without_the_message(router_db, database_source, settings):
    settings.AUTOROUTER_DECISION_LOG_RATE = 1.0
    secret = "What dose of ibuprofen is safe with my blood pressure medication?"
    decision = route(secret, subject=1)
    row = DecisionLog.objects.get()
    assert (row.model_id, row.tier, row.high_stakes) == (decision.model_id, decision.tier, True)
    assert row.message_length == len(secret)
    assert row.message_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert "ibuprofen" not in json.dumps(row.decision)
    assert row.decision["model_id"] == decision.model_id


# --- command line -----------------------------------------------------------------------------


def call(*args) -> str:
    out = StringIO()
    call_command("route", *args, stdout=out)
    return out.getvalue()


def test_route_command_prints_the_decision(router_db):
    out = call(CODING, "--top", "3")
    assert out.startswith("model:")
    assert "classified:  coding" in out
    assert "candidates (" in out and "excluded (" in out
    assert "config:      database" in out


def test_route_command_previous_and_json(router_db):
    data = json.loads(call(FOLLOW_UP, "--previous", "openai:gpt-5", "--json"))
    assert data["model_id"] == "openai:gpt-5"
    assert data["sticky"] is True


def test_route_command_attachments(router_db):
    data = json.loads(call("What is in this picture?", "--attachments", "--json"))
    assert data["classification"]["needs_vision"] is True
    assert "vision" in data["model"]["capabilities"]


@pytest.mark.parametrize("source", ["defaults", "rollout"])
def test_route_command_other_sources(router_db, source):
    assert json.loads(call(CODING, "--source", source, "--json"))["source"] == "defaults"


def test_route_command_with_the_saved_config_routes_over_the_saved_catalog(
    router_db, django_capture_on_commit_callbacks
):
    # A model added in the admin exists only in the database; the rollout is at 0%,
    # so a plain read would serve the static catalog. The editor's tool must still see it.
    from autorouter.models import ModelProfile
    from autorouter.services import create_profile
    from autorouter.types import CATEGORIES
    from models_registry.catalog.services import duplicate_model
    from models_registry.models import AIModel

    with django_capture_on_commit_callbacks(execute=True):
        new = duplicate_model(
            AIModel.objects.get(model_id="openai:gpt-5"),
            new_model_id="acme:coder-1",
            new_name="Acme Coder",
            user=None,
            reason="new vendor",
        )
        scores = dict.fromkeys(CATEGORIES, 50)
        create_profile(ModelProfile(model=new, quality=50, **scores), user=None, reason="profile")
    # Named as the previous model, it is kept among the candidates (only the best are kept).
    data = json.loads(call(CODING, "--source", "database", "--previous", "acme:coder-1", "--json"))
    assert "acme:coder-1" in {c["model_id"] for c in data["candidates"]}


def test_route_applies_the_access_rule_and_tells_vision_from_image_generation(
    router_db, database_source, editor, django_capture_on_commit_callbacks
):
    from models_registry.catalog.services import update_model
    from models_registry.models import AIModel

    first = route(CODING, seed_key="conversation-1")
    with django_capture_on_commit_callbacks(execute=True):
        update_model(
            AIModel.objects.get(model_id=first.model_id),
            user=editor,
            reason="now on the pro plan",
            changes={"is_pro": True},
        )
    free = route(CODING, seed_key="conversation-1")
    assert free.model_id != first.model_id and not free.model.is_pro
    assert free.excluded_counts["pro_only"] == 1
    assert route(CODING, seed_key="conversation-1", user_tier="pro").model_id == first.model_id
    with pytest.raises(ValueError, match="user_tier must be one of"):
        route(CODING, user_tier="platinum")
    with pytest.raises(ValueError, match="route\\(\\) serves a user"):
        route(CODING, user_tier=None)

    looking = route("What breed is the dog in this photo?", has_attachments=True)
    assert looking.classification.needs_vision and not looking.classification.needs_image_generation
    assert looking.model.supports_vision and not looking.model.supports_image_generation
    drawing = route("Please draw a watercolor fox sitting in the snow")
    assert drawing.classification.needs_image_generation
    assert drawing.model.supports_image_generation
