from decimal import Decimal

import pytest

from models_registry import registry

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["static", "database"])
def source(request, settings, seeded):
    settings.MODELS_REGISTRY_SOURCE = request.param
    return request.param


def test_plain_input_and_output(source):
    # gpt-5: 2.5 in, 10 out per 1M
    cost = registry.calculate_cost("openai:gpt-5", input_tokens=1_000_000, output_tokens=1_000)
    assert cost == Decimal("2.51")


def test_cached_tokens_are_part_of_input_and_billed_at_the_cached_rate(source):
    # (1,000 uncached * 2.5 + 3,000 cached * 0.25 + 500 out * 10) per 1M
    cost = registry.calculate_cost(
        "openai:gpt-5", input_tokens=4_000, cached_input_tokens=3_000, output_tokens=500
    )
    assert cost == Decimal("0.00825")


def test_reasoning_tokens_are_part_of_output_and_billed_at_the_reasoning_rate(source):
    # gemini-2.5-flash: 0.15 in, 0.6 out, 0.019 cached, 3.5 reasoning
    cost = registry.calculate_cost(
        "google:gemini-2.5-flash",
        input_tokens=10_000,
        cached_input_tokens=4_000,
        output_tokens=3_000,
        reasoning_tokens=2_000,
    )
    expected = (6_000 * Decimal("0.15") + 4_000 * Decimal("0.019") + 1_000 * Decimal("0.6")
                + 2_000 * Decimal("3.5")) / 1_000_000  # fmt: skip
    assert cost == expected == Decimal("0.008576")


def test_missing_rates_fall_back_to_input_and_output(source):
    # sonar-pro has no cached or reasoning rate: 3 in, 15 out
    cost = registry.calculate_cost(
        "perplexity:sonar-pro",
        input_tokens=2_000,
        cached_input_tokens=2_000,
        output_tokens=1_000,
        reasoning_tokens=1_000,
    )
    assert cost == Decimal("0.021")


def test_cost_is_a_decimal_even_for_free_models(source):
    cost = registry.calculate_cost("openrouter:kimi-k2", input_tokens=5, output_tokens=5)
    assert isinstance(cost, Decimal) and cost == 0


@pytest.mark.parametrize(
    "counts",
    [
        {"input_tokens": -1, "output_tokens": 0},
        {"input_tokens": 0, "output_tokens": -1},
        {"input_tokens": 10, "output_tokens": 0, "cached_input_tokens": 11},
        {"input_tokens": 10, "output_tokens": 5, "reasoning_tokens": 6},
        {"input_tokens": 10, "output_tokens": 5, "cached_input_tokens": -1},
        {"input_tokens": 1.5, "output_tokens": 5},
    ],
)
def test_invalid_token_counts_raise_value_error(source, counts):
    with pytest.raises(ValueError):
        registry.calculate_cost("openai:gpt-5", **counts)


def test_unknown_model_raises_unknown_model(source):
    with pytest.raises(registry.UnknownModel) as excinfo:
        registry.calculate_cost("nobody:nothing", input_tokens=1, output_tokens=1)
    assert isinstance(excinfo.value, LookupError)
