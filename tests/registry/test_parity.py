from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from models_registry.catalog.services import update_model
from models_registry.domain.parity import compare_catalogs
from models_registry.models import AIModel
from models_registry.rollout.parity import run_parity_check

pytestmark = pytest.mark.django_db


def test_a_freshly_seeded_database_is_at_parity(seeded, capsys):
    report = run_parity_check()
    assert report.ok and not report.differences and not report.only_in_database
    call_command("registry_check")
    assert "0 error(s), 0 changed model(s)" in capsys.readouterr().out


def test_intended_edits_are_shown_with_cost_drift_but_are_not_errors(seeded, editor, capsys):
    gpt5 = AIModel.objects.get(model_id="openai:gpt-5")
    update_model(gpt5, user=editor, reason="price drop", changes={"input_price": Decimal("1.25")})
    haiku = AIModel.objects.get(model_id="anthropic:claude-haiku-4.5")
    update_model(haiku, user=editor, reason="typo", changes={"name": "Claude Haiku 4.5 (new)"})
    gem = AIModel.objects.get(model_id="google:gemini-2.5-pro")
    update_model(gem, user=editor, reason="tiny", changes={"output_price": Decimal("5.01")})

    report = run_parity_check()
    assert report.ok
    by_id = {diff.model_id: diff for diff in report.differences}
    assert set(by_id) == {"openai:gpt-5", "anthropic:claude-haiku-4.5", "google:gemini-2.5-pro"}
    assert [f.field for f in by_id["openai:gpt-5"].fields] == ["pricing"]
    assert by_id["openai:gpt-5"].drift_flagged  # 2.5 → 1.25 on input: well above 5%
    assert by_id["anthropic:claude-haiku-4.5"].cost_drift is None
    assert not by_id["google:gemini-2.5-pro"].drift_flagged  # a 0.2% drift
    call_command("registry_check")
    out = capsys.readouterr().out
    assert "changed openai:gpt-5 (reference cost drift" in out and "above 5%" in out


def test_missing_models_and_invalid_rows_are_errors(seeded):
    AIModel.objects.filter(model_id="openai:gpt-5").delete()
    # Bypass validation the way a bad manual SQL fix would.
    AIModel.objects.filter(model_id="xai:grok-4-fast").update(reasoning_config={"type": "bogus"})
    report = run_parity_check()
    assert report.missing_in_database == ["openai:gpt-5"]
    assert set(report.invalid_rows) == {"xai:grok-4-fast"}
    assert len(report.errors) == 2
    with pytest.raises(CommandError, match="2 error"):
        call_command("registry_check")


def test_models_only_in_the_database_are_listed_as_new(seeded, static_catalog):
    database = static_catalog.by_id()
    extra = next(iter(database.values()))
    from dataclasses import replace

    database["acme:new-model"] = replace(extra, id="acme:new-model")
    report = compare_catalogs(static_catalog.by_id(), database)
    assert report.ok and report.only_in_database == ["acme:new-model"]
