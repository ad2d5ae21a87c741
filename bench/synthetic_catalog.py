"""A synthetic catalog in the shape of a public price map (LiteLLM's, models.dev's), at any size.

Pure and deterministic (a seeded ``random.Random``): the same size gives the same
document. The shape follows what LiteLLM's map looked like when imported (2,793
models, 87 providers): a few dozen makers publish their families, and many more
resellers (clouds, aggregators, inference hosts) list the makers' models again
under their own prefix (``azure:gpt-5``, ``aihubmix:claude-sonnet-4.5``,
``bedrock:anthropic.claude-sonnet-4.5-v1``). About 5% are deprecated, 5% beta,
2% internal-only; a few carry long-context tiers and deprecation dates.

Used by ``bench/catalog_scale_bench.py`` and by the tests that must show a
behaviour does not grow with the catalog.

    document = synthetic_document(5000)          # {"providers": [...], "models": [...]}
    profiles = synthetic_profiles(document, share=0.5)   # {model id: (quality, {category: score})}
"""

from __future__ import annotations

import random
from typing import Any

MAKERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "openai": (
        "OpenAI",
        ("gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4o", "o3", "o4-mini", "gpt-image"),
    ),
    "anthropic": ("Anthropic", ("claude-opus", "claude-sonnet", "claude-haiku")),
    "google": ("Google", ("gemini-pro", "gemini-flash", "gemini-flash-lite", "gemma", "imagen")),
    "meta": ("Meta", ("llama-4-maverick", "llama-4-scout", "llama-3.3-70b", "llama-3.1-8b")),
    "mistral": ("Mistral AI", ("mistral-large", "mistral-medium", "mistral-small", "codestral", "ministral")),
    "deepseek": ("DeepSeek", ("deepseek-chat", "deepseek-reasoner", "deepseek-coder")),
    "xai": ("xAI", ("grok", "grok-mini", "grok-code-fast")),
    "alibaba": ("Alibaba (Qwen)", ("qwen3-max", "qwen3-coder", "qwen3-235b", "qwq")),
    "cohere": ("Cohere", ("command-r-plus", "command-r", "command-a")),
    "amazon": ("Amazon", ("nova-pro", "nova-lite", "nova-micro")),
    "microsoft": ("Microsoft", ("phi-4", "phi-4-mini")),
    "nvidia": ("NVIDIA", ("nemotron-ultra", "nemotron-super")),
    "ai21": ("AI21", ("jamba-large", "jamba-mini")),
    "kimi": ("Moonshot AI (Kimi)", ("kimi-k2", "kimi-k2-thinking")),
    "zhipu": ("Zhipu AI", ("glm-4.6", "glm-4.5-air")),
    "minimax": ("MiniMax", ("minimax-m2", "minimax-text")),
    "perplexity": ("Perplexity", ("sonar", "sonar-pro", "sonar-reasoning")),
    "ibm": ("IBM", ("granite", "granite-code")),
    "baidu": ("Baidu", ("ernie", "ernie-speed")),
    "bytedance": ("ByteDance", ("doubao-pro", "doubao-lite", "seed-oss")),
}
RESELLERS = (
    "azure",
    "azure_ai",
    "bedrock",
    "bedrock_converse",
    "vertex_ai",
    "openrouter",
    "aihubmix",
    "together_ai",
    "fireworks_ai",
    "groq",
    "cerebras",
    "deepinfra",
    "anyscale",
    "replicate",
    "sambanova",
    "novita",
    "hyperbolic",
    "lambda_ai",
    "nebius",
    "nscale",
    "ovhcloud",
    "scaleway",
    "cloudflare",
    "databricks",
    "snowflake",
    "watsonx",
    "oci",
    "sagemaker",
    "vercel_ai_gateway",
    "github_models",
    "friendliai",
    "featherless_ai",
    "gradient_ai",
    "heroku",
    "llamagate",
    "moonshot_cn",
    "dashscope",
    "volcengine",
    "siliconflow",
    "ppio",
    "baseten",
    "modal",
    "runpod",
    "octoai",
    "predibase",
    "lepton",
    "clarifai",
    "cohere_chat",
    "voyage",
    "jina_ai",
    "infinity",
    "nlp_cloud",
    "aleph_alpha",
    "palm",
    "ai_studio",
    "mistral_azure",
    "codestral_api",
    "text_completion_openai",
    "chutes",
    "inference_net",
    "kluster",
    "parasail",
    "targon",
)
VERSIONS = ("", "-2024-08-06", "-2024-11-20", "-2025-04-14", "-2025-08-07", "-preview", "-latest", "-001")
SIZES = ("", "-instruct", "-turbo", "-fast", "-thinking", "-vision", "-online", "-exp")
WINDOWS = (8192, 16384, 32768, 65536, 128000, 200000, 256000, 400000, 1000000, 2000000)
CAPABILITIES = ("vision", "function-calling", "thinking", "extended-thinking", "image-generation")
CATEGORIES = (
    "coding",
    "reasoning",
    "creative",
    "factual",
    "analysis",
    "conversation",
    "multimodal",
    "research",
)


def _price(rng: random.Random, low: float, high: float) -> str:
    # Prices as exact strings with at most four decimals, as price maps publish them.
    return str(round(rng.uniform(low, high), rng.choice((2, 3, 4)))).rstrip("0").rstrip(".") or "0"


def _entry(rng: random.Random, model_id: str, provider: str, name: str) -> dict[str, Any]:
    premium = rng.random() < 0.2
    input_price = _price(rng, 1.0, 15.0) if premium else _price(rng, 0.02, 3.0)
    output_price = _price(rng, 4.0, 75.0) if premium else _price(rng, 0.05, 12.0)
    capabilities = sorted(
        c for c in CAPABILITIES if rng.random() < (0.08 if c == "image-generation" else 0.4)
    )
    roll = rng.random()
    status = "deprecated" if roll < 0.05 else "beta" if roll < 0.10 else "active"
    window = rng.choice(WINDOWS)
    entry: dict[str, Any] = {
        "id": model_id,
        "provider": provider,
        "name": name,
        "description": f"{name} served by {provider}; {window:,}-token context window.",
        "context_window": window,
        "max_output_tokens": min(window, rng.choice((4096, 8192, 16384, 32768, 65536))),
        "pricing": {"input": input_price, "output": output_price, "cached_input": None, "reasoning": None},
        "capabilities": capabilities,
        "status": status,
        "is_internal_only": rng.random() < 0.02,
    }
    if window >= 1000000 and rng.random() < 0.5:
        entry["pricing"]["tiers"] = [
            {"above_input_tokens": 200000, "input": str(float(input_price) * 2), "output": output_price}
        ]
    if status != "deprecated" and rng.random() < 0.03:
        entry["deprecation_date"] = rng.choice(("2025-06-30", "2027-01-31"))
    return entry


def synthetic_document(size: int, *, seed: int = 5000) -> dict[str, Any]:
    """A catalog document of ``size`` models: ``{"providers": [...], "models": [...]}``, ids unique."""
    rng = random.Random(seed)
    providers = [{"slug": slug, "name": name, "first_party": True} for slug, (name, _) in MAKERS.items()]
    providers += [
        {"slug": slug, "name": slug.replace("_", " ").title(), "first_party": False} for slug in RESELLERS
    ]
    originals: list[tuple[str, str, str]] = []  # (maker, short id, name)
    for maker, (_, families) in MAKERS.items():
        for family in families:
            for version in VERSIONS:
                for size_suffix in SIZES:
                    short = f"{family}{size_suffix}{version}"
                    originals.append((maker, short, short.replace("-", " ").title()))
    originals = sorted(set(originals))
    rng.shuffle(originals)
    models: list[dict[str, Any]] = []
    seen: set[str] = set()
    # A third of the catalog is first-party; the rest are resellers' listings of the same models.
    first_party_count = max(1, size // 3)
    for maker, short, name in originals[:first_party_count]:
        model_id = f"{maker}:{short}"
        seen.add(model_id)
        models.append(_entry(rng, model_id, maker, name))
    listed = [(maker, short, name) for maker, short, name in originals[:first_party_count]]
    attempt = 0
    while len(models) < size:
        attempt += 1
        maker, short, name = rng.choice(listed if rng.random() < 0.8 else originals)
        reseller = rng.choice(RESELLERS)
        style = attempt % 3
        short_id = (
            short if style == 0 else f"{maker}/{short}" if style == 1 else f"{maker}.{short}-v{attempt % 4}"
        )
        model_id = f"{reseller}:{short_id}"
        if model_id in seen:
            continue
        seen.add(model_id)
        models.append(_entry(rng, model_id, reseller, f"{name} ({reseller})"))
    models.sort(key=lambda entry: entry["id"])
    return {"providers": providers, "models": models}


def synthetic_profiles(document: dict[str, Any], *, share: float = 0.5, seed: int = 7) -> dict[str, Any]:
    """Router profiles for ``share`` of the document's models: ``{id: {"quality": q, "scores": {...}}}``."""
    rng = random.Random(seed)
    profiles = {}
    for entry in document["models"]:
        if rng.random() >= share:
            continue
        profiles[entry["id"]] = {
            "quality": rng.randint(40, 98),
            "scores": {category: rng.randint(0, 100) for category in CATEGORIES},
        }
    return profiles
