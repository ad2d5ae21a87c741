"""The routing pipeline on hand-made catalogs: determinism, tiers, stickiness, eligibility, fallbacks."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from autorouter.engine import decide

from .conftest import make_classification, make_model, make_profile


def route(catalog, profiles, settings, message="a message", **kwargs):
    classification = kwargs.pop("classification", make_classification())
    return decide(
        message,
        catalog=catalog,
        profiles=profiles,
        settings=settings,
        classification=classification,
        **kwargs,
    )


def excluded(decision):
    return {exclusion.model_id: exclusion.reason for exclusion in decision.excluded}


def test_same_inputs_and_seed_key_give_the_same_decision(defaults, three_tiers):
    catalog, profiles = three_tiers
    first = route(catalog, profiles, defaults, seed_key="conversation-42")
    again = route(catalog, profiles, defaults, seed_key="conversation-42")
    assert first.to_dict() == again.to_dict()


def test_without_a_seed_key_the_message_fixes_the_roll(defaults, three_tiers):
    catalog, profiles = three_tiers
    assert (
        route(catalog, profiles, defaults, "hello").roll == route(catalog, profiles, defaults, "hello").roll
    )
    rolls = {route(catalog, profiles, defaults, f"message {i}").roll for i in range(20)}
    assert len(rolls) == 20


@pytest.mark.parametrize("complexity", ["simple", "moderate", "complex"])
def test_over_10000_keys_tier_shares_follow_the_weights(defaults, three_tiers, complexity):
    defaults = replace(defaults, tier_mode="roll")  # the weighted roll
    catalog, profiles = three_tiers
    classification = make_classification(complexity=complexity)
    counts = Counter(
        route(catalog, profiles, defaults, classification=classification, seed_key=f"user-{i}").tier
        for i in range(10_000)
    )
    for tier, weight in defaults.tier_weights[complexity].items():
        assert abs(counts[tier] / 10_000 - float(weight)) <= 0.02, (tier, counts)


def test_the_best_score_in_the_tier_wins_never_a_random_pick(defaults):
    defaults = replace(defaults, tier_mode="roll")  # the weighted roll
    catalog = [make_model("x:weak", "0.5"), make_model("x:strong", "0.5"), make_model("x:mid", "2")]
    profiles = {
        "x:weak": make_profile(conversation=60),
        "x:strong": make_profile(conversation=90),
        "x:mid": make_profile(conversation=99),
    }
    cheap_picks = {
        decision.model_id
        for decision in (route(catalog, profiles, defaults, seed_key=f"k{i}") for i in range(300))
        if decision.tier == "cheap"
    }
    assert cheap_picks == {"x:strong"}


def test_ties_go_to_the_smallest_model_id(defaults):
    catalog = [make_model("x:b", "0.5"), make_model("x:a", "0.5"), make_model("x:c", "0.5")]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, defaults)
    assert decision.model_id == "x:a"
    assert [c.model_id for c in decision.candidates] == ["x:a", "x:b", "x:c"]


def test_candidates_carry_the_score_breakdown(defaults):
    catalog = [make_model("x:model-flash", "0.5")]
    profiles = {"x:model-flash": make_profile(quality=90, coding=80, analysis=50)}
    classification = make_classification(primary="coding", secondary="analysis", complexity="complex")
    candidate = route(catalog, profiles, defaults, classification=classification).candidates[0]
    terms = {term.name: term for term in candidate.terms}
    assert set(terms) == {"category", "complexity", "cost", "speed"}
    assert terms["category"].detail == "coding 80 + 0.3 x analysis 50"
    assert candidate.score == pytest.approx(sum(term.points for term in candidate.terms))


# --- stickiness ---------------------------------------------------------------


def test_keep_sticks_to_the_previous_model_even_if_another_scores_higher(defaults, three_tiers):
    catalog, profiles = three_tiers
    profiles = {**profiles, "x:cheap": make_profile(conversation=99)}
    keep = make_classification(action="keep")
    decision = route(catalog, profiles, defaults, classification=keep, previous_model_id="x:premium")
    assert decision.model_id == "x:premium"
    assert decision.sticky
    assert "stays on it" in decision.explanation


def test_change_does_not_stick(defaults, three_tiers):
    defaults = replace(defaults, tier_mode="roll")  # the weighted roll
    catalog, profiles = three_tiers
    change = make_classification(action="change")
    decisions = [
        route(
            catalog, profiles, defaults, classification=change, previous_model_id="x:premium", seed_key=f"{i}"
        )
        for i in range(30)
    ]
    assert not any(decision.sticky for decision in decisions)
    assert {decision.model_id for decision in decisions} > {"x:premium"}


def test_keep_is_ignored_when_the_previous_model_is_no_longer_eligible(defaults, three_tiers):
    catalog, profiles = three_tiers
    keep = make_classification(action="keep", needs_vision=True)
    catalog = [*catalog, make_model("x:eyes", "0.5", capabilities=("vision",))]
    profiles = {**profiles, "x:eyes": make_profile()}
    decision = route(catalog, profiles, defaults, classification=keep, previous_model_id="x:premium")
    assert not decision.sticky
    assert decision.model_id == "x:eyes"
    assert excluded(decision)["x:premium"] == "vision"


def test_keep_wins_over_high_stakes(defaults, three_tiers):
    catalog, profiles = three_tiers
    keep = make_classification(action="keep", high_stakes=True, domain="medical")
    decision = route(catalog, profiles, defaults, classification=keep, previous_model_id="x:cheap")
    assert decision.model_id == "x:cheap"
    assert decision.sticky


# --- eligibility: one test per rule -----------------------------------------------


def test_deprecated_models_are_left_out(defaults):
    catalog = [
        make_model("x:old", status="deprecated"),
        make_model("x:beta", status="beta"),
        make_model("x:ok"),
    ]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, defaults)
    assert excluded(decision) == {"x:old": "status"}
    assert {c.model_id for c in decision.candidates} == {"x:beta", "x:ok"}


def test_models_past_their_deprecation_date_are_left_out_and_those_before_it_are_not(defaults):
    today = datetime.now(UTC).date()
    catalog = [
        replace(make_model("x:retired"), deprecation_date=today, successor="x:ok"),
        replace(make_model("x:retiring"), deprecation_date=today + timedelta(days=1)),
        make_model("x:ok"),
    ]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, defaults)
    assert excluded(decision) == {"x:retired": "status"}
    assert {c.model_id for c in decision.candidates} == {"x:retiring", "x:ok"}


def test_internal_only_models_are_left_out(defaults):
    catalog = [make_model("x:ops", internal=True), make_model("x:ok")]
    profiles = {model.id: make_profile() for model in catalog}
    assert excluded(route(catalog, profiles, defaults)) == {"x:ops": "internal_only"}


def test_excluded_models_are_left_out(defaults):
    catalog = [make_model("x:failed"), make_model("x:ok")]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, defaults, exclude=["x:failed"])
    assert excluded(decision) == {"x:failed": "excluded"}
    assert decision.model_id == "x:ok"


def test_a_model_without_a_profile_is_routed_with_a_derived_one(defaults):
    """A model added by form, import or sync is routable at once, and says its profile is derived."""
    catalog = [make_model("x:new", "5"), make_model("x:ok", "5")]
    decision = route(catalog, {"x:ok": make_profile(quality=40, default=40)}, defaults)
    assert excluded(decision) == {}
    new = next(candidate for candidate in decision.candidates if candidate.model_id == "x:new")
    assert new.profile.derived == "mean of 1 x premium-tier profile(s)"
    assert new.to_dict()["derived_profile"] == "mean of 1 x premium-tier profile(s)"
    assert new.profile.quality == 40 and new.profile.score("coding") == 40
    ok = next(candidate for candidate in decision.candidates if candidate.model_id == "x:ok")
    assert ok.to_dict()["derived_profile"] is None


def test_derived_profiles_follow_the_documented_rules_in_order(defaults):
    from autorouter.derived import with_derived_profiles

    catalog = [
        make_model("openai:gpt-9", "5"),
        make_model("azure:gpt-9", "5"),  # 1. the same model elsewhere
        make_model("openai:gpt-9-pro", "6"),  # 2. its provider's premium-tier profiles
        make_model("openai:gpt-9-lite", "0.1"),  # 3. the cheap tier's (openai has no cheap profile)
        make_model("acme:cheap-one", "0.1"),
        make_model("newco:big", "6"),  # 3. the premium tier's mean
        make_model("newco:mid", "1.5"),  # 4. nothing profiled in the mid tier: neutral
    ]
    given = {
        "openai:gpt-9": make_profile(quality=90, default=80, coding=95),
        "acme:cheap-one": make_profile(quality=41, default=30),
    }
    completed = with_derived_profiles(catalog, given, defaults)
    assert completed["openai:gpt-9"] is given["openai:gpt-9"]  # an editor's profile always wins
    assert completed["azure:gpt-9"].derived == "same model as openai:gpt-9"
    assert completed["azure:gpt-9"].scores == given["openai:gpt-9"].scores
    assert completed["openai:gpt-9-pro"].derived == "mean of 1 openai premium-tier profile(s)"
    assert completed["openai:gpt-9-lite"].derived == "mean of 1 cheap-tier profile(s)"
    assert completed["openai:gpt-9-lite"].quality == 41
    assert completed["newco:big"].derived == "mean of 1 premium-tier profile(s)"
    assert (completed["newco:mid"].derived, completed["newco:mid"].quality) == ("neutral default", 50)
    assert with_derived_profiles(catalog, given, defaults) == completed  # deterministic


def test_context_window_must_fit_the_context_with_the_buffer(defaults):
    catalog = [make_model("x:120k", context_window=120_000), make_model("x:119k", context_window=119_999)]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, defaults, context_tokens=100_000)  # 100,000 x 1.2
    assert excluded(decision) == {"x:119k": "context_window"}
    assert "119,999 < 120,000" in decision.excluded[0].detail


def test_vision_is_required_for_images(defaults):
    catalog = [make_model("x:blind"), make_model("x:eyes", capabilities=("vision",))]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, defaults, classification=make_classification(needs_vision=True))
    assert excluded(decision) == {"x:blind": "vision"}


def test_long_context_needs_the_long_context_threshold(defaults):
    catalog = [make_model("x:short", context_window=100_000), make_model("x:long", context_window=128_000)]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, defaults, classification=make_classification(needs_long_context=True))
    assert excluded(decision) == {"x:short": "long_context"}


def test_image_generation_models_only_when_an_image_is_asked_for(defaults):
    catalog = [
        make_model("x:painter", capabilities=("image-generation", "vision")),
        make_model("x:seer", capabilities=("vision",)),
        make_model("x:writer"),
    ]
    profiles = {model.id: make_profile() for model in catalog}
    text = route(catalog, profiles, defaults, classification=make_classification(primary="creative"))
    assert excluded(text) == {"x:painter": "image_generation"}
    # Understanding an attached image is vision: never an image-generation model (both are
    # "multimodal" tasks, not the same need).
    looking = make_classification(primary="multimodal", needs_vision=True)
    assert excluded(route(catalog, profiles, defaults, classification=looking)) == {
        "x:painter": "image_generation",
        "x:writer": "vision",
    }
    drawing = make_classification(primary="multimodal", needs_image_generation=True)
    decision = route(catalog, profiles, defaults, classification=drawing)
    assert decision.model_id == "x:painter"
    assert excluded(decision) == {"x:seer": "no_image_generation", "x:writer": "no_image_generation"}


def test_pro_models_are_routed_to_pro_users_only_and_internal_ones_never(defaults):
    catalog = [
        make_model("x:pro", "5", pro=True),
        make_model("x:internal", "5", internal=True),
        make_model("x:open", "5"),
    ]
    profiles = {
        "x:pro": make_profile(quality=99, default=99),
        "x:internal": make_profile(quality=99, default=99),
    }
    profiles["x:open"] = make_profile()
    free = route(catalog, profiles, defaults)
    assert free.model_id == "x:open"
    assert excluded(free) == {"x:pro": "pro_only", "x:internal": "internal_only"}
    assert "free tier" in str(free.to_dict()["excluded"])
    pro = route(catalog, profiles, defaults, user_tier="pro")
    assert pro.model_id == "x:pro"
    assert excluded(pro) == {"x:internal": "internal_only"}
    assert pro.inputs["user_tier"] == "pro"


# --- tiers and fallbacks ---------------------------------------------------------


def test_high_stakes_goes_to_premium(defaults, three_tiers):
    catalog, profiles = three_tiers
    high = make_classification(high_stakes=True, domain="legal")
    tiers = {route(catalog, profiles, defaults, classification=high, seed_key=f"{i}").tier for i in range(50)}
    assert tiers == {"premium"}


def test_an_empty_tier_falls_back_to_the_nearest_non_empty_one(defaults):
    defaults = replace(defaults, tier_mode="roll")  # the weighted roll
    catalog = [make_model("x:cheap", "0.5"), make_model("x:premium", "10")]  # no mid model
    profiles = {model.id: make_profile() for model in catalog}
    weights = {
        c: {"cheap": Decimal(0), "mid": Decimal(1), "premium": Decimal(0)}
        for c in ("simple", "moderate", "complex")
    }
    settings = replace(defaults, tier_weights=weights)
    decision = route(catalog, profiles, settings)
    # Both neighbours are one step away and weigh 0: the more capable tier wins the tie.
    assert decision.tier == "premium"
    assert "mid is empty, nearest is premium" in decision.tier_reason
    # With a weight on cheap, cheap wins the tie.
    weights = {c: {"cheap": Decimal("0.1"), "mid": Decimal("0.9"), "premium": Decimal(0)} for c in weights}
    decision = route(catalog, profiles, replace(defaults, tier_weights=weights), seed_key="x")
    assert decision.tier == "cheap"  # the roll lands in mid (empty: cheap weighs more) or in cheap


def test_high_stakes_without_premium_models_uses_the_nearest_tier(defaults):
    catalog = [make_model("x:cheap", "0.5"), make_model("x:mid", "2")]
    profiles = {model.id: make_profile() for model in catalog}
    high = make_classification(high_stakes=True, domain="medical")
    decision = route(catalog, profiles, defaults, classification=high)
    assert decision.model_id == "x:mid"
    assert "premium is empty" in decision.tier_reason


def test_nothing_eligible_returns_the_fallback_model_with_the_reason(defaults):
    catalog = [
        make_model("x:old", status="deprecated"),
        make_model("openai:gpt-5-mini", "0.4", internal=True),
    ]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, defaults)
    assert decision.model_id == "openai:gpt-5-mini"
    assert decision.is_fallback
    assert decision.model == catalog[1]
    assert decision.fallback_reason == "No eligible model (2 left out)"
    assert "fallback model openai:gpt-5-mini" in decision.explanation
    assert decision.candidates == ()


def test_an_empty_catalog_still_gives_a_decision(defaults):
    decision = route([], {}, defaults)
    assert decision.is_fallback
    assert decision.model is None
    assert decision.fallback_reason == "The catalog is empty"


def test_decision_to_dict_is_json_and_holds_no_message_text(defaults, three_tiers):
    catalog, profiles = three_tiers
    secret = "my secret medical question about ibuprofen"
    data = route(catalog, profiles, defaults, secret, exclude=["x:mid"]).to_dict()
    text = json.dumps(data)
    assert secret not in text
    assert data["message_length"] == len(secret)
    assert len(data["message_sha256"]) == 64
    assert data["excluded"] == [
        {"model_id": "x:mid", "reason": "excluded", "detail": data["excluded"][0]["detail"]}
    ]
    assert data["candidates"][0]["terms"][0]["name"] == "category"
    assert data["model"]["pricing"]["input"] in {"0.5", "10"}


def test_bad_arguments_are_refused(defaults, three_tiers):
    catalog, profiles = three_tiers
    with pytest.raises(ValueError):
        route(catalog, profiles, defaults, cost_bias=101)
    with pytest.raises(ValueError):
        route(catalog, profiles, defaults, context_tokens=-1)


@pytest.mark.parametrize(
    "message",
    ["hi", "Prove that 17 is prime, step by step", "Latest news on fusion power?", "Write a Python class"],
)
def test_every_breakdown_adds_up_to_its_score(defaults, static_catalog, message):
    from autorouter.classifier import classify
    from autorouter.defaults import default_profiles

    classification = classify(message, settings=defaults, previous_model_id="openai:gpt-5")
    decision = decide(
        message,
        catalog=static_catalog.models,
        profiles=default_profiles(),
        settings=defaults,
        classification=classification,
        previous_model_id="openai:gpt-5",
        cost_bias=70,
        speed_bias=30,
    )
    assert decision.candidates
    for candidate in decision.candidates:
        assert candidate.score == pytest.approx(sum(term.points for term in candidate.terms))
