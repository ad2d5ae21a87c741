"""Per-subject percentage rollout of the registry's read source."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from waffle import flag_is_active as waffle_flag_is_active

from autorouter.flags import ROUTER_CONFIG_FLAG
from models_registry import registry
from models_registry.models import AIModel, RolloutFlag
from models_registry.rollout.buckets import subject_is_in_percent
from models_registry.rollout.flags import (
    DB_MODELS_FLAG,
    flag_is_active,
    rollback_flag,
    set_flag_percent,
)

SUBJECTS = [f"session-{n}" for n in range(100_000)]


def test_ten_percent_of_100k_subjects_read_the_database_and_stay_in_at_fifty():
    at_10 = {s for s in SUBJECTS if subject_is_in_percent(DB_MODELS_FLAG, s, 10)}
    at_50 = {s for s in SUBJECTS if subject_is_in_percent(DB_MODELS_FLAG, s, 50)}
    assert 9_000 <= len(at_10) <= 11_000
    assert 49_000 <= len(at_50) <= 51_000
    assert at_10 <= at_50  # raising the percentage keeps everyone who was in
    # the same subject always gets the same answer
    assert {s for s in SUBJECTS[:5000] if subject_is_in_percent(DB_MODELS_FLAG, s, 10)} == {
        s for s in SUBJECTS[:5000] if s in at_10
    }


def test_flags_bucket_independently():
    router_10 = {s for s in SUBJECTS[:20_000] if subject_is_in_percent(ROUTER_CONFIG_FLAG, s, 10)}
    models_10 = {s for s in SUBJECTS[:20_000] if subject_is_in_percent(DB_MODELS_FLAG, s, 10)}
    assert router_10 != models_10


def test_user_instance_user_id_int_and_str_share_a_bucket(django_user_model, db):
    user = django_user_model.objects.create_user(username="u1")
    for percent in (1, 10, 50):
        assert (
            subject_is_in_percent(DB_MODELS_FLAG, user, percent)
            == subject_is_in_percent(DB_MODELS_FLAG, user.pk, percent)
            == subject_is_in_percent(DB_MODELS_FLAG, str(user.pk), percent)
        )


@pytest.mark.django_db
def test_flag_percentage_decides_the_source_per_subject(seeded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage 10%")
    sources = [registry.source_for(s) for s in SUBJECTS]
    share = sources.count("database") / len(sources)
    assert 0.09 <= share <= 0.11
    assert registry.source_for(None) == "static"  # anonymous only at 100%
    assert registry.source_for(AnonymousUser()) == "static"
    assert [registry.source_for(s) for s in SUBJECTS[:2000]] == sources[:2000]

    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 100, user=None, reason="everyone")
    assert registry.source_for(None) == "database"
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).everyone is True


@pytest.mark.django_db
def test_rollback_takes_every_subject_back_to_static(seeded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="half")
    assert "database" in {registry.source_for(s) for s in SUBJECTS[:100]}
    with django_capture_on_commit_callbacks(execute=True):
        rollback_flag(DB_MODELS_FLAG, user=None, reason="errors in prod")
    assert {registry.source_for(s) for s in SUBJECTS[:5000]} == {"static"}
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).everyone is False


@pytest.mark.django_db
def test_source_setting_overrides_the_flag(settings, seeded):
    set_flag_percent(DB_MODELS_FLAG, 100, user=None, reason="everyone")
    settings.MODELS_REGISTRY_SOURCE = "static"
    assert registry.source_for("anyone") == "static"
    settings.MODELS_REGISTRY_SOURCE = "database"
    assert registry.source_for(None) == "database"
    assert flag_is_active(ROUTER_CONFIG_FLAG, None)


@pytest.mark.django_db
def test_request_based_waffle_checks_use_the_same_buckets(django_user_model):
    set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="half")
    factory = RequestFactory()
    users = [django_user_model.objects.create_user(username=f"user{n}") for n in range(40)]
    for user in users:
        request = factory.get("/")
        request.user = user
        assert waffle_flag_is_active(request, DB_MODELS_FLAG) == flag_is_active(DB_MODELS_FLAG, user)
    assert {flag_is_active(DB_MODELS_FLAG, user) for user in users} == {True, False}


@pytest.mark.django_db
def test_every_change_is_recorded_with_user_and_reason(editor):
    from models_registry.rollout.flags import stage_history

    set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="start")
    set_flag_percent(DB_MODELS_FLAG, 10, user=editor, reason="looks good")
    history = stage_history(DB_MODELS_FLAG)
    assert [(v.number, v.percent, v.changed_by, v.reason) for v in history] == [
        (1, 1, "system", "start"),
        (2, 10, "editor", "looks good"),
    ]
    assert history[1].change_type == "updated"
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).version == 2


@pytest.mark.django_db
def test_the_first_change_of_a_flag_is_recorded_as_its_creation():
    from models_registry.rollout.flags import stage_history

    set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="start")
    (first,) = stage_history(DB_MODELS_FLAG)
    assert (first.number, first.change_type, first.percent) == (1, "created", 1)


@pytest.mark.django_db
def test_setting_the_percentage_a_flag_already_has_is_refused():
    from models_registry.rollout.flags import RolloutRefused

    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage 10%")
    with pytest.raises(RolloutRefused, match="already"):
        set_flag_percent(DB_MODELS_FLAG, "10.0", user=None, reason="again")
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).version == 1


@pytest.mark.django_db
def test_a_change_from_a_stale_version_is_refused():
    from models_registry.audit.writes import EditConflict
    from models_registry.rollout.flags import flag_version

    assert flag_version(DB_MODELS_FLAG) == 0
    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage 10%", expected_version=0)
    rollback_flag(DB_MODELS_FLAG, user=None, reason="incident")  # version 2
    with pytest.raises(EditConflict):
        set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="advance", expected_version=1)
    flag = RolloutFlag.objects.get(name=DB_MODELS_FLAG)
    assert (flag.everyone, flag.version, flag_version(DB_MODELS_FLAG)) == (False, 2, 2)


@pytest.mark.django_db
def test_reverting_a_flag_restores_its_percentage_as_a_new_version():
    from models_registry.rollout.flags import revert_flag, stage_history

    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage 10%")
    rollback_flag(DB_MODELS_FLAG, user=None, reason="incident")
    revert_flag(DB_MODELS_FLAG, to_version=1, user=None, reason="fixed")
    assert [(s.number, s.change_type, s.percent) for s in stage_history(DB_MODELS_FLAG)][1:] == [
        (2, "updated", 0),
        (3, "reverted", 10),
    ]
    assert stage_history(DB_MODELS_FLAG)[-1].reason == "Reverted to v1: fixed"


@pytest.mark.django_db
@pytest.mark.parametrize("percent", ["-1", "101", "12.34", "abc"])
def test_bad_percentages_are_refused_and_nothing_changes(percent):
    with pytest.raises(ValidationError):
        set_flag_percent(DB_MODELS_FLAG, percent, user=None, reason="typo")
    assert not RolloutFlag.objects.exists()


@pytest.mark.django_db
def test_a_change_needs_a_reason():
    with pytest.raises(ValidationError):
        set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason=" ")
    with pytest.raises(CommandError):
        call_command("rollout", "set", "10")  # argparse: --reason is required


@pytest.mark.django_db
def test_rollout_command_walks_the_stages(
    seeded, capsys, serve_reads, serve_usage, django_capture_on_commit_callbacks
):
    call_command("rollout", "status")
    assert "use_db_models: 0%" in capsys.readouterr().out
    for expected in ("1", "10", "50", "100"):
        serve_reads()  # each stage serves traffic before the next
        serve_usage()  # and clean model calls on both catalogs (judged from the first stage on)
        with django_capture_on_commit_callbacks(execute=True):  # committed: a new period of reads
            call_command("rollout", "advance", "--reason", f"to {expected}")
        assert f"use_db_models: {expected}" in capsys.readouterr().out
    with pytest.raises(CommandError, match="100% already"):
        call_command("rollout", "advance", "--reason", "more")
    call_command("rollout", "rollback", "--reason", "incident")
    out = capsys.readouterr().out
    assert "use_db_models: 0%" in out and "by system" in out and "incident" in out
    call_command("rollout", "set", "25", ROUTER_CONFIG_FLAG, "--reason", "router trial")
    assert "use_db_router_config: 25" in capsys.readouterr().out


@pytest.mark.django_db
def test_advance_refuses_while_a_static_model_is_missing_and_succeeds_once_restored(
    seeded, capsys, serve_reads
):
    serve_reads()
    AIModel.objects.filter(model_id="openai:gpt-5").delete()
    with pytest.raises(CommandError, match=r"openai:gpt-5.*missing from the database"):
        call_command("rollout", "advance", "--reason", "go")
    assert not RolloutFlag.objects.filter(name=DB_MODELS_FLAG).exists()

    call_command("seed_models")  # restores the missing model, skips the rest
    call_command("rollout", "advance", "--reason", "go")
    assert "use_db_models: 1" in capsys.readouterr().out


@pytest.mark.django_db
def test_advance_force_overrides_failing_checks(seeded):
    AIModel.objects.filter(model_id="openai:gpt-5").delete()
    call_command("rollout", "advance", "--reason", "hotfix", "--force")
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).percent == 1


@pytest.mark.django_db
def test_advance_refuses_when_fallbacks_exceed_one_percent_of_the_database_share(
    seeded, serve_reads, serve_usage, django_capture_on_commit_callbacks
):
    from models_registry.read import monitoring

    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="first stage")
    serve_reads(1000)  # database reads of the 1% share
    monitoring.count(monitoring.FALLBACKS, 20)
    with pytest.raises(CommandError, match=r"fallback rate since the last stage is 2\.0%"):
        call_command("rollout", "advance", "--reason", "go")
    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 2, user=None, reason="a new stage, a new period")
    serve_reads(1000)
    serve_usage()  # clean model calls on both catalogs: the traffic gate passes
    call_command("rollout", "advance", "--reason", "go")
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).percent == 10


@pytest.mark.django_db
def test_a_database_failing_every_read_at_one_percent_is_not_passed(
    seeded, serve_reads, django_capture_on_commit_callbacks
):
    from models_registry.read import monitoring

    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="first stage")
    serve_reads(1000)
    monitoring.count(monitoring.FALLBACKS, 1000)  # every one of them served by a fallback
    with pytest.raises(CommandError, match=r"fallback rate since the last stage is 100\.0%"):
        call_command("rollout", "advance", "--reason", "go")


@pytest.mark.django_db
def test_a_stage_whose_counters_did_not_restart_is_not_judged(seeded, serve_reads):
    set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="its commit never restarted the counters")
    serve_reads(1000)
    with pytest.raises(CommandError, match="not restarted when this stage began"):
        call_command("rollout", "advance", "--reason", "go")


@pytest.mark.django_db
def test_the_router_flag_moves_one_stage_per_period_of_reads(
    seeded, serve_reads, django_capture_on_commit_callbacks
):
    from autorouter.flags import ROUTER_CONFIG_FLAG
    from models_registry.rollout.flags import advance_flag

    serve_reads(1000)
    with django_capture_on_commit_callbacks(execute=True):
        advance_flag(ROUTER_CONFIG_FLAG, user=None, reason="go")
    with pytest.raises(Exception, match="only 0 reads"):
        advance_flag(ROUTER_CONFIG_FLAG, user=None, reason="again at once")


@pytest.mark.django_db
def test_advance_without_enough_traffic_is_refused(seeded, serve_reads):
    serve_reads(999)
    with pytest.raises(CommandError, match="only 999 read"):
        call_command("rollout", "advance", "--reason", "quiet night")
    assert not RolloutFlag.objects.filter(name=DB_MODELS_FLAG).exists()
    serve_reads(1)
    call_command("rollout", "advance", "--reason", "enough traffic")
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).percent == 1


@pytest.mark.django_db
def test_a_change_based_on_a_stale_percentage_is_refused():
    from decimal import Decimal

    from models_registry.rollout.flags import RolloutRefused

    set_flag_percent(DB_MODELS_FLAG, 10, user=None, reason="stage 10%")
    rollback_flag(DB_MODELS_FLAG, user=None, reason="incident")  # lands while an advance is checking
    with pytest.raises(RolloutRefused, match="meanwhile"):
        set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="advance", expected_percent=Decimal(10))
    assert RolloutFlag.objects.get(name=DB_MODELS_FLAG).everyone is False
