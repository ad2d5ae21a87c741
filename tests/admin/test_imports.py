"""JSON import: plan, validation messages that name row and field, all-or-nothing writes, history."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal

import pytest

from models_registry.admin.resources import AIModelResource, CatalogJSON
from models_registry.audit.history import versions_of
from models_registry.catalog import services
from models_registry.domain.imports import ImportFileError, parse_import_text
from models_registry.domain.static_catalog import parse_entry
from models_registry.models import AIModel

from .conftest import entry, history_rows, stored_version, timeline_entries


def export_entries() -> list[dict]:
    return json.loads(CatalogJSON().export_data(AIModelResource().export(AIModel.objects.all())))


def test_export_is_the_static_catalog_shape_and_reimporting_it_changes_nothing(
    seeded, static_catalog, editor
):
    exported = export_entries()
    # Each exported object reads back as the very model the static catalog defines.
    assert {
        item["id"]: parse_entry(item, static_catalog.providers) for item in exported
    } == static_catalog.by_id()
    before = history_rows()

    outcome = services.import_models(exported, user=editor, reason="Round trip")

    assert (outcome.created, outcome.updated, outcome.plan.count("unchanged")) == (0, 0, 58)
    assert history_rows() == before


def test_import_merges_creates_and_records_user_and_reason(gpt, claude, editor):
    file_entries = [
        {"id": "openai:gpt-test", "pricing": {"input": "2"}},  # keys left out keep their values
        entry("openai:gpt-new"),
        {"id": "anthropic:claude-test"},  # unchanged
    ]

    outcome = services.import_models(file_entries, user=editor, reason="Imported from prices.json")

    assert (outcome.created, outcome.updated) == (1, 1)
    gpt.refresh_from_db()
    assert (gpt.input_price, gpt.output_price, gpt.name) == (Decimal("2"), Decimal("10"), "GPT Test")
    update = versions_of(gpt)[-1]
    assert (update.number, update.changed_by, update.user_id, update.reason, update.changed_fields) == (
        2,
        "editor",
        editor.pk,
        "Imported from prices.json",
        ("input_price", "price_schedule"),
    )
    price, timeline = update.changes
    assert (price.old, price.new) == ("2.5", "2")
    # The price change joins the timeline: the old prices since the model was listed, then the new.
    assert timeline.old == "none"
    (since, old_prices), (changed_at, new_prices) = timeline_entries(timeline.new)
    assert (since, old_prices, new_prices) == (
        f"{gpt.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        "input 2.5, output 10",
        "input 2, output 10",
    )
    assert changed_at >= since
    assert [entry["pricing"] for entry in gpt.price_schedule] == [
        {"input": "2.5", "output": "10"},
        {"input": "2", "output": "10"},
    ]
    assert gpt.version == 2
    created = AIModel.objects.get(model_id="openai:gpt-new")
    assert (created.created_by, created.supports_vision, created.input_price) == (
        editor,
        True,
        Decimal("1.25"),
    )
    assert [(v.number, v.change_type, v.changed_by, v.reason) for v in versions_of(created)] == [
        (1, "created", "editor", "Imported from prices.json")
    ]
    assert created.version == 1
    assert len(versions_of(claude)) == 1  # unchanged rows get no history
    assert AIModel.objects.count() == 3  # nothing deleted


def test_dry_run_plans_without_writing(gpt, editor):
    before = history_rows()
    outcome = services.import_models(
        [{"id": "openai:gpt-test", "name": "Renamed"}, entry()], user=editor, reason="x", dry_run=True
    )
    assert [(row.model_id, row.action) for row in outcome.plan.rows] == [
        ("openai:gpt-test", "update"),
        ("openai:gpt-new", "new"),
    ]
    assert [(c.field, c.old, c.new) for c in outcome.plan.rows[0].changes] == [
        ("name", "GPT Test", "Renamed")
    ]
    assert (AIModel.objects.count(), history_rows()) == (1, before)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[{"id": "openai:x",}]',
            "not valid JSON: Expecting property name enclosed in double quotes at line 1",
        ),
        (
            '{"id": "openai:x"}',
            "must contain a JSON list of models or a catalog object with a list of models, not an object",
        ),
        ('{"models": []}', "empty list"),
        ('{"models": {}}', "In a catalog object, 'models' and 'providers' must be lists."),
        ("[]", "empty list"),
    ],
)
def test_unreadable_files_are_refused_as_a_whole(text, message):
    with pytest.raises(ImportFileError, match=message):
        parse_import_text(text)


BAD_ROWS = {
    "unknown field": (
        entry(colour="blue"),
        "Row 2 (openai:gpt-new): colour: is not a known field",
    ),
    "duplicate id": (
        entry("openai:gpt-test"),
        "Row 2 (openai:gpt-test): id: appears twice in the file (rows 1 and 2)",
    ),
    "negative price": (
        entry(pricing={"input": "-1", "output": "5"}),
        "Row 2 (openai:gpt-new): pricing.input: must be a non-negative number",
    ),
    "unknown provider": (
        entry("nope:model", provider="nope"),
        "Row 2 (nope:model): provider: unknown provider 'nope'",
    ),
    "unknown status": (
        entry(status="retired"),
        "Row 2 (openai:gpt-new): status: must be one of active, beta, deprecated (got 'retired')",
    ),
    "wrong reasoning shape": (
        entry(reasoning={"type": "anthropic-extended-thinking", "budget": 5}),
        "Row 2 (openai:gpt-new): reasoning: anthropic-extended-thinking requires 'budgetMapping'; "
        "unknown key(s) for anthropic-extended-thinking: budget",
    ),
    "too long for the database": (
        entry(name="n" * 151),
        "Row 2 (openai:gpt-new): name: Ensure this value has at most 150 characters (it has 151).",
    ),
}


@pytest.mark.parametrize("kind", BAD_ROWS)
def test_a_bad_row_names_row_and_field_and_nothing_is_written(gpt, editor, kind):
    bad_entry, message = BAD_ROWS[kind]
    file_entries = [{"id": "openai:gpt-test", "name": "Would be renamed"}, bad_entry]
    before = history_rows()

    with pytest.raises(services.ImportRejected) as rejected:
        services.import_models(file_entries, user=editor, reason="Bulk")

    assert message in [str(error) for error in rejected.value.plan.errors]
    gpt.refresh_from_db()
    assert (gpt.name, AIModel.objects.count(), history_rows()) == ("GPT Test", 1, before)


def test_every_bad_row_is_reported_at_once(gpt, editor):
    with pytest.raises(services.ImportRejected) as rejected:
        services.import_models(
            ["not an object", entry(status="x"), entry("openai:ok")], user=editor, reason="Bulk"
        )
    assert [(e.row, e.field) for e in rejected.value.plan.errors] == [(1, "entry"), (2, "status")]


def test_a_failure_while_writing_rolls_everything_back(gpt, editor, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    # Creations are written first; the update batch then fails.
    monkeypatch.setattr(services, "_write_updates", explode)
    with pytest.raises(RuntimeError):
        services.import_models(
            [entry("openai:gpt-new"), {"id": "openai:gpt-test", "name": "Renamed"}],
            user=editor,
            reason="Bulk",
        )
    assert list(AIModel.objects.values_list("model_id", "name")) == [("openai:gpt-test", "GPT Test")]
    assert history_rows() == 1


def test_confirm_refuses_when_the_catalog_moved_since_the_preview(gpt, editor):
    file_entries = [{"id": "openai:gpt-test", "pricing": {"output": "11"}}]
    preview = services.import_models(file_entries, user=editor, reason="Bulk", dry_run=True)
    services.update_model(gpt, user=editor, reason="Meanwhile", changes={"output_price": Decimal("11")})

    with pytest.raises(services.ImportRejected, match="changed since the preview"):
        services.import_models(file_entries, user=editor, reason="Bulk", expected_digest=preview.plan.digest)
    assert stored_version(gpt) == 2


def test_a_concurrent_insert_of_the_same_id_rejects_the_import_cleanly(gpt, editor, monkeypatch):
    real_bulk_create = services.bulk_create_with_history

    def someone_else_first(objs, model, **kwargs):
        first = objs[0]
        AIModel.objects.bulk_create(
            [
                AIModel(
                    model_id=first.model_id,
                    provider_id=first.provider_id,
                    name="Theirs",
                    context_window=1,
                    input_price=1,
                    output_price=1,
                )
            ]
        )
        return real_bulk_create(objs, model, **kwargs)

    monkeypatch.setattr(services, "bulk_create_with_history", someone_else_first)
    with pytest.raises(services.ImportRejected, match="collided with this import"):
        services.import_models([entry("openai:gpt-new")], user=editor, reason="Bulk")
    assert not AIModel.objects.filter(model_id="openai:gpt-new").exists()


def test_a_plan_with_dates_has_a_digest(gpt, editor):
    # A deprecation date is a date object in the plan: the digest must encode it (it raised TypeError).
    file_entries = [entry("openai:gpt-dated", deprecation_date="2027-01-31")]
    preview = services.import_models(file_entries, user=editor, reason="Dated", dry_run=True)
    assert len(preview.plan.digest) == 64
    outcome = services.import_models(
        file_entries, user=editor, reason="Dated", expected_digest=preview.plan.digest
    )
    assert outcome.created == 1
    assert str(AIModel.objects.get(model_id="openai:gpt-dated").deprecation_date) == "2027-01-31"
