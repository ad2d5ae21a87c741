"""Parity check between the static catalog and the database.

``compare_catalogs`` is pure: it takes both catalogs as ``ModelConfig``s plus
the rows that could not be read, and reports

- errors: static models missing from the database, and invalid rows;
- differences: per model and field, static → database. Those are usually
  intended edits made in the admin, so they are shown, not treated as errors.
  Price differences come with the cost drift on a reference request, flagged
  above 5%.

``models_registry.rollout.parity.run_parity_check`` loads both sides and calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from models_registry.domain.fields import FILE_KEYS, file_entry
from models_registry.domain.pricing import TokenUsage, breakdown
from models_registry.domain.types import ModelConfig

# A typical chat turn: 10k tokens in (2k of them cached), 2k out (500 reasoning).
REFERENCE_USAGE = {
    "input_tokens": 10_000,
    "cached_input_tokens": 2_000,
    "output_tokens": 2_000,
    "reasoning_tokens": 500,
}
# The drift is the largest over these: the typical turn, a turn that writes the cache, and a
# long-context one (300k prompt tokens: past every common tier threshold).
REFERENCE_USAGES: tuple[TokenUsage, ...] = (
    TokenUsage(**REFERENCE_USAGE),
    TokenUsage(input_tokens=10_000, cached_input_tokens=2_000, cache_write_tokens=4_000,
               cache_write_1h_tokens=1_000, output_tokens=2_000),
    TokenUsage(input_tokens=300_000, cached_input_tokens=100_000,
               output_tokens=4_000, reasoning_tokens=1_000),
)  # fmt: skip
DRIFT_THRESHOLD = Decimal("0.05")

# Every file key but the id and the price timeline (history of the database's own edits; the
# prices in force are compared): what a static entry and a database row are compared on.
_COMPARED_KEYS = tuple(key for key in FILE_KEYS if key not in ("id", "price_schedule"))


@dataclass(frozen=True, slots=True)
class FieldDifference:
    field: str
    static: object
    database: object


@dataclass(frozen=True, slots=True)
class ModelDifference:
    model_id: str
    fields: tuple[FieldDifference, ...]
    cost_drift: Decimal | None = None  # relative change of the reference cost, None if prices equal

    @property
    def drift_flagged(self) -> bool:
        return self.cost_drift is not None and abs(self.cost_drift) > DRIFT_THRESHOLD


@dataclass
class ParityReport:
    missing_in_database: list[str] = field(default_factory=list)
    only_in_database: list[str] = field(default_factory=list)
    invalid_rows: dict[str, str] = field(default_factory=dict)
    differences: list[ModelDifference] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f"{model_id}: in the static catalog but missing from the database"
                for model_id in self.missing_in_database] + [
            f"{model_id}: invalid row: {message}" for model_id, message in self.invalid_rows.items()
        ]  # fmt: skip

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self, limit: int | None = None) -> list[str]:
        """The report as text lines, errors first.

        With ``limit``, at most that many errors, new models and changed models are listed, each
        list followed by how many more there are (a page stays small at 5,000 models).
        """
        errors, new, differences = self.errors, self.only_in_database, self.differences
        out = [f"ERROR {error}" for error in errors[:limit]]
        out += _more(len(errors), limit, "error")
        out += [f"new in database (not in static catalog): {model_id}" for model_id in new[:limit]]
        out += _more(len(new), limit, "model new in database")
        for diff in differences[:limit]:
            drift = ""
            if diff.cost_drift is not None:
                flag = "  <-- above 5%" if diff.drift_flagged else ""
                drift = f" (reference cost drift {diff.cost_drift * 100:+.1f}%{flag})"
            out.append(f"changed {diff.model_id}{drift}")
            out += [f"    {d.field}: {d.static!r} -> {d.database!r}" for d in diff.fields]
        out += _more(len(differences), limit, "changed model")
        summary = (
            f"{len(self.errors)} error(s), {len(self.differences)} changed model(s), "
            f"{len(self.only_in_database)} new in database"
        )
        return [*out, summary]


def _more(total: int, limit: int | None, what: str) -> list[str]:
    if limit is None or total <= limit:
        return []
    return [f"... and {total - limit:,} more {what}(s): see the full report"]


def _drift(static: ModelConfig, database: ModelConfig) -> Decimal | None:
    """The largest relative change of a reference request's cost, at the prices in force now."""
    static_pricing, database_pricing = static.pricing_at()[0], database.pricing_at()[0]
    largest = None
    for usage in REFERENCE_USAGES:
        before = breakdown(static_pricing, usage).total
        after = breakdown(database_pricing, usage).total
        if before == after:
            continue
        drift = Decimal("Infinity") if before == 0 else (after - before) / before
        if largest is None or abs(drift) > abs(largest):
            largest = drift
    return largest


def compare_catalogs(
    static: Mapping[str, ModelConfig],
    database: Mapping[str, ModelConfig],
    invalid_rows: Mapping[str, str] | None = None,
) -> ParityReport:
    invalid_rows = dict(invalid_rows or {})
    report = ParityReport(invalid_rows=invalid_rows)
    report.missing_in_database = sorted(set(static) - set(database) - set(invalid_rows))
    report.only_in_database = sorted(set(database) - set(static))
    for model_id in sorted(set(static) & set(database)):
        before, after = file_entry(static[model_id]), file_entry(database[model_id])
        fields = tuple(
            FieldDifference(key, before[key], after[key])
            for key in _COMPARED_KEYS
            if before[key] != after[key]
        )
        if fields:
            drift = (
                _drift(static[model_id], database[model_id])
                if any(f.field == "pricing" for f in fields)
                else None
            )
            report.differences.append(ModelDifference(model_id, fields, drift))
    return report
