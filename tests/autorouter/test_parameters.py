"""One test per router parameter: changing it changes a score or a decision. Pure, no database.

(``router_model`` is covered in test_llm_classifier.py: it is the model the
LLM classifier calls. ``max_retries`` is covered in test_route.py for model
retries and in test_llm_classifier.py for the classifier's own retries.)
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from autorouter.engine import decide

from .conftest import make_classification, make_model, make_profile


def route(catalog, profiles, settings, message="test message", **kwargs):
    classification = kwargs.pop("classification", make_classification())
    return decide(
        message,
        catalog=catalog,
        profiles=profiles,
        settings=settings,
        classification=classification,
        **kwargs,
    )


def terms_of(decision, model_id):
    candidate = next(c for c in decision.candidates if c.model_id == model_id)
    return {term.name: term.points for term in candidate.terms}


def score_of(decision, model_id):
    return next(c.score for c in decision.candidates if c.model_id == model_id)


def test_stickiness_bonus(with_settings):
    # Two mid-tier models; b is slightly better, a was used before and the classifier says "change".
    catalog = [make_model("x:a", "2"), make_model("x:b", "2")]
    profiles = {"x:a": make_profile(conversation=70), "x:b": make_profile(conversation=80)}
    weights = {
        c: {"cheap": Decimal(0), "mid": Decimal(1), "premium": Decimal(0)}
        for c in ("simple", "moderate", "complex")
    }
    sticky = route(catalog, profiles, with_settings(tier_weights=weights), previous_model_id="x:a")
    assert terms_of(sticky, "x:a")["sticky"] == 25
    assert sticky.model_id == "x:a"  # 70 + 25 beats 80
    plain = route(
        catalog, profiles, with_settings(tier_weights=weights, stickiness_bonus=5), previous_model_id="x:a"
    )
    assert terms_of(plain, "x:a")["sticky"] == 5
    assert plain.model_id == "x:b"


def test_reasoning_bonus(with_settings):
    catalog = [make_model("x:thinker", capabilities=("thinking",))]
    profiles = {"x:thinker": make_profile()}
    needs = make_classification(primary="reasoning", needs_reasoning=True)
    assert (
        terms_of(route(catalog, profiles, with_settings(), classification=needs), "x:thinker")["reasoning"]
        == 15
    )
    changed = route(catalog, profiles, with_settings(reasoning_bonus=40), classification=needs)
    assert terms_of(changed, "x:thinker")["reasoning"] == 40


def test_research_bonus(with_settings):
    catalog = [make_model("perplexity:sonar", "2"), make_model("x:other", "2")]
    profiles = {"perplexity:sonar": make_profile(research=80), "x:other": make_profile(research=90)}
    research = make_classification(primary="research")
    weights = {
        c: {"cheap": Decimal(0), "mid": Decimal(1), "premium": Decimal(0)}
        for c in ("simple", "moderate", "complex")
    }
    with_bonus = route(catalog, profiles, with_settings(tier_weights=weights), classification=research)
    assert terms_of(with_bonus, "perplexity:sonar")["research"] == 25
    assert with_bonus.model_id == "perplexity:sonar"
    without = route(
        catalog, profiles, with_settings(tier_weights=weights, research_bonus=0), classification=research
    )
    assert "research" not in terms_of(without, "perplexity:sonar")
    assert without.model_id == "x:other"


def test_research_providers(with_settings):
    catalog = [make_model("perplexity:sonar"), make_model("acme:search")]
    profiles = {model.id: make_profile() for model in catalog}
    research = make_classification(primary="research")
    default = route(catalog, profiles, with_settings(), classification=research)
    assert "research" in terms_of(default, "perplexity:sonar")
    assert "research" not in terms_of(default, "acme:search")
    changed = route(catalog, profiles, with_settings(research_providers=("acme",)), classification=research)
    assert "research" in terms_of(changed, "acme:search")
    assert "research" not in terms_of(changed, "perplexity:sonar")


def test_simple_penalty(with_settings):
    catalog = [make_model("x:strong")]
    profiles = {"x:strong": make_profile(quality=95, conversation=80)}
    simple = make_classification(complexity="simple")
    assert terms_of(route(catalog, profiles, with_settings(), classification=simple), "x:strong")[
        "complexity"
    ] == pytest.approx(80 * (0.7 - 1))
    changed = route(catalog, profiles, with_settings(simple_penalty=0.5), classification=simple)
    assert terms_of(changed, "x:strong")["complexity"] == pytest.approx(80 * (0.5 - 1))


def test_complex_boost_threshold(with_settings):
    catalog = [make_model("x:good")]
    profiles = {"x:good": make_profile(quality=88)}
    complex_ = make_classification(complexity="complex")
    assert "complexity" in terms_of(
        route(catalog, profiles, with_settings(), classification=complex_), "x:good"
    )
    raised = route(catalog, profiles, with_settings(complex_boost_threshold=90), classification=complex_)
    assert "complexity" not in terms_of(raised, "x:good")


def test_complex_boost_multiplier(with_settings):
    catalog = [make_model("x:good")]
    profiles = {"x:good": make_profile(quality=90, conversation=80)}
    complex_ = make_classification(complexity="complex")
    default = route(catalog, profiles, with_settings(), classification=complex_)
    assert terms_of(default, "x:good")["complexity"] == pytest.approx(80 * 0.2)
    changed = route(catalog, profiles, with_settings(complex_boost_multiplier=1.5), classification=complex_)
    assert terms_of(changed, "x:good")["complexity"] == pytest.approx(80 * 0.5)


def test_cheap_threshold(with_settings):
    catalog = [make_model("x:model", "0.8")]
    profiles = {"x:model": make_profile()}
    assert route(catalog, profiles, with_settings()).candidates[0].tier == "cheap"
    lowered = route(catalog, profiles, with_settings(cheap_threshold=Decimal("0.5")))
    assert lowered.candidates[0].tier == "mid"


def test_mid_threshold(with_settings):
    catalog = [make_model("x:model", "4")]
    profiles = {"x:model": make_profile()}
    default = route(catalog, profiles, with_settings())
    assert default.candidates[0].tier == "mid"
    assert terms_of(default, "x:model")["cost"] == pytest.approx(-10 * 4 / 5)
    lowered = route(catalog, profiles, with_settings(mid_threshold=Decimal("3")))
    assert lowered.candidates[0].tier == "premium"
    assert terms_of(lowered, "x:model")["cost"] == pytest.approx(-10)


def test_cost_penalty_points_scaled_by_cost_bias(with_settings):
    catalog = [make_model("x:pricey", "10")]
    profiles = {"x:pricey": make_profile()}
    assert terms_of(route(catalog, profiles, with_settings()), "x:pricey")["cost"] == -10
    assert (
        terms_of(route(catalog, profiles, with_settings(cost_penalty_points=30.0)), "x:pricey")["cost"] == -30
    )
    assert terms_of(route(catalog, profiles, with_settings(), cost_bias=100), "x:pricey")["cost"] == -20
    assert "cost" not in terms_of(route(catalog, profiles, with_settings(), cost_bias=0), "x:pricey")


@pytest.mark.parametrize("complexity", ["simple", "moderate", "complex"])
def test_tier_weights(with_settings, three_tiers, complexity, defaults):
    """In roll mode the weights are the odds of each tier."""
    catalog, profiles = three_tiers
    classification = make_classification(complexity=complexity)
    weights = {c: dict(defaults.tier_weights[c]) for c in ("simple", "moderate", "complex")}
    weights[complexity] = {"cheap": Decimal(0), "mid": Decimal(0), "premium": Decimal(1)}
    keys = [f"key-{i}" for i in range(50)]
    before = {
        route(
            catalog, profiles, with_settings(tier_mode="roll"), classification=classification, seed_key=k
        ).tier
        for k in keys
    }
    after = {
        route(
            catalog,
            profiles,
            with_settings(tier_weights=weights, tier_mode="roll"),
            classification=classification,
            seed_key=k,
        ).tier
        for k in keys
    }
    assert before == {"cheap", "mid", "premium"}
    assert after == {"premium"}


def test_speed_bonuses_scaled_by_speed_bias(with_settings):
    catalog = [
        make_model("x:model-flash"),
        make_model("x:hosted", hosts=("groq", "cerebras")),
        make_model("x:slow-thinking"),
        make_model("x:plain"),
    ]
    profiles = {model.id: make_profile() for model in catalog}
    decision = route(catalog, profiles, with_settings())
    assert terms_of(decision, "x:model-flash")["speed"] == 8
    assert terms_of(decision, "x:hosted")["speed"] == 10  # the primary host only
    assert terms_of(decision, "x:slow-thinking")["speed"] == -5
    assert "speed" not in terms_of(decision, "x:plain")
    changed = route(catalog, profiles, with_settings(speed_bonuses=(("flash", 20.0), ("plain", 3.0))))
    assert terms_of(changed, "x:model-flash")["speed"] == 20
    assert terms_of(changed, "x:plain")["speed"] == 3
    assert terms_of(route(catalog, profiles, with_settings(), speed_bias=100), "x:model-flash")["speed"] == 16
    assert "speed" not in terms_of(route(catalog, profiles, with_settings(), speed_bias=0), "x:model-flash")


def test_secondary_share(with_settings):
    catalog = [make_model("x:model")]
    profiles = {"x:model": make_profile(coding=90, analysis=60)}
    two_topics = make_classification(primary="coding", secondary="analysis")
    assert terms_of(route(catalog, profiles, with_settings(), classification=two_topics), "x:model")[
        "category"
    ] == pytest.approx(90 + 0.3 * 60)
    changed = route(catalog, profiles, with_settings(secondary_share=0.0), classification=two_topics)
    assert terms_of(changed, "x:model")["category"] == 90


def test_context_buffer(with_settings):
    catalog = [make_model("x:small", context_window=110_000), make_model("x:big", context_window=400_000)]
    profiles = {model.id: make_profile() for model in catalog}
    default = route(catalog, profiles, with_settings(), context_tokens=100_000)  # needs 120,000
    assert [e.model_id for e in default.excluded] == ["x:small"]
    relaxed = route(catalog, profiles, with_settings(context_buffer=Decimal("1.05")), context_tokens=100_000)
    assert relaxed.excluded == ()


def test_long_context_threshold(with_settings):
    catalog = [make_model("x:200k", context_window=200_000), make_model("x:1m", context_window=1_000_000)]
    profiles = {model.id: make_profile() for model in catalog}
    long = make_classification(needs_long_context=True)
    assert route(catalog, profiles, with_settings(), classification=long).excluded == ()
    raised = route(catalog, profiles, with_settings(long_context_threshold=500_000), classification=long)
    assert [(e.model_id, e.reason) for e in raised.excluded] == [("x:200k", "long_context")]


def test_high_stakes_domains(with_settings):
    from autorouter.classifier import classify

    message = "What dose of ibuprofen is safe with my blood pressure medication?"
    assert classify(message, settings=with_settings()).high_stakes
    without_medical = with_settings(high_stakes_domains=("legal", "financial"))
    assert not classify(message, settings=without_medical).high_stakes
    # A domain added in the admin is detected by its name, and sends the message to premium.
    taxes = with_settings(high_stakes_domains=("taxes",))
    classification = classify("How do I file my taxes as a freelancer?", settings=taxes)
    assert (classification.high_stakes, classification.domain) == (True, "taxes")


def test_fallback_model(with_settings):
    catalog = [make_model("x:only", status="deprecated"), make_model("x:spare", internal=True)]
    profiles = {"x:only": make_profile()}  # x:spare is internal only: nothing is eligible
    assert route(catalog, profiles, with_settings()).model_id == "openai:gpt-5-mini"
    changed = route(catalog, profiles, with_settings(fallback_model_id="x:spare"))
    assert changed.model_id == "x:spare"
    assert changed.model == catalog[1]
