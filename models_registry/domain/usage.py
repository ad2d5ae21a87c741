"""Each provider's usage object, read into the registry's one convention (:class:`TokenUsage`).

Providers count differently, and mixing the conventions double-counts or drops tokens:

- OpenAI chat: ``prompt_tokens`` include ``prompt_tokens_details.cached_tokens`` (and audio);
  ``completion_tokens`` include ``completion_tokens_details.reasoning_tokens`` (and audio).
- OpenAI responses: the same with ``input_tokens`` / ``output_tokens`` and ``*_details``.
- Anthropic: ``input_tokens`` exclude ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``; the creation is split into
  ``cache_creation.ephemeral_5m_input_tokens`` and ``ephemeral_1h_input_tokens``;
  ``server_tool_use.web_search_requests`` counts billed searches.
- Gemini: ``promptTokenCount`` includes ``cachedContentTokenCount``;
  ``thoughtsTokenCount`` is outside ``candidatesTokenCount`` but billed as output;
  ``toolUsePromptTokenCount`` is billed as input; per-modality counts are in
  ``promptTokensDetails`` / ``candidatesTokensDetails``. Both the REST API's
  camelCase and the Python SDK's snake_case are read.
- generic: the keyword counts of ``calculate_cost`` (see :class:`TokenUsage`).

Hand-written rather than ``genai_prices.extract_usage``: that one needs the
whole response (model name included) and takes 21-29 µs per call here, more
than the whole cost budget; the tests use it as the oracle of these adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from models_registry.domain.pricing import USAGE_KEYS, TokenUsage

USAGE_FORMATS: tuple[str, ...] = ("openai-chat", "openai-responses", "anthropic", "gemini", "generic")


def _count(usage: Mapping[str, Any], key: str, where: str = "") -> int:
    value = usage.get(key)
    if type(value) is int and value >= 0:  # the usual case, first
        return value
    if value is None:
        return 0  # providers send null for a detail they did not measure
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"usage {where}{key} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"usage {where}{key} must not be negative, got {value}")
    return value


def _details(usage: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = usage.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"usage {key} must be an object, got {type(value).__name__}")
    return value


def _check_keys(usage: Mapping[str, Any], known: frozenset[str], strict: bool, where: str = "") -> None:
    if strict:
        unknown = sorted(set(usage) - known)
        if unknown:
            raise ValueError(f"usage {where}{unknown[0]} is not a known key of this format")


def _part(whole_key: str, whole: int, part_key: str, part: int) -> int:
    if part > whole:
        raise ValueError(f"usage {part_key} ({part}) cannot exceed {whole_key} ({whole}): it is part of it")
    return part


_OPENAI_CHAT_KEYS = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
    }
)
_OPENAI_PROMPT_DETAILS = frozenset({"cached_tokens", "audio_tokens", "image_tokens", "text_tokens"})
_OPENAI_COMPLETION_DETAILS = frozenset(
    {
        "reasoning_tokens",
        "audio_tokens",
        "image_tokens",
        "text_tokens",
        "accepted_prediction_tokens",
        "rejected_prediction_tokens",
    }
)


def _openai(
    usage: Mapping[str, Any], strict: bool, *, prompt: str, completion: str, keys: frozenset[str]
) -> TokenUsage:
    _check_keys(usage, keys, strict)
    prompt_details = _details(usage, f"{prompt}_details")
    completion_details = _details(usage, f"{completion}_details")
    _check_keys(prompt_details, _OPENAI_PROMPT_DETAILS, strict, f"{prompt}_details.")
    _check_keys(completion_details, _OPENAI_COMPLETION_DETAILS, strict, f"{completion}_details.")
    input_tokens = _count(usage, prompt)
    output_tokens = _count(usage, completion)
    pd, cd = f"{prompt}_details.", f"{completion}_details."
    return TokenUsage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=_part(
            prompt, input_tokens, pd + "cached_tokens", _count(prompt_details, "cached_tokens", pd)
        ),
        audio_input_tokens=_part(
            prompt, input_tokens, pd + "audio_tokens", _count(prompt_details, "audio_tokens", pd)
        ),
        image_input_tokens=_part(
            prompt, input_tokens, pd + "image_tokens", _count(prompt_details, "image_tokens", pd)
        ),
        reasoning_tokens=_part(
            completion,
            output_tokens,
            cd + "reasoning_tokens",
            _count(completion_details, "reasoning_tokens", cd),
        ),
        audio_output_tokens=_part(
            completion, output_tokens, cd + "audio_tokens", _count(completion_details, "audio_tokens", cd)
        ),
        image_output_tokens=_part(
            completion, output_tokens, cd + "image_tokens", _count(completion_details, "image_tokens", cd)
        ),
    )


def _openai_chat(usage: Mapping[str, Any], strict: bool) -> TokenUsage:
    return _openai(
        usage, strict, prompt="prompt_tokens", completion="completion_tokens", keys=_OPENAI_CHAT_KEYS
    )


_OPENAI_RESPONSES_KEYS = frozenset(
    {"input_tokens", "output_tokens", "total_tokens", "input_tokens_details", "output_tokens_details"}
)


def _openai_responses(usage: Mapping[str, Any], strict: bool) -> TokenUsage:
    return _openai(
        usage, strict, prompt="input_tokens", completion="output_tokens", keys=_OPENAI_RESPONSES_KEYS
    )


_ANTHROPIC_KEYS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "server_tool_use",
        "service_tier",
        "inference_geo",
    }
)
_ANTHROPIC_CACHE_CREATION = frozenset({"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"})
_ANTHROPIC_SERVER_TOOLS = frozenset({"web_search_requests", "web_fetch_requests"})


def _anthropic(usage: Mapping[str, Any], strict: bool) -> TokenUsage:
    creation = _details(usage, "cache_creation")
    tools = _details(usage, "server_tool_use")
    if strict:
        _check_keys(usage, _ANTHROPIC_KEYS, strict)
        _check_keys(creation, _ANTHROPIC_CACHE_CREATION, strict, "cache_creation.")
        _check_keys(tools, _ANTHROPIC_SERVER_TOOLS, strict, "server_tool_use.")
    uncached = _count(usage, "input_tokens")
    cache_read = _count(usage, "cache_read_input_tokens")
    cache_creation = _count(usage, "cache_creation_input_tokens")
    if creation:
        write_5m = _count(creation, "ephemeral_5m_input_tokens", "cache_creation.")
        write_1h = _count(creation, "ephemeral_1h_input_tokens", "cache_creation.")
        if "cache_creation_input_tokens" in usage and write_5m + write_1h != cache_creation:
            raise ValueError(
                f"usage cache_creation.ephemeral_5m_input_tokens + ephemeral_1h_input_tokens "
                f"({write_5m + write_1h}) must equal cache_creation_input_tokens ({cache_creation})"
            )
    else:
        write_5m, write_1h = cache_creation, 0  # no split reported: the default 5-minute lifetime
    searches = _count(tools, "web_search_requests", "server_tool_use.")
    return TokenUsage(
        input_tokens=uncached + cache_read + write_5m + write_1h,
        output_tokens=_count(usage, "output_tokens"),
        cached_input_tokens=cache_read,
        cache_write_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        requests={"web_search": searches} if searches else {},
    )


_GEMINI_NAMES = {  # camelCase (REST) → snake_case (Python SDK)
    "promptTokenCount": "prompt_token_count",
    "candidatesTokenCount": "candidates_token_count",
    "thoughtsTokenCount": "thoughts_token_count",
    "cachedContentTokenCount": "cached_content_token_count",
    "toolUsePromptTokenCount": "tool_use_prompt_token_count",
    "totalTokenCount": "total_token_count",
    "promptTokensDetails": "prompt_tokens_details",
    "candidatesTokensDetails": "candidates_tokens_details",
    "cacheTokensDetails": "cache_tokens_details",
    "toolUsePromptTokensDetails": "tool_use_prompt_tokens_details",
    "trafficType": "traffic_type",
}
_GEMINI_KEYS = frozenset({*_GEMINI_NAMES, *_GEMINI_NAMES.values()})


def _gemini_get(usage: Mapping[str, Any], camel: str) -> Any:
    return usage.get(camel, usage.get(_GEMINI_NAMES[camel]))


def _gemini_count(usage: Mapping[str, Any], camel: str) -> int:
    value = _gemini_get(usage, camel)
    return _count({camel: value}, camel)


def _gemini_modality(usage: Mapping[str, Any], camel: str, modality: str) -> int:
    details = _gemini_get(usage, camel) or []
    if not isinstance(details, list):
        raise ValueError(f"usage {camel} must be a list of {{modality, tokenCount}}")
    total = 0
    for item in details:
        if not isinstance(item, Mapping):
            raise ValueError(f"usage {camel} must be a list of {{modality, tokenCount}}")
        if str(item.get("modality", "")).upper() == modality:
            count = item.get("tokenCount", item.get("token_count"))
            total += _count({"tokenCount": count}, "tokenCount", f"{camel}[{modality}].")
    return total


def _gemini_uncached(usage: Mapping[str, Any], modality: str) -> int:
    prompt = _gemini_modality(usage, "promptTokensDetails", modality)
    cached = _gemini_modality(usage, "cacheTokensDetails", modality)
    _part(f"promptTokensDetails[{modality}]", prompt, f"cacheTokensDetails[{modality}]", cached)
    return prompt - cached


def _gemini(usage: Mapping[str, Any], strict: bool) -> TokenUsage:
    _check_keys(usage, _GEMINI_KEYS, strict)
    prompt = _gemini_count(usage, "promptTokenCount")
    tool_prompt = _gemini_count(usage, "toolUsePromptTokenCount")
    candidates = _gemini_count(usage, "candidatesTokenCount")
    thoughts = _gemini_count(usage, "thoughtsTokenCount")
    cached = _part(
        "promptTokenCount", prompt, "cachedContentTokenCount", _gemini_count(usage, "cachedContentTokenCount")
    )
    return TokenUsage(
        input_tokens=prompt + tool_prompt,
        output_tokens=candidates + thoughts,
        cached_input_tokens=cached,
        reasoning_tokens=thoughts,
        # promptTokensDetails covers the whole prompt, its cached part too (cacheTokensDetails):
        # cached audio and images are cache reads, billed once, at the cached rate.
        audio_input_tokens=_gemini_uncached(usage, "AUDIO"),
        image_input_tokens=_gemini_uncached(usage, "IMAGE"),
        audio_output_tokens=_gemini_modality(usage, "candidatesTokensDetails", "AUDIO"),
        image_output_tokens=_gemini_modality(usage, "candidatesTokensDetails", "IMAGE"),
    )


def _generic(usage: Mapping[str, Any], strict: bool) -> TokenUsage:
    # Our own shape: an unknown key is a typo, refused whatever ``strict`` says.
    _check_keys(usage, USAGE_KEYS, True)
    counts = {key: _count(usage, key) for key in USAGE_KEYS if key != "requests"}
    requests = usage.get("requests") or {}
    if not isinstance(requests, Mapping):
        raise ValueError('usage requests must be an object such as {"web_search": 3}')
    for kind in requests:
        _count(requests, kind, "requests.")
    return TokenUsage(**counts, requests=dict(requests))


_READERS: dict[str, Callable[[Mapping[str, Any], bool], TokenUsage]] = {
    "openai-chat": _openai_chat,
    "openai-responses": _openai_responses,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "generic": _generic,
}
assert tuple(_READERS) == USAGE_FORMATS


def read_usage(usage: Mapping[str, Any], usage_format: str, *, strict: bool = False) -> TokenUsage:
    """``usage`` (a provider's usage object as a dict) in the registry's convention.

    Raises ``ValueError`` naming the key for negative or non-integer counts, a part
    larger than its whole, an unknown format, or (``strict``) an unknown key.
    """
    reader = _READERS.get(usage_format)
    if reader is None:
        raise ValueError(f"usage_format must be one of {', '.join(USAGE_FORMATS)}, not {usage_format!r}")
    if not isinstance(usage, Mapping):
        raise ValueError(f"usage must be a dict (the provider's usage object), got {type(usage).__name__}")
    return reader(usage, strict)
