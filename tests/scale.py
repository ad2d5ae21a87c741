"""Big catalogs for the tests that show a page or a read does not grow with the catalog.

``bulk_catalog(5000)`` fills the database from :func:`bench.synthetic_catalog.synthetic_document`
with ``bulk_create``: no history rows, no change log, no validation beyond the file's
(a 5,000-model catalog takes about a second on SQLite instead of minutes through the
audited writes). Throwaway test data only: never use it on a database anyone reads.

    created = bulk_catalog(50)                          # 50 models, ~80 providers, no profiles
    created = bulk_catalog(5000, profiles_share=0.5)    # tops the catalog up to 5,000, half profiled

Calling it again with a bigger size tops the catalog up: models whose id exists are skipped,
so a test can measure a page at 50 models, grow the catalog, and measure again.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from django.db import transaction

from autorouter.models import ModelProfile
from autorouter.types import CATEGORIES, ROUTER_AREA
from models_registry.domain.fields import columns_from_entry
from models_registry.models import AIModel, Provider
from models_registry.read.catalog_version import CATALOG, bump_on_commit
from models_registry.read.snapshot import invalidate_all

_BENCH = Path(__file__).resolve().parents[1] / "bench"
BATCH_SIZE = 500


@dataclass
class BulkCatalog:
    """What one :func:`bulk_catalog` call created."""

    providers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)


def _generator() -> ModuleType:
    # bench/ is a folder of scripts, not a package: import its generator by path.
    if str(_BENCH) not in sys.path:
        sys.path.insert(0, str(_BENCH))
    return importlib.import_module("synthetic_catalog")


@lru_cache(maxsize=8)
def _document(size: int, seed: int) -> dict[str, Any]:
    return _generator().synthetic_document(size, seed=seed)


@lru_cache(maxsize=8)
def _profiles(size: int, seed: int, share: float) -> dict[str, Any]:
    return _generator().synthetic_profiles(_document(size, seed), share=share)


def bulk_catalog(size: int, *, profiles_share: float = 0.0, seed: int = 5000) -> BulkCatalog:
    """Bulk-insert a synthetic catalog of ``size`` models (and router profiles for ``profiles_share``).

    Providers and models that already exist (by slug, by id) are left alone; a profile is made
    only for a model created here. The registry's and the router's snapshots are invalidated,
    so the next read sees the new rows.
    """
    document = _document(size, seed)
    profiles = _profiles(size, seed, profiles_share) if profiles_share else {}
    created = BulkCatalog()
    with transaction.atomic():
        providers = {provider.slug: provider for provider in Provider.objects.all()}
        new_providers = [
            Provider(slug=item["slug"], name=item["name"], first_party=item.get("first_party", False))
            for item in document["providers"]
            if item["slug"] not in providers
        ]
        Provider.objects.bulk_create(new_providers, batch_size=BATCH_SIZE)
        # Re-read: bulk_create does not set primary keys on every backend.
        providers = {provider.slug: provider for provider in Provider.objects.all()}
        created.providers = [provider.slug for provider in new_providers]

        existing = set(AIModel.objects.values_list("model_id", flat=True))
        rows = []
        for entry in document["models"]:
            if entry["id"] in existing:
                continue
            columns = columns_from_entry(entry, entry["id"])
            slug = columns.pop("provider")
            rows.append(AIModel(provider=providers[slug], **columns))
        AIModel.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        created.models = [row.model_id for row in rows]

        new_ids = set(created.models)
        profile_rows = [
            ModelProfile(
                model_id=model_id,
                quality=values["quality"],
                **{category: values["scores"][category] for category in CATEGORIES},
            )
            for model_id, values in profiles.items()
            if model_id in new_ids
        ]
        ModelProfile.objects.bulk_create(profile_rows, batch_size=BATCH_SIZE)
        created.profiles = [row.model_id for row in profile_rows]
        # Other processes (a live server) see the rows through the versions, as after an audited write.
        bump_on_commit((CATALOG, ROUTER_AREA) if profile_rows else (CATALOG,))
    # Inside a test's transaction the commit never comes: drop the in-process snapshots now.
    invalidate_all()
    return created
