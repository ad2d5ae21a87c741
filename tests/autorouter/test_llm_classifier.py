"""The LLM classifier against a real OpenAI-compatible HTTP server started on loopback by the test.

The router must fall back to the local classifier, and say so, on a timeout,
on invalid JSON, on an HTTP error or on a reply that fails strict validation.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from autorouter.defaults import DEFAULT_SETTINGS
from autorouter.llm_classifier import LLMClassifierError, parse_classification
from autorouter.router import route_with_state
from autorouter.state import RouterState, default_state

VALID = {
    "primary_category": "coding",
    "secondary_category": "analysis",
    "complexity": "complex",
    "needs_vision": False,
    "needs_long_context": False,
    "needs_reasoning": True,
    "high_stakes": False,
    "domain": None,
    "recommended_action": "change",
    "confidence": 0.9,
}


class FakeChatCompletions:
    """A chat-completions endpoint whose replies the test queues: (status, content or raw body, delay)."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, object, float]] = []
        self.requests: list[dict] = []
        self.stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "client": self.client_address,
                    }
                )
                status, content, delay = fake.replies.pop(0) if fake.replies else (200, VALID, 0.0)
                if delay:
                    fake.stop.wait(delay)
                if isinstance(content, bytes):
                    payload = content
                else:
                    text = content if isinstance(content, str) else json.dumps(content)
                    payload = json.dumps(
                        {"choices": [{"message": {"role": "assistant", "content": text}}]}
                    ).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm(settings):
    fake = FakeChatCompletions()
    settings.MODELS_REGISTRY_SOURCE = "static"  # the static catalog: no database needed
    settings.AUTOROUTER_CLASSIFIER = "llm"
    settings.AUTOROUTER_LLM_BASE_URL = fake.url
    settings.AUTOROUTER_LLM_API_KEY = "test-key"
    settings.AUTOROUTER_LLM_TIMEOUT_SECONDS = 5
    yield fake
    fake.close()


def route(message="Refactor this Python class and explain the trade-offs", state=None, **kwargs):
    return route_with_state(state or default_state(), message, log=False, **kwargs)


def test_a_valid_reply_is_used(llm):
    decision = route(previous_model_id="openai:gpt-5")
    assert decision.classifier == "llm"
    assert decision.classifier_fallback is None
    c = decision.classification
    assert (c.primary, c.secondary, c.complexity, c.needs_reasoning) == (
        "coding",
        "analysis",
        "complex",
        True,
    )
    (request,) = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer test-key"
    assert request["body"]["response_format"] == {"type": "json_object"}
    assert "Refactor this Python class" in request["body"]["messages"][-1]["content"]


def test_classifications_reuse_one_pooled_connection(llm):
    for _ in range(3):
        assert route().classifier == "llm"
    assert len(llm.requests) == 3
    assert len({request["client"] for request in llm.requests}) == 1  # one TCP connection, kept alive


def test_router_model_is_the_model_called(llm):
    route()
    assert llm.requests[-1]["body"]["model"] == "gpt-oss-120b"  # the default router model's API id
    state = RouterState(
        replace(DEFAULT_SETTINGS, router_model_id="anthropic:claude-haiku-4.5"),
        default_state().profiles,
        "defaults",
    )
    route(state=state)
    assert llm.requests[-1]["body"]["model"] == "claude-haiku-4.5"


def test_timeout_falls_back_to_the_local_classifier(llm, settings):
    settings.AUTOROUTER_LLM_TIMEOUT_SECONDS = 0.3
    llm.replies = [(200, VALID, 3.0)] * 4
    decision = route()
    assert decision.classifier == "local"
    assert decision.classifier_fallback.startswith("timeout")
    assert "LLM classifier unavailable: timeout" in decision.explanation
    assert decision.classification.primary == "coding"  # the local classifier's answer
    assert decision.model_id  # still routed


def test_invalid_json_falls_back_after_the_configured_retries(llm):
    llm.replies = [(200, "this is not JSON {", 0.0)] * 10
    decision = route()
    assert decision.classifier == "local"
    assert decision.classifier_fallback.startswith("invalid JSON from the classifier")
    assert "(after 4 attempts)" in decision.classifier_fallback  # 1 + max_retries (3)
    assert len(llm.requests) == 4


def test_max_retries_bounds_the_classifier_attempts(llm):
    llm.replies = [(200, "nope", 0.0)] * 10
    state = RouterState(replace(DEFAULT_SETTINGS, max_retries=1), default_state().profiles, "defaults")
    decision = route(state=state)
    assert decision.classifier == "local"
    assert len(llm.requests) == 2


def test_a_failed_attempt_is_retried(llm):
    llm.replies = [(500, b'{"error": "overloaded"}', 0.0), (200, VALID, 0.0)]
    decision = route()
    assert decision.classifier == "llm"
    assert len(llm.requests) == 2


def test_http_errors_fall_back(llm):
    llm.replies = [(503, b"{}", 0.0)] * 4
    decision = route()
    assert decision.classifier == "local"
    assert decision.classifier_fallback == "HTTP 503 from the endpoint (after 4 attempts)"


def test_a_reply_without_choices_falls_back(llm):
    llm.replies = [(200, b'{"id": "x"}', 0.0)] * 4
    assert route().classifier_fallback.startswith("invalid JSON from the endpoint")


def test_an_unreachable_endpoint_falls_back(settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.MODELS_REGISTRY_SOURCE = "static"
    settings.AUTOROUTER_CLASSIFIER = "llm"
    settings.AUTOROUTER_LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    decision = route()
    assert decision.classifier == "local"
    assert decision.classifier_fallback.startswith("endpoint unreachable")


def test_no_base_url_falls_back(settings):
    settings.MODELS_REGISTRY_SOURCE = "static"
    settings.AUTOROUTER_CLASSIFIER = "llm"
    settings.AUTOROUTER_LLM_BASE_URL = ""
    assert route().classifier_fallback == "no AUTOROUTER_LLM_BASE_URL configured"


def test_attachments_always_need_vision_whatever_the_model_says(llm):
    assert route(has_attachments=True).classification.needs_vision


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"primary_category": "poetry"}, "bad primary_category"),
        ({"secondary_category": "coding"}, "bad secondary_category"),  # same as primary
        ({"complexity": "hard"}, "bad complexity"),
        ({"recommended_action": "switch"}, "bad recommended_action"),
        ({"confidence": 1.5}, "bad confidence"),
        ({"high_stakes": True, "domain": "astrology"}, "bad domain"),
        ({"high_stakes": False, "domain": "medical"}, "bad domain"),
        ({"needs_vision": "yes"}, "needs_vision has the wrong type"),
        ({"confidence": True}, "confidence has the wrong type"),
        ({"extra": 1}, "unknown ['extra']"),
    ],
)
def test_strict_validation_refuses_bad_replies(change, problem):
    with pytest.raises(LLMClassifierError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_classification(json.dumps({**VALID, **change}), settings=DEFAULT_SETTINGS)


def test_strict_validation_refuses_missing_keys():
    reply = {key: value for key, value in VALID.items() if key != "complexity"}
    with pytest.raises(LLMClassifierError, match="missing"):
        parse_classification(json.dumps(reply), settings=DEFAULT_SETTINGS)


def test_high_stakes_reply_with_a_configured_domain_is_accepted():
    reply = {**VALID, "high_stakes": True, "domain": "legal"}
    classification = parse_classification(
        json.dumps(reply), settings=DEFAULT_SETTINGS, previous_model_id="x:y"
    )
    assert (classification.high_stakes, classification.domain) == (True, "legal")
