"""The rollout guarded by real traffic: `rollout advance` judges the stage's usage, database vs static."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from models_registry.domain.rollout_traffic import SideTotals, TrafficThresholds, compare_traffic
from models_registry.models import RolloutFlag
from models_registry.rollout.flags import DB_MODELS_FLAG, current_percent, set_flag_percent, stage_history
from models_registry.rollout.traffic import stage_traffic

ROLLOUT_URL = "/admin/models_registry/rolloutflag/rollout/"


@pytest.fixture
def at_one_percent(seeded, serve_reads, django_capture_on_commit_callbacks):
    """The first stage, committed (a new period of reads), with enough database reads served."""
    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="first stage")
    serve_reads(1000)


def advance(*extra: str, reason: str = "looks good") -> None:
    call_command("rollout", "advance", "--reason", reason, *extra)


# --- `rollout advance`, as an operator runs it -----------------------------------------------


@pytest.mark.django_db
def test_advance_refuses_on_an_error_rate_spike_on_the_database_side(at_one_percent, serve_usage):
    serve_usage(1000, 1000, database_error_rate=0.10, static_error_rate=0.01)
    with pytest.raises(CommandError) as refused:
        advance()
    message = str(refused.value)
    assert "not advancing use_db_models from 1.0% to 10%" in message
    assert "error rate is 10.00% (100 of 1000) against 1.00% on the static side (10 of 1000)" in message
    assert "more than 2.00% above it" in message
    assert current_percent(DB_MODELS_FLAG) == 1


@pytest.mark.django_db
def test_advance_passes_on_clean_traffic(at_one_percent, serve_usage, capsys):
    serve_usage(1000, 1000, database_error_rate=0.01, static_error_rate=0.01)
    advance()
    assert current_percent(DB_MODELS_FLAG) == 10
    assert "use_db_models: 10" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_database_side_with_fewer_errors_or_a_lower_price_passes(at_one_percent, serve_usage):
    serve_usage(
        500,
        500,
        database_error_rate=0.0,
        static_error_rate=0.05,
        database_cost_per_1k="0.0010",  # a price drop: expected, never a reason to stop
        static_cost_per_1k="0.0025",
    )
    advance()
    assert current_percent(DB_MODELS_FLAG) == 10


@pytest.mark.django_db
def test_advance_refuses_on_a_cost_per_token_jump(at_one_percent, serve_usage):
    serve_usage(1000, 1000, database_cost_per_1k="0.0030", static_cost_per_1k="0.0025")
    with pytest.raises(CommandError) as refused:
        advance()
    assert (
        "the database side costs 0.003 USD per 1,000 tokens, 1.20 times the static side's 0.0025; "
        "at most 1.1 times is allowed"
    ) in str(refused.value)
    assert current_percent(DB_MODELS_FLAG) == 1


@pytest.mark.django_db
def test_a_cost_exactly_at_the_threshold_passes(at_one_percent, serve_usage):
    serve_usage(1000, 1000, database_cost_per_1k="0.00275", static_cost_per_1k="0.0025")  # exactly 1.10x
    advance()
    assert current_percent(DB_MODELS_FLAG) == 10


@pytest.mark.django_db
def test_advance_refuses_with_too_little_traffic_on_either_side(at_one_percent, serve_usage):
    serve_usage(150, 5000)
    with pytest.raises(CommandError) as refused:
        advance()
    assert (
        "not enough traffic to judge (150 database, 5000 static requests since the stage began; "
        "at least 200 each)"
    ) in str(refused.value)
    serve_usage(50, 0)  # now 200 on the database side
    advance()
    assert current_percent(DB_MODELS_FLAG) == 10


@pytest.mark.django_db
def test_the_minimum_and_thresholds_come_from_the_settings(at_one_percent, serve_usage, settings):
    settings.ROLLOUT_MIN_TRAFFIC_REQUESTS = 50
    settings.ROLLOUT_MAX_ERROR_RATE_DELTA = "0.10"
    serve_usage(60, 60, database_error_rate=0.10, static_error_rate=0.0)  # 10 points: at the limit
    advance()
    assert current_percent(DB_MODELS_FLAG) == 10


@pytest.mark.django_db
def test_only_the_current_stages_traffic_counts(
    at_one_percent, serve_usage, serve_reads, django_capture_on_commit_callbacks
):
    serve_usage(1000, 1000, database_error_rate=0.30)  # a bad first stage, then a fix and a new stage
    with pytest.raises(CommandError, match=r"error rate is 30\.00%"):
        advance()
    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 2, user=None, reason="after the fix")
    serve_reads(1000)
    serve_usage()  # clean, since the new stage began
    advance()
    assert current_percent(DB_MODELS_FLAG) == 10


@pytest.mark.django_db
def test_from_zero_percent_the_first_stage_needs_no_usage(seeded, serve_reads):
    serve_reads(1000)
    advance()  # no usage records at all: there is no database side at 0%
    assert current_percent(DB_MODELS_FLAG) == 1


@pytest.mark.django_db
def test_force_advances_and_the_history_records_the_override_and_failed_checks(at_one_percent, serve_usage):
    serve_usage(1000, 1000, database_error_rate=0.10, static_error_rate=0.01)
    advance("--force", reason="hotfix for the outage")
    assert current_percent(DB_MODELS_FLAG) == 10
    latest = stage_history(DB_MODELS_FLAG)[-1]
    assert latest.percent == 10 and latest.changed_by == "system"
    assert latest.reason.startswith("hotfix for the outage [FORCED past failing checks: traffic: ")
    assert "error rate is 10.00% (100 of 1000)" in latest.reason
    history = RolloutFlag.objects.get(name=DB_MODELS_FLAG).history.order_by("-history_id").first()
    assert history.history_change_reason == latest.reason  # waffle's own history says the same


@pytest.mark.django_db
def test_force_with_too_little_traffic_records_it(at_one_percent, serve_usage):
    serve_usage(10, 10)
    advance("--force", reason="quiet weekend")
    reason = stage_history(DB_MODELS_FLAG)[-1].reason
    assert "FORCED" in reason and "traffic: not enough traffic to judge (10 database, 10 static" in reason


@pytest.mark.django_db
def test_force_with_every_check_passing_records_the_reason_as_given(at_one_percent, serve_usage):
    serve_usage()
    advance("--force", reason="as planned")
    assert stage_history(DB_MODELS_FLAG)[-1].reason == "as planned"


@pytest.mark.django_db
def test_a_forced_advance_past_several_checks_names_each(
    seeded, serve_usage, django_capture_on_commit_callbacks
):
    from models_registry.models import AIModel

    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 1, user=None, reason="first stage")
    AIModel.objects.filter(model_id="openai:gpt-5").delete()
    serve_usage(1000, 1000, database_cost_per_1k="0.01")
    advance("--force", reason="override")
    reason = stage_history(DB_MODELS_FLAG)[-1].reason
    assert "parity: " in reason and "openai:gpt-5" in reason
    assert "read counters: only 0 database reads" in reason
    assert "traffic: the database side costs 0.01 USD per 1,000 tokens, 4.00 times" in reason


@pytest.mark.django_db
def test_force_is_the_way_out_when_a_check_itself_breaks(at_one_percent, serve_usage, monkeypatch):
    from models_registry.rollout import flags

    def broken():
        raise OSError("static catalog unreadable")

    monkeypatch.setattr(flags, "run_parity_check", broken)
    serve_usage()
    with pytest.raises(OSError):
        advance()
    advance("--force", reason="catalog file being replaced")
    assert stage_history(DB_MODELS_FLAG)[-1].reason == (
        "catalog file being replaced [FORCED past failing checks: "
        "checks: could not be run (OSError: static catalog unreadable)]"
    )


# --- what operators see --------------------------------------------------------------------


@pytest.mark.django_db
def test_status_shows_both_sides_and_the_verdict(at_one_percent, serve_usage, capsys):
    serve_usage(1000, 1000, database_error_rate=0.10, static_error_rate=0.01)
    call_command("rollout", "status")
    out = capsys.readouterr().out
    assert "traffic since the stage began (" in out
    assert (
        "  database requests=1000 errors=100 (error rate 10.00%) tokens=1000000 cost=2.5 USD "
        "cost per 1,000 tokens=0.0025 USD"
    ) in out
    assert "  static   requests=1000 errors=10 (error rate 1.00%)" in out
    assert "verdict: refuse: the database side's error rate is 10.00%" in out


@pytest.mark.django_db
def test_status_at_zero_percent_says_the_traffic_is_not_judged(seeded, capsys):
    call_command("rollout", "status")
    out = capsys.readouterr().out
    assert "database requests=0 errors=0 (error rate -)" in out
    assert "verdict: not judged (at 0% no subject reads the database catalog" in out


@pytest.mark.django_db
def test_status_with_clean_traffic_passes(at_one_percent, serve_usage, capsys):
    serve_usage()
    call_command("rollout", "status")
    assert "verdict: pass: the database side is within the thresholds" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_rollout_page_shows_the_comparison_and_verdict(client, superuser, at_one_percent, serve_usage):
    serve_usage(1000, 1000, database_cost_per_1k="0.0030", static_cost_per_1k="0.0025")
    client.force_login(superuser)
    page = client.get(ROLLOUT_URL).content.decode()
    assert '<div class="module" id="traffic">' in page
    assert "Real traffic since the stage began: database catalog vs static" in page
    database_row = page[page.index('<tr data-side="database">') :]
    database_row = database_row[: database_row.index("</tr>")]
    assert "<td>1000</td>" in database_row and '<td class="error-rate">1.00%</td>' in database_row
    assert '<td class="cost-per-1k">0.003</td>' in database_row
    assert 'id="traffic-verdict" class="errornote">Verdict: refuse: the database side costs 0.003' in page


@pytest.mark.django_db
def test_the_rollout_page_refuses_an_advance_on_traffic_and_says_why(
    client, superuser, at_one_percent, serve_usage
):
    serve_usage(1000, 1000, database_error_rate=0.2)
    client.force_login(superuser)
    version = RolloutFlag.objects.get(name=DB_MODELS_FLAG).version
    response = client.post(
        ROLLOUT_URL,
        {"flag": DB_MODELS_FLAG, "action": "advance", "reason": "go", f"version_{DB_MODELS_FLAG}": version},
        follow=True,
    )
    assert "error rate is 20.00%" in response.content.decode()
    assert current_percent(DB_MODELS_FLAG) == 1


# --- the comparison's cost --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_comparison_costs_the_same_queries_for_10_and_10000_records(at_one_percent, serve_usage):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            traffic = stage_traffic(DB_MODELS_FLAG)
        return len(captured), traffic.comparison.database.requests + traffic.comparison.static.requests

    serve_usage(5, 5)
    few, total = queries()
    assert total == 10
    serve_usage(4995, 4995)
    many, total = queries()
    assert total == 10_000
    assert few == many <= 3  # the flag, its latest change, one GROUP BY over the records


# --- the pure comparison -----------------------------------------------------------------------

THRESHOLDS = TrafficThresholds(Decimal("0.02"), Decimal("1.10"), 200)


def side(requests: int, errors: int = 0, tokens: int = 1000, cost: str = "1") -> SideTotals:
    return SideTotals(requests=requests, errors=errors, tokens=tokens, cost=Decimal(cost))


def test_error_rates_are_compared_exactly_at_the_threshold():
    at_limit = compare_traffic(side(300, errors=9), side(300, errors=3), THRESHOLDS)  # 3% vs 1%: +2 points
    assert at_limit.ok and at_limit.enough_traffic
    over = compare_traffic(side(300, errors=10), side(300, errors=3), THRESHOLDS)
    assert not over.ok and "error rate is 3.33%" in over.problems[0]


def test_cost_per_1000_tokens_is_an_exact_decimal():
    totals = SideTotals(requests=3, tokens=3000, cost=Decimal("0.000000000003"))
    assert totals.cost_per_1k_tokens == Decimal("0.000000000001")
    assert SideTotals(requests=1, tokens=3, cost=Decimal("1")).cost_per_1k_tokens == Decimal(
        "333.333333333333"
    )
    assert SideTotals().cost_per_1k_tokens is None and SideTotals().error_rate is None


def test_cost_ratio_is_compared_without_rounding():
    # 1.1 times exactly passes even when neither cost per token is a short decimal.
    database = side(300, tokens=3, cost="1.1")
    static = side(300, tokens=3, cost="1")
    assert compare_traffic(database, static, THRESHOLDS).ok
    assert not compare_traffic(side(300, tokens=3, cost="1.100000000001"), static, THRESHOLDS).ok


def test_a_side_without_tokens_cannot_be_judged_on_cost():
    result = compare_traffic(side(300, tokens=0, cost="0"), side(300), THRESHOLDS)
    assert result.problems == (
        "no tokens recorded on the database side: the cost per token cannot be compared",
    )


def test_a_free_static_side_makes_any_database_cost_too_expensive():
    result = compare_traffic(side(300, cost="0.5"), side(300, cost="0"), THRESHOLDS)
    assert "infinitely more than the static side's 0" in result.problems[0]
    assert compare_traffic(side(300, cost="0"), side(300, cost="0"), THRESHOLDS).ok


def test_too_little_traffic_is_the_only_problem_reported():
    result = compare_traffic(side(199, errors=199), side(5000), THRESHOLDS)
    assert not result.enough_traffic
    assert result.verdict == (
        "not enough traffic to judge (199 database, 5000 static requests since the stage began; "
        "at least 200 each)"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ROLLOUT_MAX_ERROR_RATE_DELTA", "two percent", "ROLLOUT_MAX_ERROR_RATE_DELTA must be a number"),
        ("ROLLOUT_MAX_COST_PER_TOKEN_RATIO", "NaN", "must be a finite number"),
        ("ROLLOUT_MIN_TRAFFIC_REQUESTS", "0", "must be at least 1"),
        ("USAGE_BUFFER", "kafka", "USAGE_BUFFER must be '' (direct) or 'redis'"),
    ],
)
def test_a_bad_gate_or_buffer_setting_stops_the_system_check_in_words(settings, name, value, message):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match=re.escape(message)):
        call_command("check")


@pytest.mark.django_db
@pytest.mark.parametrize("failing_side", [None, "database"])
def test_the_gate_judges_what_record_usage_stored(
    seeded, serve_reads, settings, django_capture_on_commit_callbacks, failing_side
):
    """End to end: the chat app records its calls with ``registry.record_usage``; each subject's
    calls land on the side its rollout bucket reads, and the gate compares those sides."""
    from models_registry import registry

    settings.ROLLOUT_MIN_TRAFFIC_REQUESTS = 20
    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent(DB_MODELS_FLAG, 50, user=None, reason="half way")
    serve_reads(1000)

    def serve(subjects: range, *, failing_on: str | None = None) -> dict[str, int]:
        sides = {"database": 0, "static": 0}
        for subject in subjects:
            stored = registry.record_usage(
                "openai:gpt-5", {"input_tokens": 1_000, "output_tokens": 100}, usage_format="generic",
                request_id=f"call-{subject}", subject=f"user-{subject}", latency_ms=800,
            )  # fmt: skip
            sides[stored.catalog_source] += 1
            if stored.catalog_source == failing_on:
                registry.record_usage(
                    "openai:gpt-5", {"input_tokens": 1_000, "output_tokens": 0}, usage_format="generic",
                    request_id=f"failed-{subject}", subject=f"user-{subject}", status="error",
                    error_type="upstream_5xx",
                )  # fmt: skip
        return sides

    sides = serve(range(120), failing_on=failing_side)  # a failing side's calls each failed once too
    assert min(sides.values()) >= 20
    if failing_side is None:
        advance()
        assert current_percent(DB_MODELS_FLAG) == 100
        return
    with pytest.raises(CommandError, match=re.escape("error rate is 50.00%")):
        advance()
    assert current_percent(DB_MODELS_FLAG) == 50
