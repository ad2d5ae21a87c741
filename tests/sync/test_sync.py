"""The catalog sync end to end: a source served over loopback HTTP, a run, a review, an audited apply."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from models_registry.audit import writes
from models_registry.audit.models import ChangeRecord, ChangeSet
from models_registry.catalog.services import update_model
from models_registry.models import AIModel, ProposedChange, SourceMapping, SyncRun
from models_registry.sync import services
from models_registry.sync.models import Decision, MappingStatus, RunStatus

from .conftest import models_dev_file, models_dev_model

pytestmark = pytest.mark.django_db

# Real prices (openai.com, ai.google.dev) the seeded catalog got wrong.
SOURCE = models_dev_file(
    {
        "openai": {
            "gpt-5": models_dev_model("gpt-5", input="1.25", output="10", cache_read="0.125", context=400000),
            "gpt-5-mini": models_dev_model("gpt-5-mini", input="0.25", output="2", context=400000),
        },
        "google": {
            "gemini-2.5-pro": models_dev_model(
                "gemini-2.5-pro", input="1.25", output="10", cache_read="0.125", context=1048576
            ),
        },
    }
)


def confirm(model_id: str, key: str, source: str = "models-dev") -> SourceMapping:
    model = AIModel.objects.get(model_id=model_id)
    return writes.create(
        SourceMapping(model=model, source=source, upstream_key=key, status=MappingStatus.CONFIRMED),
        user=None,
        reason="mapping for the test",
    )


def sync(*args: str) -> int:
    """Run the command as cron does; its exit status."""
    try:
        call_command("sync_catalog", *args)
    except SystemExit as exit:
        return exit.code
    return 0


@pytest.fixture
def mapped(seeded):
    confirm("openai:gpt-5", "openai/gpt-5")
    confirm("google:gemini-2.5-pro", "google/gemini-2.5-pro")


def catalog_state() -> tuple:
    """The models and their change records (a run may record mapping suggestions, never catalog edits)."""
    return (
        list(AIModel.objects.order_by("pk").values_list("version", "input_price", "output_price")),
        ChangeRecord.objects.filter(content_type=ContentType.objects.get_for_model(AIModel)).count(),
    )


def test_a_dry_run_writes_nothing(mapped, source_server):
    url = source_server.serve("/api.json", SOURCE)
    before = (catalog_state(), SourceMapping.objects.count())

    assert sync("--source", "models-dev", "--url", url, "--dry-run") == 3

    assert (catalog_state(), SourceMapping.objects.count()) == before
    assert not SyncRun.objects.exists() and not ProposedChange.objects.exists()


def test_a_run_proposes_the_price_corrections_and_flags_those_above_25_percent(mapped, source_server):
    url = source_server.serve("/api.json", SOURCE)
    before = catalog_state()

    assert sync("--source", "models-dev", "--url", url) == 3

    assert catalog_state() == before  # nothing written to the catalog
    run = SyncRun.objects.get()
    assert run.status == RunStatus.REVIEW and run.origin == url
    prices = {
        (change.model_key, change.column): (change.old, change.new, change.flags)
        for change in run.changes.filter(kind="price")
    }
    assert prices[("openai:gpt-5", "input_price")] == ("2.5", "1.25", ["price_jump"])
    assert prices[("google:gemini-2.5-pro", "output_price")] == ("5", "10", ["price_jump"])
    assert run.changes.get(model_key="openai:gpt-5", column="input_price").relative_change == Decimal("-0.5")


def test_accepting_some_rows_and_applying_writes_exactly_those_as_one_change_set(
    mapped, source_server, editor
):
    sync("--source", "models-dev", "--url", source_server.serve("/api.json", SOURCE))
    run = SyncRun.objects.get()
    gpt_input = run.changes.get(model_key="openai:gpt-5", column="input_price")
    gemini_output = run.changes.get(model_key="google:gemini-2.5-pro", column="output_price")

    # Flagged rows need their own confirmation: a plain accept leaves them pending.
    assert (
        services.decide([gpt_input], decision=Decision.ACCEPTED, user=editor, reason="ok").skipped_flagged
        == 1
    )
    services.decide(
        [gpt_input], decision=Decision.ACCEPTED, user=editor, reason="checked", confirm_flagged=True
    )
    services.decide([gemini_output], decision=Decision.REJECTED, user=editor, reason="our contract price")
    outcome = services.apply_run(run, user=editor, reason="November price review")

    gpt, gemini = (
        AIModel.objects.get(model_id="openai:gpt-5"),
        AIModel.objects.get(model_id="google:gemini-2.5-pro"),
    )
    assert gpt.input_price == Decimal("1.25")
    assert gpt.cached_input_price == Decimal("0.25")  # proposed but never accepted
    assert gemini.output_price == Decimal("5") and gemini.version == 1
    change_set = ChangeSet.objects.get(pk=outcome.change_set_id)
    records = list(ChangeRecord.objects.filter(change_set=change_set))
    assert [record.object_repr for record in records] == ["openai:gpt-5"]
    assert records[0].reason == f"Synced from models-dev {run.started_at:%Y-%m-%d}: November price review"
    assert {entry["field"] for entry in records[0].diff} == {"input_price", "price_schedule"}
    run.refresh_from_db()
    assert (run.status, run.change_set_id) == (RunStatus.APPLIED, change_set.pk)

    # A second run proposes nothing more for what was applied.
    sync("--source", "models-dev", "--url", source_server.url("/api.json"))
    second = SyncRun.objects.latest("pk")
    assert not second.changes.filter(model_key="openai:gpt-5", column="input_price").exists()
    assert second.changes.filter(model_key="google:gemini-2.5-pro", column="output_price").exists()


def test_apply_is_refused_when_a_model_changed_since_the_run(mapped, source_server, editor):
    sync("--source", "models-dev", "--url", source_server.serve("/api.json", SOURCE))
    run = SyncRun.objects.get()
    services.decide(
        run.changes.filter(model_key="openai:gpt-5"),
        decision=Decision.ACCEPTED,
        user=editor,
        reason="ok",
        confirm_flagged=True,
    )
    update_model(
        AIModel.objects.get(model_id="openai:gpt-5"),
        user=editor,
        reason="meanwhile",
        changes={"description": "Edited after the run"},
    )
    before = catalog_state()

    with pytest.raises(
        ValidationError,
        match=r"changed since the run read them .* so applying could undo those changes: openai:gpt-5",
    ):
        services.apply_run(run, user=editor, reason="late")

    assert catalog_state() == before
    run.refresh_from_db()
    assert run.status == RunStatus.REVIEW


def test_a_run_without_differences_records_that_it_ran_and_exits_0(mapped, source_server, editor):
    url = source_server.serve("/api.json", SOURCE)
    sync("--source", "models-dev", "--url", url)
    run = SyncRun.objects.get()
    services.decide(
        run.changes.all(), decision=Decision.ACCEPTED, user=editor, reason="all", confirm_flagged=True
    )
    services.apply_run(run, user=editor, reason="take them all")

    assert sync("--source", "models-dev", "--url", url) == 0
    latest = SyncRun.objects.latest("pk")
    assert (latest.status, latest.changes.count()) == (RunStatus.NO_CHANGES, 0)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"status": 500, "body": b"oops"}, "answered HTTP 500"),
        ({"body": b"{not json"}, "JSON"),
        ({"body": b"[1, 2]"}, "models-dev"),
        ({"delay": 2.0, "body": b"{}"}, "did not answer within 0.5 s"),
        ({"body": b"{" + b" " * 5000 + b"}"}, "larger than the limit"),
    ],
)
def test_a_failing_source_exits_1_with_a_clear_message_and_writes_nothing(
    mapped, source_server, settings, route, message
):
    settings.SYNC_FETCH_TIMEOUT_SECONDS = 0.5
    settings.SYNC_MAX_SOURCE_BYTES = 4096
    url = source_server.serve("/api.json", **route)
    before = (catalog_state(), SourceMapping.objects.count())

    with pytest.raises(CommandError, match=message) as failed:
        call_command("sync_catalog", "--source", "models-dev", "--url", url)

    assert failed.value.returncode == 1
    assert (catalog_state(), SourceMapping.objects.count()) == before
    assert not SyncRun.objects.exists()


def test_a_missing_file_is_a_clear_error(seeded, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("sync_catalog", "--source", "litellm", "--file", str(tmp_path / "absent.json"))


def test_suggested_mappings_are_recorded_and_a_rejected_one_stays_rejected(
    seeded, packaged_models_dev, tmp_path, editor
):
    source = tmp_path / "data.json.gz"
    source.write_bytes(packaged_models_dev)
    sync("--source", "models-dev", "--file", str(source))
    suggestion = SourceMapping.objects.get(model__model_id="anthropic:claude-opus-4.5")
    assert (suggestion.status, suggestion.upstream_key) == (
        MappingStatus.SUGGESTED,
        "anthropic/claude-opus-4-5",
    )
    suggested = SourceMapping.objects.count()

    services.set_mapping_status([suggestion], MappingStatus.REJECTED, user=editor, reason="wrong family")
    sync("--source", "models-dev", "--file", str(source))

    assert SourceMapping.objects.count() == suggested  # nothing suggested again
    suggestion.refresh_from_db()
    assert suggestion.status == MappingStatus.REJECTED


def test_the_seeded_catalog_against_the_packaged_models_dev_catalog(
    seeded, packaged_models_dev, tmp_path, editor
):
    source = tmp_path / "data.json.gz"
    source.write_bytes(packaged_models_dev)
    sync("--source", "models-dev", "--file", str(source))
    services.set_mapping_status(
        SourceMapping.objects.all(), MappingStatus.CONFIRMED, user=editor, reason="suggestions checked"
    )

    assert sync("--source", "models-dev", "--file", str(source)) == 3

    run = SyncRun.objects.latest("pk")
    prices = list(run.changes.filter(kind="price"))
    flagged = {(change.model_key, change.column) for change in prices if "price_jump" in change.flags}
    assert ("openai:gpt-5", "input_price") in flagged
    assert len(prices) >= 10


def test_a_run_against_the_packaged_genai_prices_data_served_over_http(seeded, source_server, editor):
    pytest.importorskip("genai_prices")
    from genai_prices.data_snapshot import get_snapshot

    from tests.registry.test_sources import genai_prices_data_json

    url = source_server.serve("/data.json", genai_prices_data_json(get_snapshot().providers))
    sync("--source", "genai-prices", "--url", url)
    suggested = SourceMapping.objects.filter(source="genai-prices")
    assert suggested.count() >= 35  # of the 58 seeded models
    services.set_mapping_status(suggested, MappingStatus.CONFIRMED, user=editor, reason="checked")

    assert sync("--source", "genai-prices", "--url", url) == 3

    run = SyncRun.objects.latest("pk")
    gpt_input = run.changes.get(model_key="openai:gpt-5", column="input_price")
    assert (gpt_input.old, gpt_input.new) == ("2.5", "1.25") and "price_jump" in gpt_input.flags
    batch = run.changes.get(model_key="openai:gpt-5", column="service_tiers")
    assert (batch.old, batch.new["batch"]["input"]) == (None, "0.625")  # none before
    # New models of the mapped first-party providers make this a large run: every row needs a look.
    assert run.changes.filter(kind="new_model").count() > 100 and run.changes.count() > 200
    assert all("large_run" in change.flags for change in run.changes.all())


def test_the_guard_rails_come_from_the_settings(mapped, settings):
    settings.SYNC_MAX_PRICE_CHANGE = (
        "0.6"  # GPT-5's input -50% is now within bounds; Gemini's output +100% is not
    )
    run = services.run_sync(source="models-dev", data=SOURCE, origin="test").run
    assert run.changes.get(model_key="openai:gpt-5", column="input_price").flags == []
    assert run.changes.get(model_key="google:gemini-2.5-pro", column="output_price").flags == ["price_jump"]
    settings.SYNC_MAX_CHANGES = 3
    run = services.run_sync(source="models-dev", data=SOURCE, origin="test").run
    assert all("large_run" in change.flags for change in run.changes.all())


def test_apply_is_refused_when_a_scheduled_price_took_effect_since_the_run(mapped, source_server, editor):
    sync("--source", "models-dev", "--url", source_server.serve("/api.json", SOURCE))
    run = SyncRun.objects.get()
    services.decide(
        run.changes.filter(model_key="openai:gpt-5", column="input_price"),
        decision=Decision.ACCEPTED,
        user=editor,
        reason="ok",
        confirm_flagged=True,
    )
    gpt = AIModel.objects.get(model_id="openai:gpt-5")
    # The clock, not a write: an entry in force now (no new version) moved the input price under the run.
    AIModel.objects.filter(pk=gpt.pk).update(
        price_schedule=[
            {"effective_from": "2020-01-01T00:00:00Z", "pricing": {"input": "2.5", "output": "10"}},
            {"effective_from": "2026-01-01T00:00:00Z", "pricing": {"input": "2", "output": "10"}},
        ]
    )

    with pytest.raises(ValidationError, match="a scheduled price that took effect"):
        services.apply_run(run, user=editor, reason="late")


def test_confirming_a_second_key_for_a_model_is_refused_in_words(mapped, editor):
    second = writes.create(
        SourceMapping(
            model=AIModel.objects.get(model_id="openai:gpt-5"),
            source="models-dev",
            upstream_key="openai/gpt-5-chat",
        ),
        user=None,
        reason="suggested",
    )

    with pytest.raises(ValidationError, match="already has a confirmed models-dev key"):
        services.set_mapping_status([second], MappingStatus.CONFIRMED, user=editor, reason="oops")

    second.refresh_from_db()
    assert second.status == MappingStatus.SUGGESTED


def test_values_the_source_gives_inexactly_are_listed_in_the_run(seeded, packaged_models_dev):
    run = services.run_sync(source="models-dev", data=packaged_models_dev, origin="packaged").run
    artefacts = [problem for problem in run.problems if "more precision than stored" in problem]
    assert len(artefacts) >= 100  # float artefacts such as 0.30000000000000004, reported, never rounded
    assert all(problem.split(": ", 1)[0].count("/") >= 1 for problem in artefacts)  # each names its model
