"""Each snapshot area rebuilds alone, and the catalog reloads only the rows written since it loaded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autorouter import state as router_state
from autorouter.models import ModelProfile
from autorouter.services import seed_config, seed_profiles, update_profile
from models_registry import registry
from models_registry.catalog.services import update_model, update_provider
from models_registry.models import AIModel, Provider
from models_registry.read import catalog_version
from models_registry.rollout.flags import DB_MODELS_FLAG, set_flag_percent

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_reads(settings):
    settings.MODELS_REGISTRY_SOURCE = "database"
    settings.REGISTRY_REFRESH_SECONDS = 0  # every read checks the version: what moved shows at once


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a write as a committed one (its on-commit announcements included)."""

    def run(write, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run


def _catalog_loads(monkeypatch) -> dict[str, int]:
    """Count the catalog snapshot's whole loads and incremental refreshes from now on."""
    calls = {"whole": 0, "incremental": 0}
    snapshot = registry.database_snapshot
    loader, refresh = snapshot.loader, snapshot.refresh

    def whole():
        calls["whole"] += 1
        return loader()

    def incremental(previous):
        calls["incremental"] += 1
        return refresh(previous)

    monkeypatch.setattr(snapshot, "loader", whole)
    monkeypatch.setattr(snapshot, "refresh", incremental)
    return calls


def test_a_profile_save_does_not_rebuild_the_catalog(seeded, database_reads, committed, monkeypatch):
    committed(seed_config)
    committed(seed_profiles)
    index = registry.database_snapshot.get()
    router_before = router_state.database_state()
    calls = _catalog_loads(monkeypatch)

    profile = ModelProfile.objects.get(model_id="openai:gpt-5")
    committed(update_profile, profile, user=None, reason="coding is better", changes={"coding": 99})

    router_after = router_state.database_state()
    assert router_after is not router_before  # the router's area moved: its snapshot was rebuilt
    assert router_after.profiles["openai:gpt-5"].scores["coding"] == 99
    assert registry.database_snapshot.get() is index  # the catalog's did not
    assert calls == {"whole": 0, "incremental": 0}


def test_a_flag_change_does_not_rebuild_the_catalog(seeded, database_reads, committed, monkeypatch, editor):
    index = registry.database_snapshot.get()
    calls = _catalog_loads(monkeypatch)
    committed(set_flag_percent, DB_MODELS_FLAG, 1, user=editor, reason="first stage")
    assert registry.database_snapshot.get() is index
    assert calls == {"whole": 0, "incremental": 0}


def test_a_one_model_write_reloads_that_row_only(seeded, database_reads, committed, monkeypatch):
    before = registry.database_snapshot.get()
    calls = _catalog_loads(monkeypatch)
    row = AIModel.objects.get(model_id="openai:gpt-5")
    committed(update_model, row, user=None, reason="price drop", changes={"input_price": Decimal("1.5")})

    with CaptureQueriesContext(connection) as queries:
        after = registry.database_snapshot.get()
    assert calls == {"whole": 0, "incremental": 1}
    assert after.by_id["openai:gpt-5"].pricing.input == Decimal("1.5")
    # Every other model is the very object the previous snapshot held: nothing else was rebuilt.
    unchanged = [model_id for model_id in before.by_id if model_id != "openai:gpt-5"]
    assert all(after.by_id[model_id] is before.by_id[model_id] for model_id in unchanged)
    assert [model.id for model in after.models] == [model.id for model in before.models]
    # The version (a Redis read when Redis carries it), the changed rows (models and providers in
    # one statement), the row count: whatever the catalog's size.
    assert len(queries) == 3 - catalog_version.uses_redis()
    changed_rows_sql = queries.captured_queries[-2]["sql"]
    assert "catalog_revision" in changed_rows_sql


def test_a_provider_edit_reloads_its_models(seeded, database_reads, committed, editor):
    before = registry.database_snapshot.get()
    provider = Provider.objects.get(slug="openai")
    committed(update_provider, provider, user=editor, reason="rebrand", changes={"name": "OpenAI, Inc."})
    after = registry.database_snapshot.get()
    assert {m.provider_name for m in after.models if m.provider == "openai"} == {"OpenAI, Inc."}
    others = [m.id for m in before.models if m.provider != "openai"]
    assert all(after.by_id[model_id] is before.by_id[model_id] for model_id in others)


def test_rows_written_around_the_audited_writes_fall_back_to_a_whole_load(
    seeded, database_reads, monkeypatch
):
    before = registry.database_snapshot.get()
    calls = _catalog_loads(monkeypatch)
    template = AIModel.objects.get(model_id="openai:gpt-5")
    template.pk = None
    template.model_id = "openai:gpt-5-bulk"
    template.save()  # a bulk load that bypassed the audited writes: nothing stamped
    catalog_version.bump_database_version()
    catalog_version.mark_local_snapshots_stale([catalog_version.CATALOG])
    with CaptureQueriesContext(connection) as queries:
        after = registry.database_snapshot.get()
    assert calls["incremental"] == 1
    # The unstamped row is found all the same: the count did not add up, so the refresh loaded whole.
    assert "openai:gpt-5-bulk" in after.by_id and len(after.models) == len(before.models) + 1
    assert len(queries) == 4 - catalog_version.uses_redis()


def test_static_catalog_providers_are_first_party_and_import_created_ones_are_not(seeded, database_reads):
    index = registry.database_snapshot.get()
    assert index.by_id["anthropic:claude-sonnet-4.5"].provider_first_party
    assert all(Provider.objects.values_list("first_party", flat=True))
    assert not Provider(slug="aihubmix", name="AIHubMix").first_party  # the default for new ones


def test_a_refresh_that_finds_nothing_keeps_the_index(seeded, database_reads):
    """With Redis the version moves twice per write (the news, then the database check): the second
    refresh finds nothing and must keep the index, and the search and routing indexes built on it."""
    index = registry.database_snapshot.get()
    assert registry._refresh_database_index(index) is index


def test_a_provider_edit_then_reads_stay_incremental(seeded, database_reads, committed, editor, monkeypatch):
    """A provider's revision counts as the catalog's: the next refresh is not taken for a restore."""
    registry.database_snapshot.get()
    provider = Provider.objects.get(slug="openai")
    committed(update_provider, provider, user=editor, reason="rebrand", changes={"name": "OpenAI, Inc."})
    registry.database_snapshot.get()
    loads = {"whole": 0}
    original = registry._load_database_index

    def whole():
        loads["whole"] += 1
        return original()

    monkeypatch.setattr(registry, "_load_database_index", whole)
    provider.refresh_from_db()
    committed(update_provider, provider, user=editor, reason="again", changes={"name": "OpenAI"})
    assert {m.provider_name for m in registry.database_snapshot.get().models if m.provider == "openai"} == {
        "OpenAI"
    }
    assert loads["whole"] == 0
