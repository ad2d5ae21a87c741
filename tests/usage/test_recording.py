"""Recording usage (``registry.record_usage``): tokens and cost at the prices in force, idempotent by
request id, bad input refused, and a storage failure that never reaches the chat request."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.utils import timezone

from models_registry import registry
from models_registry.catalog.services import update_model
from models_registry.models import AIModel
from models_registry.read import monitoring
from models_registry.usage import stream
from models_registry.usage.models import UsageRecord

from .conftest import stored

pytestmark = pytest.mark.django_db
D = Decimal
GPT = "openai:gpt-5"  # static catalog: input 2.5, cached input 0.25, output 10 USD per 1M


def record(request_id: str = "req-1", model_id: str = GPT, usage=None, **kwargs):
    kwargs.setdefault("usage_format", "generic")
    usage = {"input_tokens": 1_000, "output_tokens": 100} if usage is None else usage
    return registry.record_usage(model_id, usage, request_id=request_id, **kwargs)


# --- what is stored --------------------------------------------------------------------------------


def test_a_record_is_stored_with_its_tokens_cost_and_breakdown(rollup_spy):
    usage = {
        "prompt_tokens": 1_000,
        "completion_tokens": 500,
        "prompt_tokens_details": {"cached_tokens": 200},
        "completion_tokens_details": {"reasoning_tokens": 100},
    }
    at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)

    returned = record(
        "chat-1", usage=usage, usage_format="openai-chat", subject=42, conversation_id="conv-9",
        latency_ms=812.4, at=at,
    )  # fmt: skip

    [row] = stored()
    assert returned.pk == row.pk
    assert (row.request_id, row.model_id, row.provider, row.catalog_source) == (
        "chat-1",
        GPT,
        "openai",
        "static",
    )
    assert (row.subject_key, row.conversation_id, row.at, row.latency_ms) == ("42", "conv-9", at, 812)
    assert (row.status, row.error_type, row.routed, row.decision_id) == ("ok", "", False, None)
    tokens = (row.input_tokens, row.cached_input_tokens, row.cache_write_tokens)
    assert (*tokens, row.output_tokens, row.reasoning_tokens) == (1_000, 200, 0, 500, 100)
    # 800 x 2.5 + 200 x 0.25 + 400 x 10 + 100 x 10 (reasoning at the output rate), per 1M
    assert row.cost == D("0.00705")
    assert row.cost_breakdown == [
        {"kind": "input", "tokens": 800, "price": "2.5", "per": 1_000_000, "cost": "0.0020000"},
        {"kind": "cached_input", "tokens": 200, "price": "0.25", "per": 1_000_000, "cost": "0.00005000"},
        {"kind": "output", "tokens": 400, "price": "10", "per": 1_000_000, "cost": "0.004000"},
        {"kind": "reasoning", "tokens": 100, "price": "10", "per": 1_000_000, "cost": "0.001000"},
    ]
    assert sum(D(line["cost"]) for line in row.cost_breakdown) == row.cost
    assert row.price_effective_from is None  # the listed prices: no timeline
    assert rollup_spy.calls == [["chat-1"]]


USAGE_FORMATS = [
    pytest.param(
        "openai-responses",
        GPT,
        {"input_tokens": 2_000, "output_tokens": 300, "input_tokens_details": {"cached_tokens": 1_000}},
        (2_000, 1_000, 0, 300, 0),
        # 1,000 x 2.5 + 1,000 x 0.25 + 300 x 10
        D("0.00575"),
        id="openai-responses",
    ),
    pytest.param(
        "anthropic",
        "anthropic:claude-sonnet-4.5",  # input 3, cached 0.3, output 15; cache writes at the input rate
        {
            "input_tokens": 100,
            "cache_read_input_tokens": 1_000,
            "cache_creation_input_tokens": 400,
            "output_tokens": 50,
        },
        # Anthropic's input_tokens exclude the cache: stored as OpenAI counts them (all of them).
        (1_500, 1_000, 400, 50, 0),
        # 100 x 3 + 1,000 x 0.3 + 400 x 3 + 50 x 15
        D("0.00255"),
        id="anthropic",
    ),
    pytest.param(
        "gemini",
        "google:gemini-2.5-flash",  # input 0.15, cached 0.019, output 0.6, reasoning 3.5
        {
            "promptTokenCount": 1_000,
            "cachedContentTokenCount": 400,
            "candidatesTokenCount": 200,
            "thoughtsTokenCount": 300,
        },
        # Gemini's thoughts are outside its candidates: stored inside the output, as reasoning.
        (1_000, 400, 0, 500, 300),
        # 600 x 0.15 + 400 x 0.019 + 200 x 0.6 + 300 x 3.5
        D("0.0012676"),
        id="gemini",
    ),
    pytest.param(
        "generic",
        GPT,
        {"input_tokens": 10_000, "output_tokens": 1_000, "cached_input_tokens": 4_000},
        (10_000, 4_000, 0, 1_000, 0),
        # 6,000 x 2.5 + 4,000 x 0.25 + 1,000 x 10
        D("0.026"),
        id="generic",
    ),
    pytest.param(
        "openai-chat",
        GPT,
        {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        (100, 0, 0, 10, 0),
        D("0.00035"),
        id="openai-chat",
    ),
]


@pytest.mark.parametrize(("usage_format", "model_id", "usage", "tokens", "cost"), USAGE_FORMATS)
def test_each_usage_format_stores_the_right_tokens_and_cost(usage_format, model_id, usage, tokens, cost):
    record("r", model_id=model_id, usage=usage, usage_format=usage_format)

    [row] = stored()
    assert (
        row.input_tokens,
        row.cached_input_tokens,
        row.cache_write_tokens,
        row.output_tokens,
        row.reasoning_tokens,
    ) == tokens
    assert row.cost == cost
    # The same cost the read API quotes for that usage object.
    assert cost == registry.cost_for_usage(model_id, usage, usage_format=usage_format).total


def test_cost_is_an_exact_decimal_down_to_a_single_token():
    record("one-token", usage={"input_tokens": 1, "output_tokens": 0})
    assert stored()[0].cost == D("0.0000025")


def test_a_service_tier_a_request_fee_and_an_error_are_stored(
    database_catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        update_model(
            AIModel.objects.get(model_id=GPT), user=None, reason="tiers",
            changes={"service_tiers": {"batch": {"multiplier": "0.5"}},
                     "request_fees": {"web_search_per_1000": "10"}},
        )  # fmt: skip
    usage = {"input_tokens": 1_000, "output_tokens": 100, "requests": {"web_search": 3}}

    record("tiered", usage=usage, service_tier="batch", status="error", error_type="rate_limit")

    row = stored()[0]
    assert (row.service_tier, row.status, row.error_type) == ("batch", "error", "rate_limit")
    # (1,000 x 2.5 + 100 x 10) / 1M at half price, plus 3 searches at 10 USD per 1,000
    assert row.cost == D("0.00175") + D("0.03")
    assert row.cost_breakdown[-1] == {
        "kind": "request:web_search", "tokens": 3, "price": "10", "per": 1000, "cost": "0.03",
    }  # fmt: skip


# --- idempotency ---------------------------------------------------------------------------------------


def test_a_retried_record_is_stored_once_and_the_first_row_returned(rollup_spy):
    first = record("retry-me", usage={"input_tokens": 1_000, "output_tokens": 0})
    again = record("retry-me", usage={"input_tokens": 9_999, "output_tokens": 9_999}, latency_ms=5)

    [row] = stored()
    assert again.pk == first.pk == row.pk
    assert (again.input_tokens, again.cost, again.latency_ms) == (1_000, D("0.0025"), None)
    assert rollup_spy.request_ids == ["retry-me"]  # the retry added nothing to the rollups


def test_different_request_ids_are_different_records():
    record("a")
    record("b")
    assert [row.request_id for row in stored()] == ["a", "b"]


# --- the price in force ----------------------------------------------------------------------------


def _set_price(model_id: str, django_capture_on_commit_callbacks, **prices) -> None:
    changes = {f"{kind}_price": D(value) for kind, value in prices.items() if kind != "effective_from"}
    with django_capture_on_commit_callbacks(execute=True):  # the commit that refreshes the snapshots
        update_model(
            AIModel.objects.get(model_id=model_id), user=None, reason="price test", changes=changes,
            prices_effective_from=prices.get("effective_from"),
        )  # fmt: skip


USAGE_1M_IN = {"input_tokens": 1_000_000, "output_tokens": 0}


def test_a_price_change_never_reprices_a_stored_record(database_catalog, django_capture_on_commit_callbacks):
    before_change = timezone.now()
    old = record("before", usage=USAGE_1M_IN)
    assert old.cost == D("2.5")

    _set_price(GPT, django_capture_on_commit_callbacks, input="2")
    new = record("after", usage=USAGE_1M_IN)
    late = record("late-but-earlier", usage=USAGE_1M_IN, at=before_change)

    assert UsageRecord.objects.get(request_id="before").cost == D("2.5")  # kept as recorded
    assert new.cost == D("2")  # the new price, in force now
    assert new.price_effective_from is not None and new.price_effective_from > before_change
    # Recorded after the change, but for a call made before it: the old price.
    assert late.cost == D("2.5")
    assert late.price_effective_from is not None and late.price_effective_from <= before_change
    assert late.cost_breakdown[0]["price"] == "2.5"


def test_a_scheduled_price_applies_to_calls_from_its_time(
    database_catalog, django_capture_on_commit_callbacks
):
    effective = timezone.now() + timedelta(hours=1)
    _set_price(GPT, django_capture_on_commit_callbacks, input="1.5", effective_from=effective)

    now = record("now", usage=USAGE_1M_IN)
    then = record("then", usage=USAGE_1M_IN, at=effective + timedelta(seconds=1))

    assert (now.cost, then.cost) == (D("2.5"), D("1.5"))
    assert (
        then.price_effective_from == effective.replace(microsecond=0)
        or then.price_effective_from == effective
    )


def test_a_record_reads_the_catalog_its_subject_reads(
    database_catalog, settings, django_capture_on_commit_callbacks
):
    _set_price(GPT, django_capture_on_commit_callbacks, input="2")
    settings.MODELS_REGISTRY_SOURCE = "static"
    static = record("on-static", usage=USAGE_1M_IN, subject=7)
    settings.MODELS_REGISTRY_SOURCE = "database"
    database = record("on-database", usage=USAGE_1M_IN, subject=7)

    assert (static.catalog_source, static.cost) == ("static", D("2.5"))
    assert (database.catalog_source, database.cost) == ("database", D("2"))


def test_recording_is_not_counted_as_a_catalog_read():
    before = dict(monitoring.pending)
    record("quiet")
    assert monitoring.pending == before


# --- subjects and routing ----------------------------------------------------------------------------


def test_a_subject_is_stored_as_its_rollout_key(django_user_model):
    user = django_user_model.objects.create_user(username="someone")
    record("user", subject=user)
    record("session", subject="  sess-abc ")
    record("anonymous")
    assert [row.subject_key for row in stored()] == ["", "sess-abc", str(user.pk)]


def test_subjects_are_hashed_when_the_setting_says_so(settings):
    settings.USAGE_HASH_SUBJECTS = True
    settings.USAGE_SUBJECT_SALT = "pepper"
    record("hashed", subject=42)
    assert stored()[0].subject_key == hmac.new(b"pepper", b"42", hashlib.sha256).hexdigest()
    # Without a salt, keyed by SECRET_KEY: never a plain hash anyone can recompute from an id.
    settings.USAGE_SUBJECT_SALT = ""
    record("hashed-2", subject=42)
    assert stored("hashed-2")[0].subject_key not in {"42", hashlib.sha256(b"42").hexdigest()}
    assert len(stored("hashed-2")[0].subject_key) == 64


def test_a_router_decision_is_stored_with_its_facts(seeded, settings):
    from autorouter import route
    from autorouter.services import log_decision

    message = "Write a Python function that merges two sorted lists."
    decision = route(message, subject=1)  # not logged (AUTOROUTER_DECISION_LOG_RATE = 0)
    log = log_decision(decision)
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    logged = route(message, subject=1)  # logged: carries its log id for record_usage

    from_decision = record("routed", model_id=decision.model_id, decision=decision)
    from_logged = record("routed-logged", model_id=logged.model_id, decision=logged)
    from_log = record("from-log-row", model_id=decision.model_id, decision=log)
    from_id = record("by-id", model_id=decision.model_id, decision=log.pk)

    expected = (decision.tier or "", decision.classification.primary, decision.sticky, decision.is_fallback)
    for row in (from_decision, from_logged, from_log):
        assert row.routed
        assert (row.router_tier, row.category, row.sticky, row.fallback) == expected
    assert from_decision.decision_id is None
    assert from_logged.decision_id == getattr(logged, "log_id", None)
    assert from_log.decision_id == log.pk
    assert (from_id.routed, from_id.decision_id, from_id.router_tier) == (True, log.pk, "")
    assert stored("from-log-row")[0].category == decision.classification.primary


# --- bad input ----------------------------------------------------------------------------------------


BAD_INPUT = [
    ({"usage": ["not", "a", "dict"]}, "usage must be a dict"),
    ({"usage": {"prompt_tokens": 5}, "usage_format": "cohere"}, "usage_format must be one of"),
    ({"usage": {"input_tokens": -1, "output_tokens": 1}}, "input_tokens must not be negative"),
    ({"usage": {"input_tokens": 1, "output_tokens": 1, "tokens": 3}}, "tokens is not a known key"),
    ({"request_id": ""}, "request_id must not be empty"),
    ({"request_id": "   "}, "request_id must not be empty"),
    ({"request_id": None}, "request_id is required"),
    ({"request_id": "x" * 201}, "request_id must be at most 200"),
    ({"status": "failed"}, "status must be one of"),
    ({"error_type": "timeout"}, "give status='error'"),
    ({"latency_ms": -1}, "latency_ms must be a non-negative"),
    ({"latency_ms": "12"}, "latency_ms must be a number"),
    ({"latency_ms": float("nan")}, "latency_ms must be a non-negative"),
    ({"at": datetime(2026, 1, 1)}, "aware datetime"),
    ({"at": "2026-01-01"}, "at must be a datetime"),
    ({"model_id": "openai:gpt-99"}, "unknown model 'openai:gpt-99'"),
    ({"model_id": ""}, "model_id must be a model id"),
    ({"decision": "premium"}, "decision must be the router's Decision"),
    ({"decision": 0}, "decision id must be a positive integer"),
    ({"decision": True}, "not a boolean"),
    ({"service_tier": "turbo"}, "service_tier 'turbo' has no prices"),
    ({"subject": "s" * 129}, "subject key must be at most 128"),
    # PostgreSQL refuses NUL in text: the caller's bug, reported as such, not counted as an outage.
    ({"request_id": "retry\x00"}, "request_id must not contain a NUL"),
    ({"conversation_id": "c\x00"}, "conversation_id must not contain a NUL"),
    ({"subject": "user\x00"}, "subject key must not contain a NUL"),
    ({"at": datetime(1, 1, 1, 1, tzinfo=dt_timezone(timedelta(hours=5)))}, "at is out of range"),
    ({"at": datetime(1999, 12, 31, tzinfo=UTC)}, "at must be between 2000-01-01 and tomorrow"),
    ({"at": datetime(9999, 12, 31, 23, tzinfo=UTC)}, "at must be between"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUT, ids=[message for _, message in BAD_INPUT])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(kwargs, message, rollup_spy):
    with pytest.raises(ValueError, match=message):
        record(**kwargs)
    assert UsageRecord.objects.count() == 0
    assert rollup_spy.calls == []
    assert monitoring.pending[monitoring.USAGE_RECORD_FAILURES] == 0  # the caller's bug, not an outage


def test_a_bad_usage_buffer_setting_is_refused(settings):
    settings.USAGE_BUFFER = "kafka"
    with pytest.raises(ValueError, match="USAGE_BUFFER"):
        record()


# --- a failing database --------------------------------------------------------------------------------


def test_a_failing_database_does_not_raise_into_the_caller(caplog, rollup_spy):
    """A real database error (the table is gone from under the insert), on any backend."""
    table = connection.ops.quote_name(UsageRecord._meta.db_table)
    hidden = connection.ops.quote_name("usage_record_hidden")
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {hidden}")
    try:
        with caplog.at_level(logging.WARNING, logger="models_registry.usage.services"):
            assert record("lost-1") is None
            assert record("lost-2") is None
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {hidden} RENAME TO {table}")

    assert monitoring.pending[monitoring.USAGE_RECORD_FAILURES] == 2
    warnings = [r for r in caplog.records if "could not store record" in r.getMessage()]
    assert len(warnings) == 1, "logged once a minute, counted every time"
    assert rollup_spy.calls == []
    # The caller's transaction is intact and the next record is stored.
    assert record("stored-after").pk is not None
    assert [row.request_id for row in stored()] == ["stored-after"]


# The proxy's relay threads end with a ValueError when it closes their sockets under them: wait
# for them within the test, and do not report it as the next test's warning.
proxy_threads_end_noisily = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
PROXY_THREADS_END_SECONDS = 0.5


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="an outage of a database server")
@proxy_threads_end_noisily
def test_a_database_server_that_vanishes_does_not_raise_and_recording_recovers():
    """The connection goes through a TCP proxy that is killed, then restored (tests/faults)."""
    from tests.faults.proxy import FaultProxy

    settings_dict = connection.settings_dict
    saved = (settings_dict["HOST"], settings_dict["PORT"])
    proxy = FaultProxy(int(settings_dict["PORT"] or 5432), settings_dict["HOST"] or "127.0.0.1")
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(proxy.port)
    try:
        assert record("through-proxy").pk is not None
        proxy.kill()
        assert record("while-down") is None  # OperationalError: the server closed the connection
        assert record("still-down") is None  # connection refused
        proxy.restore()
        assert record("recovered").pk is not None  # no restart: the broken connection was replaced
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved
        proxy.close()
        time.sleep(PROXY_THREADS_END_SECONDS)
    assert monitoring.pending[monitoring.USAGE_RECORD_FAILURES] == 2
    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == ["recovered", "through-proxy"]


# --- the Redis path ------------------------------------------------------------------------------------


def test_on_the_redis_path_a_record_is_appended_to_the_stream_not_stored(usage_stream, rollup_spy):
    returned = record("buffered", subject=5, latency_ms=120, at=datetime(2026, 2, 1, tzinfo=UTC))

    assert returned.pk is None and returned.cost == D("0.0035")
    assert UsageRecord.objects.count() == 0 and rollup_spy.calls == []
    [(_, fields)] = usage_stream.entries()
    decoded = stream.decode(fields[stream.FIELD])
    for name in ("request_id", "at", "model_id", "subject_key", "cost", "cost_breakdown", "latency_ms"):
        assert getattr(decoded, name) == getattr(returned, name), name
    assert len(fields[stream.FIELD]) < 400, "a compact entry"


def test_on_the_redis_path_bad_input_raises_and_appends_nothing(usage_stream):
    with pytest.raises(ValueError, match="unknown model"):
        record(model_id="nobody:nothing")
    assert usage_stream.entries() == []


@proxy_threads_end_noisily
def test_an_unreachable_redis_does_not_raise_into_the_caller(usage_stream, settings):
    from models_registry.usage import services
    from tests.faults.proxy import FaultProxy

    upstream = urlparse(usage_stream.url)
    proxy = FaultProxy(upstream.port or 6379, upstream.hostname or "127.0.0.1")
    settings.REDIS_URL = f"redis://127.0.0.1:{proxy.port}{upstream.path or '/0'}"
    try:
        assert record("via-proxy") is not None
        proxy.kill()
        assert record("redis-down") is None
        assert record("redis-still-down") is None  # fails at once for a second: no timeout per call
        proxy.restore()
        services.reset_failure_state()
        assert record("redis-back") is not None
    finally:
        proxy.close()
        time.sleep(PROXY_THREADS_END_SECONDS)
    assert monitoring.pending[monitoring.USAGE_RECORD_FAILURES] == 2
    appended = [stream.decode(fields[stream.FIELD]).request_id for _, fields in usage_stream.entries()]
    assert appended == ["via-proxy", "redis-back"]


def test_an_integer_conversation_id_is_stored_as_its_text():
    assert record(conversation_id=4321).conversation_id == "4321"
    assert UsageRecord.objects.get().conversation_id == "4321"
