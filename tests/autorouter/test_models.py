"""The router's tables: database rules, validation, services with history, and the seed commands."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from autorouter.defaults import DEFAULT_SETTINGS, default_profiles
from autorouter.models import ModelProfile, RouterConfig
from autorouter.services import (
    CONFIG_SEED_REASON,
    PROFILES_SEED_REASON,
    EditConflict,
    reset_config,
    save_config,
    update_profile,
)
from autorouter.types import CATEGORIES
from models_registry.audit.history import versions_of


def call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def config() -> RouterConfig:
    return RouterConfig.objects.get()


# --- seed commands -------------------------------------------------------------


def test_seed_autorouter_creates_the_config_from_the_seed_defaults(core_models):
    assert "created" in call("seed_autorouter")
    row = config()
    assert row.stickiness_bonus == 25 and row.reasoning_bonus == 15 and row.research_bonus == 25
    assert row.simple_penalty == Decimal("0.7") and row.complex_boost_threshold == 85
    assert row.complex_boost_multiplier == Decimal("1.2")
    assert (row.cheap_threshold, row.mid_threshold) == (Decimal("1"), Decimal("5"))
    assert (row.simple_cheap_weight, row.simple_mid_weight, row.simple_premium_weight) == (
        Decimal("0.6"),
        Decimal("0.25"),
        Decimal("0.15"),
    )
    assert row.speed_bonuses["cerebras"] == 12 and row.speed_bonuses["extended-thinking"] == -8
    assert row.router_model_id == "openai:gpt-oss-120b"
    assert (row.max_retries, row.context_buffer, row.long_context_threshold) == (3, Decimal("1.2"), 128_000)
    assert row.high_stakes_domains == list(DEFAULT_SETTINGS.high_stakes_domains)
    (version,) = versions_of(row)
    assert (version.number, version.change_type, version.reason) == (1, "created", CONFIG_SEED_REASON)
    assert (version.changed_by, version.user_id) == ("system", None)
    assert row.version == 1


def test_seed_autorouter_skips_an_existing_config(core_models):
    call("seed_autorouter")
    RouterConfig.objects.update(stickiness_bonus=40)
    assert "skipped" in call("seed_autorouter")
    assert config().stickiness_bonus == 40


def test_force_replace_resets_the_values_and_keeps_the_history(core_models):
    call("seed_autorouter")
    save_config(config(), user=None, reason="Tuning", changes={"stickiness_bonus": Decimal(40)})
    assert "replaced" in call("seed_autorouter", "--force-replace")
    assert config().stickiness_bonus == 25
    versions = versions_of(config())
    assert [v.reason for v in versions][:2] == [CONFIG_SEED_REASON, "Tuning"]
    assert len(versions) == 3
    assert config().version == 3
    assert [(c.field, c.old, c.new) for c in versions[2].changes] == [("stickiness_bonus", "40", "25")]


def test_seed_autorouter_dry_run_writes_nothing(core_models):
    assert "would create" in call("seed_autorouter", "--dry-run")
    assert not RouterConfig.objects.exists()


def test_seed_autorouter_needs_the_catalog(db):
    with pytest.raises(CommandError, match="seed_models"):
        call("seed_autorouter")


def test_seed_model_profiles_is_idempotent(seeded):
    out = call("seed_model_profiles")
    assert "created 55, skipped 0" in out
    assert ModelProfile.objects.count() == 55
    profile = ModelProfile.objects.get(model_id="openai:gpt-5")
    assert (profile.quality, profile.coding, profile.research) == (95, 92, 80)  # a seed profile
    assert (
        ModelProfile.objects.get(model_id="zai:glm-4.7").quality == default_profiles()["zai:glm-4.7"].quality
    )
    assert versions_of(profile)[0].reason == PROFILES_SEED_REASON
    ModelProfile.objects.filter(model_id="openai:gpt-5").update(coding=50)
    assert "created 0, skipped 55" in call("seed_model_profiles")
    assert ModelProfile.objects.get(model_id="openai:gpt-5").coding == 50  # never overwritten


def test_seed_model_profiles_dry_run_writes_nothing(seeded):
    assert "would create 55" in call("seed_model_profiles", "--dry-run")
    assert not ModelProfile.objects.exists()


def test_the_fixture_has_the_20_seed_profiles_and_extended_ones_for_other_models(static_catalog):
    import json

    from autorouter.defaults import PROFILES_FIXTURE

    entries = json.loads(PROFILES_FIXTURE.read_text())["profiles"]
    assert sum(entry["source"] == "seed" for entry in entries) == 20
    catalog_ids = {model.id for model in static_catalog.models}
    assert {entry["model_id"] for entry in entries} <= catalog_ids
    assert len(entries) == len({entry["model_id"] for entry in entries}) == 55


# --- validation and database rules ------------------------------------------------


@pytest.fixture
def seeded_config(core_models):
    call("seed_autorouter")
    return config()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cheap_threshold": Decimal(5), "mid_threshold": Decimal(5)}, "mid_threshold"),
        ({"simple_cheap_weight": Decimal("0.7")}, "simple_cheap_weight"),  # row adds up to 1.1
        (
            {"complex_mid_weight": Decimal("-0.1"), "complex_cheap_weight": Decimal("0.8")},
            "complex_mid_weight",
        ),
        ({"simple_penalty": Decimal(0)}, "simple_penalty"),
        ({"complex_boost_multiplier": Decimal("-1")}, "complex_boost_multiplier"),
        ({"context_buffer": Decimal("0.9")}, "context_buffer"),
        ({"complex_boost_threshold": 101}, "complex_boost_threshold"),
        ({"router_model_id": "acme:no-such-model"}, "router_model"),
        ({"fallback_model_id": "acme:no-such-model"}, "fallback_model"),
        ({"speed_bonuses": {"groq": "fast"}}, "speed_bonuses"),
        ({"speed_bonuses": {"Groq": 5}}, "speed_bonuses"),
        ({"high_stakes_domains": "medical"}, "high_stakes_domains"),
        ({"high_stakes_domains": ["mental health"]}, "high_stakes_domains"),
        ({"secondary_share": Decimal("1.5")}, "secondary_share"),
    ],
)
def test_invalid_configs_are_refused_with_the_field_named(seeded_config, changes, field):
    with pytest.raises(ValidationError) as error:
        save_config(seeded_config, user=None, reason="bad", changes=changes)
    assert field in error.value.message_dict
    assert len(versions_of(config())) == 1
    assert config().version == 1


def test_a_reason_is_required(seeded_config):
    with pytest.raises(ValidationError, match="reason"):
        save_config(seeded_config, user=None, reason="  ", changes={"stickiness_bonus": Decimal(30)})
    assert (config().stickiness_bonus, config().version) == (25, 1)


def test_a_save_that_changes_nothing_is_refused(seeded_config):
    with pytest.raises(ValidationError, match="Nothing to save"):
        save_config(seeded_config, user=None, reason="touch", changes={"stickiness_bonus": Decimal(25)})
    assert (config().version, len(versions_of(config()))) == (1, 1)


def test_save_records_user_and_reason_with_a_diff(seeded_config, editor):
    save_config(
        seeded_config,
        user=editor,
        reason="Users complained about model switching",
        changes={"stickiness_bonus": Decimal(30)},
    )
    latest = versions_of(config())[-1]
    assert (latest.number, latest.changed_by, latest.user_id, latest.reason) == (
        2,
        "editor",
        editor.pk,
        "Users complained about model switching",
    )
    assert [(c.field, c.old, c.new) for c in latest.changes] == [("stickiness_bonus", "25", "30")]
    assert (config().updated_by, config().version, seeded_config.version) == (editor, 2, 2)


def test_a_stale_edit_is_refused(seeded_config, editor):
    opened_at = seeded_config.version
    save_config(config(), user=None, reason="someone else", changes={"reasoning_bonus": Decimal(20)})
    with pytest.raises(EditConflict) as refused:
        save_config(
            seeded_config,
            user=editor,
            reason="mine",
            changes={"stickiness_bonus": Decimal(30)},
            expected_version=opened_at,
        )
    assert "you edited version 1, it is now at version 2" in " ".join(refused.value.messages)
    assert (config().stickiness_bonus, config().reasoning_bonus, config().version) == (25, 20, 2)


def test_reset_to_defaults_is_a_new_version(seeded_config, editor):
    save_config(seeded_config, user=editor, reason="experiment", changes={"long_context_threshold": 64_000})
    _, action = reset_config(user=editor, reason="experiment over")
    assert action == "replaced"
    assert config().long_context_threshold == 128_000
    assert [v.reason for v in versions_of(config())][-1] == "experiment over"
    assert config().version == 3


def test_a_reset_that_changes_nothing_records_no_version(seeded_config, editor):
    _, action = reset_config(user=editor, reason="already at the defaults")
    assert action == "unchanged"
    assert (config().version, len(versions_of(config()))) == (1, 1)


def _violates(statement) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        statement()


def test_the_database_keeps_exactly_one_config_row(seeded_config):
    from autorouter.conversions import field_values_from_settings

    _violates(lambda: RouterConfig.objects.create(id=2, **field_values_from_settings(DEFAULT_SETTINGS)))


def test_the_database_refuses_cheap_not_below_mid(seeded_config):
    _violates(lambda: RouterConfig.objects.update(cheap_threshold=Decimal(6)))


def test_the_database_refuses_weights_not_adding_up_to_1(seeded_config):
    _violates(lambda: RouterConfig.objects.update(moderate_premium_weight=Decimal("0.5")))
    RouterConfig.objects.update(moderate_cheap_weight=Decimal("0.4"), moderate_premium_weight=Decimal("0.3"))
    assert config().moderate_premium_weight == Decimal("0.3")  # a valid change passes


def test_the_database_refuses_a_buffer_below_1(seeded_config):
    _violates(lambda: RouterConfig.objects.update(context_buffer=Decimal("0.5")))


def test_the_database_refuses_scores_above_100(core_models):
    call("seed_model_profiles")
    _violates(lambda: ModelProfile.objects.filter(model_id="openai:gpt-5").update(coding=101))


def test_one_profile_per_model(core_models):
    call("seed_model_profiles")
    _violates(
        lambda: ModelProfile.objects.create(
            model_id="openai:gpt-5",
            quality=1,
            **dict.fromkeys(CATEGORIES, 1),
        )
    )


def test_profile_edits_are_validated_and_recorded(core_models, editor):
    call("seed_model_profiles")
    profile = ModelProfile.objects.get(model_id="openai:gpt-5")
    with pytest.raises(ValidationError) as error:
        update_profile(profile, user=editor, reason="typo", changes={"coding": 120})
    assert "coding" in error.value.message_dict
    assert ModelProfile.objects.get(pk=profile.pk).coding == 92
    update_profile(profile, user=editor, reason="New coding benchmark", changes={"coding": 97})
    stored = ModelProfile.objects.get(pk=profile.pk)
    latest = versions_of(stored)[-1]
    assert (latest.number, latest.changed_by, latest.reason) == (2, "editor", "New coding benchmark")
    assert [(c.field, c.old, c.new) for c in latest.changes] == [("coding", "92", "97")]
    assert (stored.coding, stored.version) == (97, 2)


def test_a_stale_profile_edit_is_refused(core_models, editor):
    call("seed_model_profiles")
    opened = ModelProfile.objects.get(model_id="openai:gpt-5")
    update_profile(
        ModelProfile.objects.get(pk=opened.pk), user=None, reason="someone else", changes={"quality": 90}
    )
    with pytest.raises(EditConflict):
        update_profile(
            opened, user=editor, reason="mine", changes={"coding": 97}, expected_version=opened.version
        )
    stored = ModelProfile.objects.get(pk=opened.pk)
    assert (stored.quality, stored.coding, stored.version) == (90, 92, 2)
