"""Router drafts: edited apart from what is live, replayed over the log and a dataset, published as
one audited version with a reason; publishing never silently undoes a live change made meanwhile."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from autorouter import services
from autorouter.models import DecisionLog, DraftStatus, ModelProfile, RouterConfig, RouterDraft
from autorouter.router import route
from autorouter.state import database_state
from autorouter.tiers import roll_for, tier_for_roll
from autorouter.whatif import draft_state, replay_range
from models_registry.audit.history import records_of
from models_registry.audit.writes import EditConflict

from .test_replay import MESSAGES

DATASET = Path(__file__).resolve().parents[2] / "fixtures" / "router_eval" / "weak_strong.jsonl"


@pytest.fixture
def live(router_db, database_source, django_capture_on_commit_callbacks):
    def save(**changes):
        with django_capture_on_commit_callbacks(execute=True):
            services.save_config(RouterConfig.objects.get(), user=None, reason="live edit", changes=changes)

    return save


def new_draft(editor=None, **changes) -> RouterDraft:
    draft = services.create_draft(name="try cheaper", user=editor, reason="what if")
    if changes:
        services.update_draft(draft, user=editor, reason="edit", changes=changes)
    return draft


def log_messages(settings) -> list:
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    return [route(message, subject=n, seed_key=f"s{n}") for n, message in enumerate(MESSAGES * 3)]


def test_a_draft_starts_as_the_live_config_and_routes_no_user(live, editor):
    live_settings = database_state().settings
    draft = new_draft(editor, premium_difficulty=Decimal("0.55"))
    assert draft.version == 2 and draft.based_on_version == RouterConfig.objects.get().version
    assert database_state().settings == live_settings  # still the live config for every user
    state = draft_state(draft)
    assert state.source == "draft" and state.settings.premium_difficulty == Decimal("0.55")
    assert state.settings.stickiness_bonus == live_settings.stickiness_bonus
    record = records_of(draft).get(version=2)
    assert record.reason == "edit" and record.user_name == "editor"


def test_a_draft_is_validated_as_the_config_is(live):
    draft = new_draft()
    with pytest.raises(ValidationError, match="mid threshold at most the premium one"):
        services.update_draft(draft, user=None, reason="bad", changes={"mid_difficulty": Decimal("0.9")})
    with pytest.raises(ValidationError, match="not in the catalog"):
        services.update_draft(
            draft, user=None, reason="bad", changes={"profile_overrides": {"x:nope": {"quality": 1}}}
        )
    with pytest.raises(ValidationError, match="give every score"):
        unprofiled = _unprofiled_model_id()
        services.update_draft(
            draft, user=None, reason="bad", changes={"profile_overrides": {unprofiled: {"quality": 50}}}
        )
    assert RouterDraft.objects.get().version == 1  # nothing half-written


def _unprofiled_model_id() -> str:
    from models_registry.models import AIModel

    return AIModel.objects.filter(router_profile__isnull=True).values_list("model_id", flat=True).first()


def test_replaying_a_draft_that_changes_one_weight_reports_exactly_the_decisions_it_moves(live, settings):
    live(tier_mode="roll")
    decisions = log_messages(settings)
    # One row of weights (the commonest complexity's) moves a slice of [0, 1) from cheap to premium.
    complexity = Counter(d.classification.complexity for d in decisions).most_common(1)[0][0]
    weights = {"cheap": Decimal("0.1"), "mid": Decimal("0.3"), "premium": Decimal("0.6")}
    draft = new_draft(**{f"{complexity}_{tier}_weight": value for tier, value in weights.items()})
    new_weights = draft_state(draft).settings.weights_for(complexity)
    expected = {
        d.log_id
        for d in decisions
        if d.classification.complexity == complexity
        and not d.classification.high_stakes
        and tier_for_roll(new_weights, roll_for(d.seed_key)) != d.tier
    }
    assert expected  # the fixture's messages straddle the new weights
    now = datetime.now(UTC)
    report = replay_range(draft_state(draft), now - timedelta(days=1), now + timedelta(seconds=1))
    assert report["decisions"] == len(decisions)
    assert {item["log_id"] for item in report["changed_sample"]} == expected
    assert report["changed"] == len(expected)
    # The same replay through the command, naming the draft.
    out = StringIO()
    call_command("replay_router", "--json", "--days", "1", "--config", f"draft:{draft.pk}", stdout=out)
    assert json.loads(out.getvalue())["changed"] == len(expected)


def test_publish_writes_only_what_the_draft_changed_and_keeps_live_changes_made_meanwhile(live, editor):
    draft = new_draft(editor, premium_difficulty=Decimal("0.5"))
    live(stickiness_bonus=Decimal("33"))  # someone else, meanwhile, another parameter
    before = RouterConfig.objects.get().version
    config = services.publish_draft(
        draft, user=editor, reason="ship the cheaper mix", expected_version=draft.version
    )
    config.refresh_from_db()
    assert config.version == before + 1
    assert config.premium_difficulty == Decimal("0.5") and config.stickiness_bonus == Decimal("33")
    record = records_of(config).get(version=config.version)
    assert record.reason == "ship the cheaper mix" and [d["field"] for d in record.diff] == [
        "premium_difficulty"
    ]
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PUBLISHED and draft.published_config_version == config.version
    with pytest.raises(ValidationError, match="published already"):
        services.publish_draft(draft, user=editor, reason="again")
    with pytest.raises(ValidationError, match="cannot be changed"):
        services.update_draft(draft, user=editor, reason="late", changes={"name": "x"})


def test_a_parameter_changed_on_both_sides_is_a_conflict_and_nothing_is_written(live, editor):
    draft = new_draft(editor, premium_difficulty=Decimal("0.5"))
    live(premium_difficulty=Decimal("0.45"))
    version = RouterConfig.objects.get().version
    with pytest.raises(ValidationError, match="changed live since the draft was made"):
        services.publish_draft(draft, user=editor, reason="ship")
    assert RouterConfig.objects.get().version == version
    assert RouterDraft.objects.get(pk=draft.pk).status == DraftStatus.OPEN


def test_publishing_a_draft_edited_since_the_editor_looked_is_refused(live, editor):
    draft = new_draft(editor, premium_difficulty=Decimal("0.5"))
    seen = draft.version
    services.update_draft(
        draft, user=None, reason="someone else", changes={"premium_difficulty": Decimal("0.9")}
    )
    with pytest.raises(EditConflict):
        services.publish_draft(draft, user=editor, reason="ship", expected_version=seen)
    assert RouterConfig.objects.get().premium_difficulty != Decimal("0.9")


def test_a_draft_that_changes_nothing_cannot_be_published(live):
    draft = new_draft()
    with pytest.raises(ValidationError, match="changes nothing"):
        services.publish_draft(draft, user=None, reason="noop")


def test_profile_changes_publish_as_profile_versions_and_conflict_with_a_live_edit(live, editor):
    profile = ModelProfile.objects.order_by("model_id").first()
    draft = new_draft(editor, profile_overrides={profile.model_id: {"coding": (profile.coding + 7) % 101}})
    assert draft.base_profile_versions == {profile.model_id: profile.version}
    assert draft_state(draft).profiles[profile.model_id].scores["coding"] == (profile.coding + 7) % 101
    services.update_profile(
        profile, user=None, reason="live edit", changes={"quality": (profile.quality + 1) % 101}
    )
    with pytest.raises(ValidationError, match="was changed live since the draft changed it"):
        services.publish_draft(draft, user=editor, reason="ship")

    other = ModelProfile.objects.order_by("model_id")[1]
    draft = new_draft(editor, profile_overrides={other.model_id: {"coding": (other.coding + 7) % 101}})
    services.publish_draft(draft, user=editor, reason="better coder")
    other.refresh_from_db()
    assert other.coding == (draft.profile_overrides[other.model_id]["coding"])
    assert records_of(other).get(version=other.version).reason == "better coder"


def test_a_model_without_a_profile_gets_one_by_publishing(live, editor):
    model_id = _unprofiled_model_id()
    scores = {"quality": 61, "coding": 62, "reasoning": 63, "creative": 64, "factual": 65, "analysis": 66,
              "conversation": 67, "multimodal": 68, "research": 69}  # fmt: skip
    draft = new_draft(editor, profile_overrides={model_id: scores})
    services.publish_draft(draft, user=editor, reason="profile the new model")
    assert ModelProfile.objects.get(model_id=model_id).research == 69


def test_evaluate_router_evaluates_the_newest_open_draft(live):
    with pytest.raises(CommandError, match="no open router draft"):
        call_command("evaluate_router", "--dataset", str(DATASET), "--config", "draft")
    new_draft(premium_difficulty=Decimal("0"), mid_difficulty=Decimal("0"))
    out = StringIO()
    call_command(
        "evaluate_router",
        "--dataset",
        str(DATASET),
        "--config",
        "draft",
        "--json",
        "--split",
        "test",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    assert report["weak_strong"]["strong_share"] > 0.9  # everything premium but the fallbacks
    with pytest.raises(CommandError, match="no router draft '999'"):
        call_command("evaluate_router", "--dataset", str(DATASET), "--config", "draft:999")


def test_discarding_keeps_the_draft_readable_but_closed(live, editor):
    draft = new_draft(editor, premium_difficulty=Decimal("0.5"))
    services.discard_draft(draft, user=editor, reason="not worth it")
    assert RouterDraft.objects.get(pk=draft.pk).status == DraftStatus.DISCARDED
    with pytest.raises(ValidationError, match="discarded already"):
        services.publish_draft(draft, user=editor, reason="ship")
    assert DecisionLog.objects.count() == 0


def test_a_published_draft_reaches_exactly_the_subjects_the_rollout_flag_serves(
    router_db, django_capture_on_commit_callbacks
):
    from autorouter.flags import ROUTER_CONFIG_FLAG
    from models_registry.rollout.flags import flag_is_active, set_flag_percent

    draft = new_draft(stickiness_bonus=Decimal("41"))
    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(ROUTER_CONFIG_FLAG, 50, user=None, reason="half")
        services.publish_draft(draft, user=None, reason="stickier")
    for subject in range(1, 21):
        decision = route(
            "thanks, can you make it shorter?", subject=subject, previous_model_id="openai:gpt-5"
        )
        on = flag_is_active(ROUTER_CONFIG_FLAG, subject)
        assert decision.source == ("database" if on else "defaults")
        sticky = next(c for c in decision.candidates if c.model_id == "openai:gpt-5").terms
        assert {t.name: t.points for t in sticky}["sticky"] == (41 if on else 25)
