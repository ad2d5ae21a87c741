"""The bounded decision path (routing index + threshold search) against the exhaustive ``decide()``.

``route()`` decides over a per-snapshot routing index and keeps only the best
candidates; it must choose exactly what checking and scoring every model
chooses, keep exactly the exhaustive top candidates, and count the exclusions
exactly. Pure tests on random catalogs, then the size of a decision at 5,000
models, the index cache, and ``route()`` end to end on a 5,000-model database.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from autorouter import routing_index
from autorouter.defaults import DEFAULT_SETTINGS
from autorouter.engine import decide
from autorouter.routing_index import (
    DIRECT_LIMIT,
    KEPT_CANDIDATES,
    RoutingIndex,
    clear_routing_indexes,
    decide_bounded,
    routing_index_for,
)
from autorouter.types import CATEGORIES, COMPLEXITIES, Classification, Profile, RouterSettings
from models_registry.domain.static_catalog import parse_catalog

from .conftest import make_classification, make_model, make_profile

TODAY = datetime.now(UTC).date()
MAX_DECISION_BYTES = 20_000

# Small value sets: many ties (equal scores, broken by model id) and prices on the tier thresholds.
PRICES = ("0", "0.2", "0.9", "1", "1.5", "3", "5", "8", "30")
WINDOWS = (8_000, 32_000, 100_000, 128_000, 200_000, 1_000_000)
SCORES = (0, 40, 60, 70, 80, 90, 100)
QUALITIES = (30, 70, 84, 85, 86, 100)
PROVIDERS = ("x", "acme", "perplexity", "groq")
SUFFIXES = ("", "", "-flash", "-lite", "-nano", "-thinking", "-fast", "-pro")
WEIGHTS = (
    ("0.6", "0.25", "0.15"),
    ("0.3", "0.4", "0.3"),
    ("0", "1", "0"),
    ("1", "0", "0"),
    ("0", "0", "1"),
    ("0.5", "0", "0.5"),
)


def random_catalog(rng: random.Random, size: int) -> tuple[tuple, dict[str, Profile]]:
    models = []
    for number in range(size):
        provider = rng.choice(PROVIDERS)
        capabilities = tuple(
            capability
            for capability, share in (("vision", 0.4), ("image-generation", 0.1), ("thinking", 0.4))
            if rng.random() < share
        )
        model = make_model(
            f"{provider}:m{number:03d}{rng.choice(SUFFIXES)}",
            (rng.choice(PRICES), rng.choice(PRICES)),
            capabilities=capabilities,
            context_window=rng.choice(WINDOWS),
            status=rng.choices(("active", "beta", "deprecated"), weights=(80, 10, 10))[0],
            internal=rng.random() < 0.05,
            pro=rng.random() < 0.15,
            hosts=rng.choice(((), (), ("groq",), ("cerebras", "groq"))),
        )
        if rng.random() < 0.1:  # from today on, a deprecation date makes a model unselectable
            model = replace(model, deprecation_date=TODAY + timedelta(days=rng.choice((-3, 0, 1, 30))))
        models.append(model)
    rng.shuffle(models)
    profiles = {
        model.id: Profile(
            quality=rng.choice(QUALITIES),
            # A missing category scores 0.
            scores={category: rng.choice(SCORES) for category in CATEGORIES if rng.random() < 0.95},
        )
        for model in models
        if rng.random() < 0.5
    }
    return tuple(models), profiles


def random_settings(rng: random.Random, catalog: tuple) -> RouterSettings:
    cheap = rng.choice((Decimal(0), Decimal(1), Decimal(2)))
    return replace(
        DEFAULT_SETTINGS,
        stickiness_bonus=rng.choice((0.0, 5.0, 25.0, 80.0)),
        reasoning_bonus=rng.choice((0.0, 15.0, 40.0)),
        research_bonus=rng.choice((0.0, 25.0)),
        simple_penalty=rng.choice((0.0, 0.7, 1.0, 1.3)),
        complex_boost_threshold=rng.choice((0, 85, 101)),
        complex_boost_multiplier=rng.choice((0.5, 1.0, 1.2, 2.0)),
        cheap_threshold=cheap,
        mid_threshold=cheap + rng.choice((Decimal(0), Decimal(3), Decimal(8))),
        tier_weights={
            complexity: dict(zip(("cheap", "mid", "premium"), map(Decimal, rng.choice(WEIGHTS)), strict=True))
            for complexity in COMPLEXITIES
        },
        speed_bonuses=rng.choice(
            (
                DEFAULT_SETTINGS.speed_bonuses,
                (),
                (("flash", 8.0), ("groq", 30.0), ("thinking", -20.0), ("nano", 1.0), ("lite", 2.5)),
            )
        ),
        context_buffer=rng.choice((Decimal(1), Decimal("1.2"))),
        long_context_threshold=rng.choice((100_000, 128_000, 500_000)),
        secondary_share=rng.choice((0.0, 0.3, 1.0)),
        cost_penalty_points=rng.choice((0.0, 10.0, 40.0)),
        research_providers=rng.choice((("perplexity",), (), ("perplexity", "acme"))),
        fallback_model_id=rng.choice(("openai:gpt-5-mini", catalog[0].id if catalog else "x:none")),
    )


def random_classification(rng: random.Random) -> Classification:
    primary = rng.choice(CATEGORIES)
    high_stakes = rng.random() < 0.15
    return make_classification(
        primary=primary,
        secondary=rng.choice((None, None, primary, *CATEGORIES)),
        complexity=rng.choice(COMPLEXITIES),
        needs_vision=rng.random() < 0.25,
        needs_long_context=rng.random() < 0.2,
        needs_image_generation=rng.random() < 0.1,
        needs_reasoning=rng.random() < 0.4,
        high_stakes=high_stakes,
        domain="medical" if high_stakes else None,
        action=rng.choice(("keep", "change")),
    )


def random_call(rng: random.Random, catalog: tuple, number: int) -> dict:
    ids = [model.id for model in catalog]
    return {
        "classification": random_classification(rng),
        "previous_model_id": rng.choice((None, "x:gone", *(rng.sample(ids, min(3, len(ids)))))),
        "context_tokens": rng.choice((0, 0, 5_000, 80_000, 100_000, 150_000, 900_000)),
        "cost_bias": rng.choice((0, 50, 50, 100, rng.randint(0, 100))),
        "speed_bias": rng.choice((0, 50, 50, 100, rng.randint(0, 100))),
        "exclude": [
            *rng.sample(ids, min(rng.choice((0, 0, 1, 4)), len(ids))),
            *(["x:gone"] * rng.randint(0, 1)),
        ],
        "seed_key": f"conversation-{number}",
    }


def ranked(decision) -> list[tuple[str, float]]:
    return [(candidate.model_id, candidate.score) for candidate in decision.candidates]


def assert_same_decision(bounded, exhaustive, *, keep: int, call: dict) -> None:
    """Same choice, counts and explanation; the kept candidates are the exhaustive top ones."""
    lists = ("candidates", "excluded")
    assert {k: v for k, v in bounded.to_dict().items() if k not in lists} == {
        k: v for k, v in exhaustive.to_dict().items() if k not in lists
    }
    assert bounded.model is exhaustive.model
    assert exhaustive.eligible_count == len(exhaustive.candidates)
    assert sum(exhaustive.excluded_counts.values()) == len(exhaustive.excluded)

    everything = ranked(exhaustive)
    kept = ranked(bounded)
    assert kept[:keep] == everything[:keep]
    # Beyond the top ones: the chosen and the previous models, if they rank lower (in rank order).
    extra = {exhaustive.model_id if not exhaustive.is_fallback else None, call["previous_model_id"]}
    assert kept[keep:] == [item for item in everything[keep:] if item[0] in extra]
    by_id = {candidate.model_id: candidate for candidate in exhaustive.candidates}
    for candidate in bounded.candidates:  # the same breakdown, term by term
        assert candidate.to_dict() == by_id[candidate.model_id].to_dict()

    named = {*call["exclude"], call["previous_model_id"]}
    assert [exclusion.to_dict() for exclusion in bounded.excluded] == [
        exclusion.to_dict() for exclusion in exhaustive.excluded if exclusion.model_id in named
    ]


def test_the_bounded_path_decides_as_the_exhaustive_one_on_random_catalogs(monkeypatch):
    # Count which ways the bounded path went: every one of them must have been compared.
    paths = {"walk": 0, "direct": 0, "tier walk": 0, "sticky": 0, "fallback": 0}
    search, score_all = routing_index._Search, routing_index._score_all

    class CountingSearch(search):
        def best(self, *args, **kwargs):
            paths["walk"] += 1
            return super().best(*args, **kwargs)

        def best_in(self, *args, **kwargs):
            paths["tier walk"] += 1
            return super().best_in(*args, **kwargs)

    def counting_score_all(*args, **kwargs):
        paths["direct"] += 1
        return score_all(*args, **kwargs)

    monkeypatch.setattr(routing_index, "_Search", CountingSearch)
    monkeypatch.setattr(routing_index, "_score_all", counting_score_all)

    rng = random.Random(20260612)
    compared = 0
    for catalog_number in range(250):
        size = rng.choice((0, 3, 40, 150, 300, 400))
        catalog, profiles = random_catalog(rng, size)
        settings = random_settings(rng, catalog)
        user_tier = rng.choice(("free", "pro"))
        index = RoutingIndex.build(catalog, profiles, settings, day=TODAY, user_tier=user_tier)
        for message_number in range(10):
            call = random_call(rng, catalog, message_number)
            keep = rng.choice((1, 3, KEPT_CANDIDATES))
            message = f"message {catalog_number}-{message_number}"
            exhaustive = decide(
                message,
                catalog=catalog,
                profiles=profiles,
                settings=settings,
                today=TODAY,
                user_tier=user_tier,
                **call,
            )
            bounded = decide_bounded(message, index=index, keep=keep, **call)
            assert_same_decision(bounded, exhaustive, keep=keep, call=call)
            paths["sticky"] += exhaustive.sticky
            paths["fallback"] += exhaustive.is_fallback
            compared += 1
    assert compared == 2500
    assert min(paths.values()) >= 20, paths


def test_ties_are_broken_by_model_id_as_in_the_exhaustive_ranking(defaults):
    # 60 identical models: every score ties, so the ranking is by id alone.
    catalog = tuple(make_model(f"x:m{number:02d}", "2") for number in range(60))
    profiles = {model.id: make_profile() for model in catalog}
    index = RoutingIndex.build(catalog, profiles, defaults, day=TODAY)
    bounded = decide_bounded("hello", index=index, classification=make_classification())
    assert [c.model_id for c in bounded.candidates] == [f"x:m{number:02d}" for number in range(20)]
    assert bounded.model_id == "x:m00" and bounded.eligible_count == 60


def test_a_deprecation_date_counts_from_its_utc_day(defaults):
    catalog = (
        replace(make_model("x:retiring"), deprecation_date=TODAY + timedelta(days=1)),
        make_model("x:ok"),
    )
    profiles = {model.id: make_profile() for model in catalog}
    today = routing_index_for(catalog, profiles, defaults, day=TODAY)
    tomorrow = routing_index_for(catalog, profiles, defaults, day=TODAY + timedelta(days=1))
    assert set(today.routable) == {"x:retiring", "x:ok"}
    assert set(tomorrow.routable) == {"x:ok"}
    assert dict(
        decide_bounded("hi", index=tomorrow, classification=make_classification()).excluded_counts
    ) == {"status": 1}


def test_a_scheduled_price_moves_the_model_to_its_tier_when_it_takes_effect(defaults):
    """No write happens when a scheduled price takes effect: the index and the features must see it."""
    from models_registry.domain.values import Pricing, ScheduledPrice

    now = datetime.now(UTC)
    premium = make_model("x:dropping", "50")
    cheap_from = now + timedelta(hours=1)
    dropping = replace(
        premium,
        price_schedule=(ScheduledPrice(cheap_from, Pricing(input=Decimal("0.01"), output=Decimal("0.01"))),),
    )
    catalog = (dropping, make_model("x:other", "0.5"))
    profiles = {model.id: make_profile() for model in catalog}
    before = routing_index_for(catalog, profiles, defaults, day=TODAY, now=now)
    assert before.routable["x:dropping"].tier == "premium" and before.prices_until == cheap_from
    assert (
        routing_index_for(catalog, profiles, defaults, day=TODAY, now=now + timedelta(minutes=59)) is before
    )
    after = routing_index_for(catalog, profiles, defaults, day=TODAY, now=cheap_from + timedelta(seconds=1))
    assert after is not before


def test_the_routers_features_follow_a_scheduled_price_of_the_same_model_object(defaults):
    import time

    from autorouter.scoring import features_for
    from models_registry.domain.values import Pricing, ScheduledPrice

    soon = datetime.now(UTC) + timedelta(seconds=0.5)
    dropping = replace(
        make_model("x:dropping", "50"),
        price_schedule=(ScheduledPrice(soon, Pricing(input=Decimal("0.01"), output=Decimal("0.01"))),),
    )
    assert features_for(dropping, defaults).tier == "premium"
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
    assert features_for(dropping, defaults).tier == "cheap"  # same object, no write: the price took effect


def test_the_bounded_decision_lists_only_the_named_exclusions(defaults):
    catalog = (
        make_model("x:failed"),
        make_model("x:blind"),
        make_model("x:old", status="deprecated"),
        make_model("x:eyes", capabilities=("vision",)),
    )
    profiles = {model.id: make_profile() for model in catalog}
    index = RoutingIndex.build(catalog, profiles, defaults, day=TODAY)
    decision = decide_bounded(
        "what is in this picture?",
        index=index,
        classification=make_classification(needs_vision=True),
        previous_model_id="x:blind",
        exclude=["x:failed", "x:unknown"],
    )
    assert decision.model_id == "x:eyes"
    assert [(e.model_id, e.reason) for e in decision.excluded] == [
        ("x:blind", "vision"),
        ("x:failed", "excluded"),
    ]
    assert dict(decision.excluded_counts) == {"excluded": 1, "status": 1, "vision": 1}
    assert decision.eligible_count == 1
    assert "1 eligible, 3 left out" in decision.explanation


# --- a 5,000-model catalog ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_catalog():
    """The synthetic 5,000-model catalog, half of it without a profile."""
    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    from synthetic_catalog import synthetic_document, synthetic_profiles

    document = synthetic_document(5000)
    models = tuple(parse_catalog(document).models)
    profiles = {
        model_id: Profile(quality=values["quality"], scores=values["scores"])
        for model_id, values in synthetic_profiles(document, share=0.5).items()
    }
    return models, profiles


def test_a_decision_stays_small_at_5000_models(big_catalog, defaults):
    catalog, profiles = big_catalog
    assert len(catalog) == 5000 and len(profiles) < 2600
    index = RoutingIndex.build(catalog, profiles, defaults, day=TODAY)
    rng = random.Random(5000)
    sizes = []
    for number in range(200):
        call = random_call(rng, catalog, number)
        decision = decide_bounded(f"message {number}", index=index, **call)
        sizes.append(len(json.dumps(decision.to_dict())))
        if number % 20 == 0:  # the exhaustive decide() is the slow one: compare a sample
            exhaustive = decide(
                f"message {number}",
                catalog=catalog,
                profiles=profiles,
                settings=defaults,
                today=TODAY,
                **call,
            )
            assert_same_decision(decision, exhaustive, keep=KEPT_CANDIDATES, call=call)
            assert len(json.dumps(exhaustive.to_dict())) > 20 * MAX_DECISION_BYTES  # lists every model
    assert max(sizes) <= MAX_DECISION_BYTES, max(sizes)


def test_few_eligible_models_are_scored_directly(big_catalog, defaults):
    catalog, profiles = big_catalog
    # Images and a 2M window: a few dozen of the profiled models (the others would take derived
    # profiles and be eligible too).
    catalog = tuple(model for model in catalog[:2000] if model.id in profiles)
    index = RoutingIndex.build(catalog, profiles, defaults, day=TODAY)
    classification = make_classification(needs_vision=True, needs_long_context=True, primary="coding")
    call = {"classification": classification, "context_tokens": 1_500_000, "seed_key": "k"}
    bounded = decide_bounded("a huge document with images", index=index, **call)
    exhaustive = decide(
        "a huge document with images",
        catalog=catalog,
        profiles=profiles,
        settings=defaults,
        today=TODAY,
        **call,
    )
    assert 0 < bounded.eligible_count <= DIRECT_LIMIT
    assert_same_decision(
        bounded, exhaustive, keep=KEPT_CANDIDATES, call={**call, "exclude": (), "previous_model_id": None}
    )


# --- the cache ------------------------------------------------------------------------------


def test_the_routing_index_is_reused_for_the_same_snapshot_and_rebuilt_for_a_new_one(defaults, with_settings):
    clear_routing_indexes()
    catalog = (make_model("x:a"), make_model("x:b"))
    profiles = {"x:a": make_profile()}
    first = routing_index_for(catalog, profiles, defaults, day=TODAY)
    assert routing_index_for(catalog, profiles, defaults, day=TODAY) is first

    rebuilt_catalog = (catalog[0], make_model("x:b"))  # equal models, a new snapshot
    assert routing_index_for(rebuilt_catalog, profiles, defaults, day=TODAY) is not first
    assert routing_index_for(catalog, dict(profiles), defaults, day=TODAY) is not first
    assert routing_index_for(catalog, profiles, with_settings(stickiness_bonus=1.0), day=TODAY) is not first
    # The database's and the defaults' snapshots stay live side by side.
    assert routing_index_for(catalog, profiles, defaults, day=TODAY) is first

    tomorrow = routing_index_for(catalog, profiles, defaults, day=TODAY + timedelta(days=1))
    assert tomorrow is not first and tomorrow.day == TODAY + timedelta(days=1)
    assert first not in routing_index._indexes  # the same snapshot's earlier day is dropped
    for number in range(routing_index.INDEXES_KEPT):
        routing_index_for((make_model(f"x:{number}"),), profiles, defaults, day=TODAY)
    assert len(routing_index._indexes) == routing_index.INDEXES_KEPT
    assert tomorrow not in routing_index._indexes  # the oldest ones are let go
    clear_routing_indexes()


CODING = "Write a Python function that parses ISO dates"


def test_route_builds_the_index_once_per_snapshot(
    router_db, database_source, monkeypatch, django_capture_on_commit_callbacks
):
    from autorouter import route
    from models_registry.catalog.services import duplicate_model
    from models_registry.models import AIModel

    clear_routing_indexes()
    builds = []
    build = RoutingIndex.build.__func__

    def counting_build(cls, *args, **kwargs):
        builds.append(args[0])
        return build(cls, *args, **kwargs)

    monkeypatch.setattr(RoutingIndex, "build", classmethod(counting_build))
    route(CODING, subject=1)
    route("What is the capital of Australia?", subject=2, previous_model_id="openai:gpt-5")
    assert len(builds) == 1
    with django_capture_on_commit_callbacks(execute=True):  # a catalog write: a new snapshot
        duplicate_model(
            AIModel.objects.get(model_id="openai:gpt-5"),
            new_model_id="acme:coder-1",
            new_name="Acme Coder",
            user=None,
            reason="new vendor",
        )
    route(CODING, subject=1)
    assert len(builds) == 2
    assert "acme:coder-1" in {model.id for model in builds[1]}
    clear_routing_indexes()


def test_route_at_5000_models_keeps_the_decision_small_and_runs_no_query(
    router_db, database_source, settings, django_assert_num_queries
):
    from autorouter import route
    from tests.scale import bulk_catalog

    settings.REGISTRY_REFRESH_SECONDS = 3600
    bulk_catalog(5000, profiles_share=0.5)
    first = route(CODING, subject=1)  # builds the snapshots and the routing index
    assert first.eligible_count > 1000
    with django_assert_num_queries(0):
        decisions = [
            route(CODING, subject=1, previous_model_id="openai:gpt-5"),
            route("thanks, can you make it shorter?", subject=2, previous_model_id=first.model_id),
            route("What is in this picture?", subject=3, has_attachments=True, context_tokens=90_000),
            route("What dose of ibuprofen is safe with my blood pressure medication?", subject=4),
        ]
    for decision in [first, *decisions]:
        assert decision.model is not None and decision.model.id == decision.model_id
        assert len(decision.candidates) <= KEPT_CANDIDATES + 2
        assert len(json.dumps(decision.to_dict())) <= MAX_DECISION_BYTES
    assert decisions[1].sticky


def test_route_with_state_can_decide_exhaustively(router_db, database_source):
    from autorouter.router import route_with_state
    from autorouter.state import database_state

    state = database_state()
    arguments = {"previous_model_id": "openai:gpt-5", "exclude": ["openai:gpt-5-mini"], "seed_key": "k"}
    bounded = route_with_state(state, CODING, **arguments)
    exhaustive = route_with_state(state, CODING, exhaustive=True, **arguments)
    assert_same_decision(bounded, exhaustive, keep=KEPT_CANDIDATES, call=arguments)
    assert len(exhaustive.excluded) == sum(exhaustive.excluded_counts.values()) > len(bounded.excluded)
