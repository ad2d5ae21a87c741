"""Model search ranks as users expect, and the index answers exactly what the ranking rules say.

Pure tests: catalogs are built from ``ModelConfig`` objects, no database. The last tests
compare the index with a brute-force restatement of the rules (``reference_search``) on
random catalogs and queries: that restatement is the oracle.
"""

from __future__ import annotations

import dataclasses
import random
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models_registry.domain.catalog_index import CatalogIndex
from models_registry.domain.search_index import SearchIndex
from models_registry.domain.static_catalog import parse_entry
from models_registry.domain.types import ModelConfig

TODAY = datetime.now(UTC).date()
RESELLERS = {"azure", "aihubmix", "openrouter", "bedrock"}


def model(
    model_id: str,
    name: str | None = None,
    *,
    description: str = "",
    status: str = "active",
    internal: bool = False,
    deprecation_date: date | None = None,
    provider_name: str | None = None,
) -> ModelConfig:
    """A catalog model as the static catalog parses it; resellers' models are not first-party."""
    provider = model_id.split(":", 1)[0]
    entry = {
        "id": model_id,
        "provider": provider,
        "name": name or model_id.split(":", 1)[1],
        "description": description,
        "context_window": 128_000,
        "pricing": {"input": "1", "output": "2"},
        "status": status,
        "is_internal_only": internal,
    }
    if deprecation_date is not None:
        entry["deprecation_date"] = deprecation_date.isoformat()
    config = parse_entry(entry)
    return dataclasses.replace(
        config,
        provider_name=provider_name or provider.title(),
        provider_first_party=provider not in RESELLERS,
    )


def ids(models: list[ModelConfig]) -> list[str]:
    return [m.id for m in models]


def search(catalog: list[ModelConfig], query: str, **options) -> list[str]:
    return ids(CatalogIndex.build(catalog).search(query, **options))


# --- The levels --------------------------------------------------------------------------------


def test_levels_exact_id_then_exact_name_then_id_prefix_then_name_prefix_then_word_then_substring():
    catalog = [
        model("acme:a-supernova", "Alpha"),  # substring (in the id, inside a word)
        model("acme:b-1", "Super Nova"),  # word prefix
        model("acme:c-1", "Nova Lite"),  # name prefix
        model("acme:d-1", "Delta", description="a nova of a model"),  # substring (description)
        model("acme:e-1", "Nova"),  # exact name
        model("acme:nova", "Zeta"),  # exact id without its provider prefix
        model("acme:nova-pro", "Omega"),  # id prefix
        model("acme:x-1", "Other"),  # no match
    ]
    assert search(catalog, "nova") == [
        "acme:nova",
        "acme:e-1",
        "acme:nova-pro",
        "acme:c-1",
        "acme:b-1",
        "acme:a-supernova",
        "acme:d-1",
    ]


def test_the_full_id_is_an_id_too():
    catalog = [model("acme:zed", "Zed"), model("acme:a", "Acme Zed"), model("acmex:b")]
    assert search(catalog, "acme:zed") == ["acme:zed", "acme:a"]  # exact id, then exact name
    assert search(catalog, "Acme") == ["acme:a", "acme:zed", "acmex:b"]  # prefixes of the full ids


def test_a_model_appears_once_at_its_best_level():
    catalog = [model("acme:nova", "Nova", description="nova nova"), model("acme:nova-2", "Nova 2")]
    assert search(catalog, "nova") == ["acme:nova", "acme:nova-2"]


def test_words_of_the_name_and_the_provider_are_searched():
    catalog = [
        model("anthropic:claude-sonnet-4.5", "Claude Sonnet 4.5"),
        model("openai:gpt-5", "GPT-5", provider_name="OpenAI"),
        model("acme:thing", "Thing", provider_name="Big Cloud"),
    ]
    assert search(catalog, "sonnet") == ["anthropic:claude-sonnet-4.5"]
    assert search(catalog, "cloud") == ["acme:thing"]  # a word of the provider's name
    assert search(catalog, "4.5") == ["anthropic:claude-sonnet-4.5"]


# --- Ties: first-party, selectable, id ---------------------------------------------------------


def test_first_party_before_reseller_at_the_same_level():
    catalog = [
        model("azure:gpt-5"),
        model("azure:gpt-5-mini"),
        model("openai:gpt-5"),
        model("openai:gpt-5-mini"),
        model("openrouter:openai/gpt-5"),
    ]
    assert search(catalog, "gpt-5") == [
        "openai:gpt-5",  # exact id, first-party
        "azure:gpt-5",  # exact id, reseller
        "openai:gpt-5-mini",  # id prefix
        "azure:gpt-5-mini",
        "openrouter:openai/gpt-5",  # word prefix
    ]


def test_the_maker_of_claude_comes_before_the_aggregators_listing_it():
    catalog = [
        model("aihubmix:claude-sonnet-4.5", "Claude Sonnet 4.5 (aihubmix)"),
        model("anthropic:claude-sonnet-4.5", "Claude Sonnet 4.5"),
        model("anthropic:claude-haiku-4.5", "Claude Haiku 4.5"),
        model("bedrock:anthropic.claude-sonnet-4.5-v1", "Claude Sonnet 4.5 (Bedrock)"),
    ]
    assert search(catalog, "claude") == [
        "anthropic:claude-haiku-4.5",
        "anthropic:claude-sonnet-4.5",
        "aihubmix:claude-sonnet-4.5",
        "bedrock:anthropic.claude-sonnet-4.5-v1",  # only its name starts with "claude"
    ]


def test_unselectable_models_only_when_asked_and_after_the_selectable_ones_of_their_group():
    catalog = [
        model("openai:gpt-4", status="deprecated"),
        model("azure:gpt-4"),
        model("openai:gpt-4-turbo", status="deprecated"),
        model("openai:gpt-4-mini", deprecation_date=TODAY - timedelta(days=1)),
        model("openai:gpt-4o"),
        model("openai:gpt-4-secret", internal=True),
    ]
    assert search(catalog, "gpt-4") == ["azure:gpt-4", "openai:gpt-4o"]
    assert search(catalog, "gpt-4", include_unselectable=True) == [
        "openai:gpt-4",  # exact id: first-party before resellers, even deprecated (issue 12's order)
        "azure:gpt-4",
        "openai:gpt-4o",  # id prefix: selectable first
        "openai:gpt-4-mini",  # past its deprecation date
        "openai:gpt-4-turbo",
    ]
    assert "openai:gpt-4-secret" not in search(catalog, "secret", include_unselectable=True)


def test_unselectable_models_fill_the_limit_in_their_order():
    catalog = [
        model("openai:o1"),
        model("openai:o1-preview", status="deprecated"),
        model("openai:o1-mini", status="deprecated"),
        model("azure:o1-pro", status="deprecated"),
    ]
    assert search(catalog, "o1", include_unselectable=True, limit=3) == [
        "openai:o1",
        "openai:o1-mini",
        "openai:o1-preview",
    ]
    assert search(catalog, "o1", include_unselectable=True, limit=4)[-1] == "azure:o1-pro"


def test_a_deprecation_date_still_ahead_keeps_the_model():
    catalog = [model("openai:o3", deprecation_date=TODAY + timedelta(days=1))]
    assert search(catalog, "o3") == ["openai:o3"]


def test_the_index_follows_the_day():
    catalog = [model("openai:o3", deprecation_date=date(2030, 6, 1)), model("openai:o3-mini")]
    index = SearchIndex(catalog)
    assert ids(index.search("o3", day=date(2030, 5, 31))) == ["openai:o3", "openai:o3-mini"]
    assert ids(index.search("o3", day=date(2030, 6, 1))) == ["openai:o3-mini"]
    assert ids(index.search("o3", day=date(2030, 5, 31))) == ["openai:o3", "openai:o3-mini"]


# --- Query handling ------------------------------------------------------------------------------


def test_limit():
    catalog = [model(f"acme:m-{i}") for i in range(10)]
    assert len(search(catalog, "m", limit=3)) == 3
    assert search(catalog, "m", limit=3) == ["acme:m-0", "acme:m-1", "acme:m-2"]
    assert search(catalog, "m", limit=0) == []
    assert search(catalog, "m", limit=-1) == []
    assert len(search(catalog, "m")) == 10


def test_case_and_surrounding_whitespace_do_not_count():
    catalog = [model("openai:gpt-5", "GPT-5"), model("openai:gpt-5-mini", "GPT-5 mini")]
    expected = ["openai:gpt-5", "openai:gpt-5-mini"]
    assert search(catalog, "  GPT-5\t") == expected
    assert search(catalog, "Gpt-5") == expected


def test_dashes_spaces_dots_and_underscores_are_one_separator():
    catalog = [
        model("google:gemini-flash-lite", "Gemini Flash-Lite"),
        model("google:gemini-2.5-flash", "Gemini 2.5 Flash"),
        model("alibaba:qwen3-coder", "Qwen3 Coder"),
    ]
    assert search(catalog, "gemini flash") == ["google:gemini-flash-lite", "google:gemini-2.5-flash"]
    assert search(catalog, "gemini-flash") == search(catalog, "gemini flash")
    assert search(catalog, "Gemini_Flash.lite") == ["google:gemini-flash-lite"]
    assert search(catalog, "gemini 2.5 flash") == ["google:gemini-2.5-flash"]  # exact id
    assert search(catalog, "flash gemini") == ["google:gemini-2.5-flash", "google:gemini-flash-lite"]
    assert search(catalog, "qwen coder") == ["alibaba:qwen3-coder"]  # every word starts a word


def test_punctuation_at_either_end_of_an_id_or_name_does_not_count():
    catalog = [
        dataclasses.replace(model("acme:x"), id="(acme:gpt", name="-Nova"),
        dataclasses.replace(model("acme:y"), id="(acme:gpt)", name="Nova-"),
        model("acme:gpt-x", "Nova Pro"),
        model("zeta:y", "Nova (beta)"),
    ]
    exact_then_prefix = ["(acme:gpt", "(acme:gpt)", "acme:gpt-x"]
    assert search(catalog, "acme:gpt") == exact_then_prefix  # full ids
    assert search(catalog, "gpt") == exact_then_prefix  # ids without their provider prefix
    assert search(catalog, "nova") == [*exact_then_prefix, "zeta:y"]  # names


def test_empty_query_lists_models_in_ranking_order():
    catalog = [
        model("azure:a"),
        model("openai:b"),
        model("openai:a", status="deprecated"),
        model("anthropic:c"),
        model("acme:hidden", internal=True),
    ]
    assert search(catalog, "") == ["anthropic:c", "openai:b", "azure:a"]
    assert search(catalog, " -- ") == ["anthropic:c", "openai:b", "azure:a"]  # nothing but separators
    assert search(catalog, "", limit=2) == ["anthropic:c", "openai:b"]
    assert search(catalog, "", include_unselectable=True) == [
        "anthropic:c",
        "openai:b",
        "openai:a",  # first-party, then selectable: a deprecated first-party model before a reseller's
        "azure:a",
    ]


def test_no_match():
    catalog = [model("openai:gpt-5", description="The flagship.")]
    assert search(catalog, "xyz") == []
    assert search(catalog, "flagship gpt") == []  # a phrase: its words in this order
    assert search([], "gpt") == []


def test_the_search_index_is_built_on_the_first_search_and_kept():
    index = CatalogIndex.build([model("openai:gpt-5")])
    assert index._search_cache == {}
    index.search("gpt")
    built = index._search_cache["index"]
    index.search("claude", include_unselectable=True)
    assert index._search_cache["index"] is built


# --- The index answers what the rules say: a brute-force oracle ----------------------------------

_WORD = re.compile(r"[^\W_]+")


def _folded(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _level(m: ModelConfig, query: str) -> int | None:
    """The ranking rules, restated one model at a time (0 is best)."""
    full_id, short_id, name = _folded(m.id), _folded(m.id.split(":", 1)[-1]), _folded(m.name)
    provider, provider_name = _folded(m.provider), _folded(m.provider_name)
    if not query or query in (full_id, short_id):
        return 0
    if query == name:
        return 1
    if full_id.startswith(query) or short_id.startswith(query):
        return 2
    if name.startswith(query):
        return 3
    words = f"{full_id} {name} {provider} {provider_name}".split()
    if all(any(word.startswith(part) for word in words) for part in query.split(" ")):
        return 4
    if any(query in text for text in (full_id, name, provider, provider_name, _folded(m.description))):
        return 5
    return None


def reference_search(
    catalog: list[ModelConfig], query: str, limit: int, *, include_unselectable: bool, day: date
) -> list[str]:
    folded = _folded(query)
    ranked = []
    for m in catalog:
        selectable = m.is_selectable_on(day)
        if m.is_internal_only or not (selectable or include_unselectable):
            continue
        level = _level(m, folded)
        if level is not None:
            ranked.append(((level, not m.provider_first_party, not selectable, m.id), m.id))
    return [model_id for _, model_id in sorted(ranked)][: max(limit, 0)]


DAY = date(2030, 1, 15)
FRAGMENTS = [
    "gpt",
    "5",
    "gpt-5",
    "claude",
    "Sonnet",
    "4.5",
    "mini",
    "o3",
    "llama",
    "3.1",
    "flash",
    "Gemini",
    "a",
    "ab",
    "x",
    "2024",
    "straße",
    "É",
    "İ",
    "ǅ",
    "½",
    "azure",
]
SEPARATORS = ["-", ".", "_", "/", " ", ":", ", ", " (", ")", "--", "\x00"]
PROVIDERS = ["openai", "anthropic", "azure", "azure_ai", "aihubmix", "gpt", "a"]


def _text(draw_fragment, draw_separator, draw_count) -> str:
    text = draw_fragment()
    for _ in range(draw_count()):
        text += draw_separator() + draw_fragment()
    return text


@st.composite
def texts(draw, most: int = 3) -> str:
    return _text(
        lambda: draw(st.sampled_from(FRAGMENTS)),
        lambda: draw(st.sampled_from(SEPARATORS)),
        lambda: draw(st.integers(0, most)),
    )


@st.composite
def models(draw) -> ModelConfig:
    provider = draw(st.sampled_from(PROVIDERS))
    short_id = re.sub(r"[^A-Za-z0-9._/-]", "", draw(texts())).lstrip("._/-") or "m"
    # Now and then an id without a provider prefix, or any text: the index takes what it is given.
    model_id = draw(st.sampled_from([f"{provider}:{short_id}"] * 8 + [short_id, f"({draw(texts(2))}"]))
    return dataclasses.replace(
        model(f"{provider}:x"),
        id=model_id,
        name=draw(texts()),
        description=draw(st.one_of(st.just(""), texts(6))),
        provider_name=draw(st.sampled_from(["OpenAI", "Azure AI", "Gpt Inc.", provider])),
        provider_first_party=draw(st.booleans()),
        status=draw(st.sampled_from(["active", "active", "beta", "deprecated"])),
        is_internal_only=draw(st.integers(0, 9)) == 0,
        deprecation_date=draw(
            st.one_of(st.none(), st.integers(-2, 2).map(lambda d: DAY + timedelta(days=d)))
        ),
    )


QUERIES = st.one_of(
    texts(2),
    texts(2).map(str.upper),
    texts(1).map(lambda text: f"  {text[1:]} "),  # inside words, with whitespace around
    st.sampled_from(["", " ", "--", "xyz", "gpt 5", "a b", "pt", "openai:gpt-5", "azure gpt"]),
    st.text(max_size=6),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    catalog=st.lists(models(), max_size=25, unique_by=lambda m: m.id),
    queries=st.lists(QUERIES, min_size=1, max_size=4),
    limit=st.integers(-1, 30),
    include_unselectable=st.booleans(),
    days=st.lists(st.integers(-3, 3), min_size=1, max_size=3),
)
def test_the_index_gives_what_the_rules_say(catalog, queries, limit, include_unselectable, days):
    index = SearchIndex(catalog)
    for query in queries:
        for offset in days:  # one index, several days: it follows the day
            day = DAY + timedelta(days=offset)
            found = ids(index.search(query, limit, include_unselectable=include_unselectable, day=day))
            assert found == reference_search(
                catalog, query, limit, include_unselectable=include_unselectable, day=day
            ), query


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_index_gives_what_the_rules_say_on_large_catalogs(seed):
    """Large catalogs of few words: long posting lists, wide prefix ranges, kept rankings."""
    rng = random.Random(seed)

    def text(most: int) -> str:
        return _text(
            lambda: rng.choice(FRAGMENTS), lambda: rng.choice(SEPARATORS[:-1]), lambda: rng.randint(0, most)
        )

    catalog = {}
    for number in range(rng.randint(800, 1500)):
        provider = rng.choice(PROVIDERS)
        short_id = re.sub(r"[^A-Za-z0-9._/-]", "", text(2)).lstrip("._/-") or "m"
        config = dataclasses.replace(
            model(f"{provider}:{short_id}-{number}", text(3), description=text(5)),
            provider_first_party=rng.random() < 0.4,
            status=rng.choice(["active", "beta", "deprecated"]),
            is_internal_only=rng.random() < 0.05,
            deprecation_date=rng.choice([None, None, None, DAY, DAY + timedelta(days=1)]),
        )
        catalog[config.id] = config
    catalog = list(catalog.values())
    index = SearchIndex(catalog)
    queries = ["", "g", "a", "5", "x", "gpt", "gpt 5", "a b", "pt", "s", "flash gemini", "straße", "xyz"]
    queries += [text(1) for _ in range(15)]
    for query in queries:
        for limit, include_unselectable in ((20, False), (700, True)):
            for _ in range(2):  # the second time from the kept rankings
                found = ids(index.search(query, limit, include_unselectable=include_unselectable, day=DAY))
                assert found == reference_search(
                    catalog, query, limit, include_unselectable=include_unselectable, day=DAY
                ), query
