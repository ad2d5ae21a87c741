"""The parity check of the rollout: the static catalog against the database as it is now."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from models_registry.catalog.conversions import config_from_model
from models_registry.catalog.models import AIModel
from models_registry.domain.parity import ParityReport, compare_catalogs
from models_registry.domain.static_catalog import load_static_catalog
from models_registry.domain.types import ModelConfig
from models_registry.read.snapshot import SnapshotUnavailable, VersionedSnapshot

_FOREIGN_KEYS = [field.name for field in AIModel._meta.concrete_fields if field.is_relation]


def run_parity_check() -> ParityReport:
    """Compare the static catalog with the database as it is now."""
    database: dict[str, ModelConfig] = {}
    invalid: dict[str, str] = {}
    for row in AIModel.objects.select_related("provider"):
        try:
            # The foreign keys are the database's to enforce: validating them here would cost a
            # query per key per model (8,000 at LiteLLM's catalog size).
            row.full_clean(exclude=_FOREIGN_KEYS, validate_unique=False, validate_constraints=False)
            database[row.model_id] = config_from_model(row)
        except ValidationError as exc:
            invalid[row.model_id] = "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()
            )
    return compare_catalogs(load_static_catalog().by_id(), database, invalid)


# The rollout page shows the report of the catalog as last written: checking 5,000 rows takes
# about a second, and the answer changes only when the catalog does. Decisions (an advance,
# registry_check) run the check afresh.
_page_report: VersionedSnapshot[ParityReport] = VersionedSnapshot(
    run_parity_check, name="parity-report", background=False
)


def parity_report_for_page() -> ParityReport:
    """The parity report as of the catalog's current version (recomputed after a write)."""
    try:
        return _page_report.get()
    except SnapshotUnavailable:
        return run_parity_check()  # raises the database's error, as an uncached check would
