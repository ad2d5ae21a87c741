"""The read contract the chat app codes against."""

from decimal import Decimal

import pytest
from django.test import override_settings

from models_registry import registry
from models_registry.catalog.services import update_model
from models_registry.models import AIModel

pytestmark = pytest.mark.django_db

both_sources = pytest.mark.parametrize("source", ["static", "database"])


@pytest.fixture
def use(settings):
    def switch(source: str) -> None:
        settings.MODELS_REGISTRY_SOURCE = source

    return switch


def test_static_and_database_serve_equal_configs_for_every_seeded_model(seeded, use, static_catalog):
    use("static")
    from_static = {m.id: registry.get_model(m.id) for m in static_catalog.models}
    use("database")
    assert registry.source_for() == "database"
    from_database = {m.id: registry.get_model(m.id) for m in static_catalog.models}
    assert len(from_database) == 58
    for model_id, config in from_static.items():
        assert from_database[model_id] == config, model_id
        assert from_database[model_id].to_dict() == config.to_dict()


@both_sources
def test_get_model_returns_deprecated_models_with_their_status(seeded, use, source):
    use(source)
    model = registry.get_model("meta:llama-4-maverick")
    assert model is not None and model.status == "deprecated"
    assert registry.get_model("nobody:nothing") is None


@both_sources
def test_list_models_defaults_to_what_a_user_may_select(seeded, use, source):
    use(source)
    selectable = registry.list_models()
    statuses = {m.status for m in selectable}
    assert statuses == {"active", "beta"}
    assert not any(m.is_internal_only for m in selectable)
    assert "meta:llama-4-maverick" not in {m.id for m in selectable}
    with_internal = registry.list_models(include_internal=True, user_tier=None)  # admin tools only
    assert "meta:llama-3.3-70b" in {m.id for m in with_internal}
    assert len(registry.list_models(status=None, include_internal=True, user_tier=None)) == 58
    assert {m.status for m in registry.list_models(status="deprecated")} == {"deprecated"}
    assert [m.id for m in selectable] == sorted(m.id for m in selectable)


@both_sources
def test_list_models_filters_by_provider_and_capabilities(seeded, use, source):
    use(source)
    anthropic = registry.list_models(provider="anthropic")
    assert {m.provider for m in anthropic} == {"anthropic"} and len(anthropic) == 3
    vision = registry.list_models(capability="vision")
    assert vision and all(m.supports_vision for m in vision)
    both = registry.list_models(capability=["vision", "thinking"])
    assert both and all(m.supports_vision and m.supports_thinking for m in both)
    assert len(both) < len(vision)
    with pytest.raises(ValueError, match="unknown capability"):
        registry.list_models(capability="telepathy")
    with pytest.raises(ValueError, match="unknown status"):
        registry.list_models(status="retired")


def test_list_models_result_is_the_callers_own_list(seeded, use):
    use("database")
    first = registry.list_models()
    first.clear()
    assert registry.list_models()


@both_sources
def test_search_ranks_exact_then_prefix_then_anywhere(seeded, use, source):
    use(source)
    ids = [m.id for m in registry.search_models("gpt-5")]
    assert ids[0] == "openai:gpt-5"  # exact match on the model part of the id
    assert set(ids[1:4]) <= {"openai:gpt-5-mini", "openai:gpt-5-nano", "openai:gpt-5.1", "openai:gpt-5.2"}
    assert [m.id for m in registry.search_models("anthropic")][:1] == ["anthropic:claude-haiku-4.5"]
    described = [m.id for m in registry.search_models("cerebras", limit=50)]  # only in descriptions
    assert "openai:gpt-oss-120b" in described
    assert len(registry.search_models("g", limit=3)) == 3
    assert all(m.status != "deprecated" for m in registry.search_models("llama", limit=50))


def test_database_source_reflects_an_admin_edit(seeded, use, editor, django_capture_on_commit_callbacks):
    use("database")
    assert registry.get_model("openai:gpt-5").pricing.input == Decimal("2.5")
    with django_capture_on_commit_callbacks(execute=True):
        update_model(
            AIModel.objects.get(model_id="openai:gpt-5"),
            user=editor,
            reason="price drop",
            changes={"input_price": Decimal("2.00")},
        )
    assert registry.get_model("openai:gpt-5").pricing.input == Decimal("2")
    use("static")
    assert registry.get_model("openai:gpt-5").pricing.input == Decimal("2.5")


@override_settings(REGISTRY_REFRESH_SECONDS=60)
def test_warm_reads_run_no_query(seeded, use, django_assert_num_queries):
    use("database")
    registry.get_model("openai:gpt-5")
    registry.list_models(provider="openai")
    with django_assert_num_queries(0):
        for _ in range(100):
            assert registry.get_model("openai:gpt-5") is not None
            assert registry.list_models(provider="openai")
            registry.list_models(capability="vision", subject=42)
            registry.calculate_cost("openai:gpt-5", input_tokens=10, output_tokens=10)


@override_settings(REGISTRY_REFRESH_SECONDS=60)
def test_rollout_reads_run_no_query_once_warm(
    seeded, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from models_registry.rollout.flags import set_flag_percent

    with django_capture_on_commit_callbacks(execute=True):
        set_flag_percent("use_db_models", 50, user=None, reason="half")
    for subject in range(20):
        registry.get_model("openai:gpt-5", subject=subject)
    with django_assert_num_queries(0):
        sources = {registry.source_for(subject) for subject in range(200)}
        for subject in range(200):
            registry.get_model("openai:gpt-5", subject=subject)
    assert sources == {"database", "static"}


def test_admin_tools_can_force_the_source(seeded, settings):
    settings.MODELS_REGISTRY_SOURCE = "static"
    AIModel.objects.filter(model_id="openai:gpt-5").update(name="Renamed in the database")
    forced = {m.id: m for m in registry.list_models(source="database", status=None)}
    assert forced["openai:gpt-5"].name == "Renamed in the database"
    assert {m.id: m for m in registry.list_models(status=None)}["openai:gpt-5"].name == "GPT-5"
    with pytest.raises(ValueError):
        registry.list_models(source="cache")


def test_unknown_providers_list_nothing(seeded, settings):
    settings.MODELS_REGISTRY_SOURCE = "database"
    assert registry.list_models(provider="nobody") == []


def test_one_access_rule_for_listing_and_search(seeded, use, editor, django_capture_on_commit_callbacks):
    """Pro models for pro users only, internal-only models for no user, whatever the read."""
    use("database")
    with django_capture_on_commit_callbacks(execute=True):
        update_model(
            AIModel.objects.get(model_id="openai:gpt-5"),
            user=editor,
            reason="a pro plan model",
            changes={"is_pro": True},
        )

    def ids(models):
        return {model.id for model in models}

    assert "openai:gpt-5" not in ids(registry.list_models())  # the default tier is free
    assert "openai:gpt-5" not in ids(registry.list_models(user_tier="free", provider="openai"))
    assert "openai:gpt-5" in ids(registry.list_models(user_tier="pro"))
    assert "openai:gpt-5" in ids(registry.list_models(user_tier=None))  # admin tools
    assert "openai:gpt-5" not in ids(registry.search_models("gpt-5", limit=50))
    assert "openai:gpt-5" in ids(registry.search_models("gpt-5", limit=50, user_tier="pro"))
    assert not any(m.is_internal_only for m in registry.list_models(user_tier="pro"))
    assert not any(m.is_pro for m in registry.search_models("", limit=100))
    # A pro model's lookup by id still works: the chat app may check a user's saved choice.
    assert registry.get_model("openai:gpt-5").is_pro

    with pytest.raises(ValueError, match="user_tier must be one of 'free', 'pro'"):
        registry.list_models(user_tier="gold")
    with pytest.raises(ValueError, match="user_tier must be one of"):
        registry.search_models("gpt", user_tier="enterprise")
    with pytest.raises(ValueError, match="internal-only models are never offered to users"):
        registry.list_models(include_internal=True, user_tier="pro")
