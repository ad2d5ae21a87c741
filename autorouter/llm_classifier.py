"""The optional LLM classifier: asks the configured router model through an
OpenAI-compatible ``POST {base_url}/chat/completions``.

It is strict: the reply must be one JSON object with exactly the expected keys
and value types. Any failure (connection, HTTP status, timeout, malformed or
invalid JSON) is retried up to ``max_retries`` times within one time budget
(``AUTOROUTER_LLM_TIMEOUT_SECONDS`` covers all attempts together, so a slow
endpoint cannot stall a chat message), then :class:`LLMClassifierError` is
raised and the router falls back to the local classifier, saying so in the
decision. No Django or ORM here: the caller passes the settings in.

Calls go through one process-wide urllib3 pool: a chat message's classification reuses a kept-alive
connection (no TCP and TLS handshake per message), and the pool is thread-safe for threaded workers.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import urllib3

from .classifier import COMPLEXITY_LEVEL, classify
from .types import ACTIONS, CATEGORIES, COMPLEXITIES, Classification, RouterSettings

# Connections kept alive per endpoint host: one per worker thread that classifies at the same time.
POOL_SIZE = 8
_pool = urllib3.PoolManager(num_pools=4, maxsize=POOL_SIZE, retries=False)

MAX_MESSAGE_CHARS = 8_000  # the classifier needs the gist, not a whole pasted document

KEYS = {
    "primary_category": str,
    "secondary_category": (str, type(None)),
    "complexity": str,
    "needs_vision": bool,
    "needs_long_context": bool,
    "needs_reasoning": bool,
    "high_stakes": bool,
    "domain": (str, type(None)),
    "recommended_action": str,
    "confidence": (int, float),
}

SYSTEM_PROMPT = """You classify one chat message for a model router.
Reply with one JSON object and nothing else, with exactly these keys:
- "primary_category": one of {categories}
- "secondary_category": another of those categories, or null
- "complexity": "simple", "moderate" or "complex"
- "needs_vision": true if the user attached images the answer depends on
- "needs_long_context": true if the answer needs a very long document or conversation
- "needs_reasoning": true for maths, logic, proofs or multi-step problem solving
- "high_stakes": true if a wrong answer could seriously harm the user in one of these domains: {domains}
- "domain": the domain when high_stakes is true, else null
- "recommended_action": "keep" if this is a follow-up the previous model should keep answering, else "change"
- "confidence": a number from 0 to 1"""


class LLMClassifierError(RuntimeError):
    """The LLM classifier gave no usable answer; the message says why."""


def build_request_body(
    message: str,
    *,
    settings: RouterSettings,
    model_name: str,
    previous_model_id: str | None,
    has_attachments: bool,
    context_tokens: int,
) -> dict[str, Any]:
    facts = [
        f"previous model: {previous_model_id or 'none (first message)'}",
        f"attachments: {'yes' if has_attachments else 'no'}",
        f"conversation so far: about {context_tokens} tokens",
    ]
    return {
        "model": model_name,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {
                "role": "system",
                "content": SYSTEM_PROMPT.format(
                    categories=", ".join(CATEGORIES), domains=", ".join(settings.high_stakes_domains)
                ),
            },
            {"role": "user", "content": "\n".join(facts) + "\n\nMessage:\n" + message[:MAX_MESSAGE_CHARS]},
        ],
    }


def parse_classification(
    content: str,
    *,
    settings: RouterSettings,
    has_attachments: bool = False,
    previous_model_id: str | None = None,
) -> Classification:
    """Validate the model's reply strictly; ``LLMClassifierError`` names the first problem."""
    try:
        data = json.loads(content)
    except (TypeError, ValueError) as exc:
        raise LLMClassifierError(f"invalid JSON from the classifier: {exc}") from None
    if not isinstance(data, dict):
        raise LLMClassifierError("invalid JSON from the classifier: not an object")
    missing = sorted(set(KEYS) - set(data))
    unknown = sorted(set(data) - set(KEYS))
    if missing or unknown:
        raise LLMClassifierError(f"invalid classification: missing {missing}, unknown {unknown}")
    for key, kind in KEYS.items():
        value = data[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise LLMClassifierError(f"invalid classification: {key} has the wrong type")
    problems = []
    if data["primary_category"] not in CATEGORIES:
        problems.append("primary_category")
    secondary = data["secondary_category"]
    if secondary is not None and (secondary not in CATEGORIES or secondary == data["primary_category"]):
        problems.append("secondary_category")
    if data["complexity"] not in COMPLEXITIES:
        problems.append("complexity")
    if data["recommended_action"] not in ACTIONS:
        problems.append("recommended_action")
    if not 0 <= data["confidence"] <= 1:
        problems.append("confidence")
    domain = data["domain"]
    if data["high_stakes"] and domain not in settings.high_stakes_domains:
        problems.append("domain")
    if not data["high_stakes"] and domain is not None:
        problems.append("domain")
    if problems:
        raise LLMClassifierError(f"invalid classification: bad {', '.join(problems)}")
    return Classification(
        primary=data["primary_category"],
        secondary=secondary,
        complexity=data["complexity"],
        # Facts the caller knows beat the model's guess: an attached image needs vision.
        needs_vision=data["needs_vision"] or has_attachments,
        needs_long_context=data["needs_long_context"],
        needs_reasoning=data["needs_reasoning"],
        high_stakes=data["high_stakes"],
        domain=domain,
        action=data["recommended_action"] if previous_model_id is not None else "change",
        confidence=float(data["confidence"]),
        signals=("llm classifier",),
    )


class _HTTPStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _post(url: str, body: bytes, api_key: str, timeout: float) -> str:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    response = _pool.request(
        "POST", url, body=body, headers=headers, timeout=urllib3.Timeout(total=timeout), redirect=False
    )
    if not 200 <= response.status < 300:
        raise _HTTPStatus(response.status)
    payload = json.loads(response.data.decode("utf-8"))
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMClassifierError("invalid JSON from the endpoint: no choices[0].message.content") from None
    if not isinstance(content, str):
        raise LLMClassifierError("invalid JSON from the endpoint: content is not a string")
    return content


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LLMClassifierError):
        return str(exc)
    if isinstance(exc, _HTTPStatus):
        return f"HTTP {exc.status} from the endpoint"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # (urllib3 files it under timeouts)
        return f"endpoint unreachable ({exc})"
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return f"endpoint unreachable ({exc.__class__.__name__}: {exc})"
    if isinstance(exc, ValueError):
        return f"invalid JSON from the endpoint: {exc}"
    return f"{exc.__class__.__name__}: {exc}"


def classify_with_llm(
    message: str,
    *,
    settings: RouterSettings,
    model_name: str,
    base_url: str,
    api_key: str = "",
    timeout: float = 3.0,
    previous_model_id: str | None = None,
    has_attachments: bool = False,
    context_tokens: int = 0,
) -> Classification:
    """Classify with the router model; ``LLMClassifierError`` after ``1 + max_retries`` failed attempts."""
    if not base_url:
        raise LLMClassifierError("no AUTOROUTER_LLM_BASE_URL configured")
    url = base_url.rstrip("/") + "/chat/completions"
    body = json.dumps(
        build_request_body(
            message,
            settings=settings,
            model_name=model_name,
            previous_model_id=previous_model_id,
            has_attachments=has_attachments,
            context_tokens=context_tokens,
        )
    ).encode("utf-8")
    deadline = time.monotonic() + timeout
    attempts = 0
    last_error = "no attempt made"
    while attempts <= settings.max_retries:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            last_error = "timeout"
            break
        attempts += 1
        try:
            content = _post(url, body, api_key, remaining)
            parsed = parse_classification(
                content,
                settings=settings,
                has_attachments=has_attachments,
                previous_model_id=previous_model_id,
            )
            # Whether an image is to be made is read from the message itself, as locally; the
            # difficulty is the local one with the model's complexity level in place of the rules'.
            local = classify(message, settings=settings, has_attachments=has_attachments)
            shift = 0.45 * (COMPLEXITY_LEVEL[parsed.complexity] - COMPLEXITY_LEVEL[local.complexity])
            return dataclasses.replace(
                parsed,
                needs_image_generation=local.needs_image_generation,
                difficulty=round(min(1.0, max(0.0, local.difficulty + shift)), 3),
            )
        except (urllib3.exceptions.HTTPError, OSError, ValueError, _HTTPStatus, LLMClassifierError) as exc:
            last_error = _describe(exc)
    raise LLMClassifierError(f"{last_error} (after {attempts} attempt{'s' if attempts != 1 else ''})")
