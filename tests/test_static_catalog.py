import json
from decimal import Decimal

import pytest

from models_registry.domain.static_catalog import CatalogError, load_catalog_file, parse_catalog


def test_static_catalog_has_the_58_reference_models(static_catalog):
    assert len(static_catalog.models) == 58
    by_id = static_catalog.by_id()
    gpt5 = by_id["openai:gpt-5"]
    assert gpt5.pricing.input == Decimal("2.5")
    assert gpt5.pricing.cached_input == Decimal("0.25")
    assert gpt5.supports_vision and gpt5.supports_thinking
    assert gpt5.reasoning["type"] == "openai-reasoning-effort"
    assert sum(m.status == "deprecated" for m in static_catalog.models) == 3
    assert all(m.description for m in static_catalog.models)


def test_model_config_is_frozen(static_catalog):
    model = static_catalog.models[0]
    with pytest.raises(AttributeError):
        model.name = "changed"
    with pytest.raises(TypeError):
        model.reasoning["type"] = "changed"


def _document(**overrides):
    entry = {
        "id": "acme:fast-1",
        "provider": "acme",
        "name": "Fast 1",
        "context_window": 1000,
        "pricing": {"input": "1", "output": "2"},
    }
    entry.update(overrides)
    return {"providers": [{"slug": "acme", "name": "Acme"}], "models": [entry]}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"context_window": 0}, "context_window"),
        ({"pricing": {"input": "-1", "output": "2"}}, "pricing.input"),
        ({"pricing": {"input": 1.5, "output": "2"}}, "pricing.input"),
        ({"status": "retired"}, "status"),
        ({"status": None}, "status"),
        ({"reasoning": {"type": "google-thinking-budget", "levelMapping": {}}}, "reasoning"),
        ({"capabilities": ["telepathy"]}, "capabilities"),
        ({"provider": "nobody"}, "provider"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_entry_names_the_model_and_the_field(overrides, field):
    with pytest.raises(CatalogError) as excinfo:
        parse_catalog(_document(**overrides))
    assert excinfo.value.model_id == "acme:fast-1"
    assert excinfo.value.field == field
    assert "acme:fast-1" in str(excinfo.value)


def test_duplicate_id_is_refused():
    document = _document()
    document["models"].append(dict(document["models"][0]))
    with pytest.raises(CatalogError, match="twice"):
        parse_catalog(document)


def test_unreadable_json_is_a_catalog_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_catalog_file(path)


def test_catalog_round_trips_through_json(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(_document(status="beta")))
    (model,) = load_catalog_file(path).models
    assert model.status == "beta" and model.provider_name == "Acme"
