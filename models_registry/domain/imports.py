"""JSON import files: parsing, row validation and the import plan.

Pure Python, no ORM. The file format is a JSON list of model objects in the
shape of the static catalog's entries (``fixtures/static_catalog.json``): the
same shape the admin exports, so exporting and re-importing changes nothing.

:func:`plan_import` compares every entry with the current catalog and says,
per row, whether it is new, an update (with its field-level diff) or
unchanged, and lists every problem with the row number, the model id and the
field. :func:`models_registry.catalog.services.import_models` turns a plan into
writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, overload

from models_registry.domain.fields import (
    EDITABLE_COLUMNS,
    FILE_KEY_FOR_COLUMN,
    columns_from_read,
    file_entry,
    printable,
)
from models_registry.domain.static_catalog import CatalogError, parse_entry
from models_registry.domain.types import FieldChange, ModelConfig, format_money

NEW, UPDATE, UNCHANGED = "new", "update", "unchanged"

# Model fields an import sets, and where each lives in the file (so errors name what the user wrote).
IMPORTED_FIELDS = EDITABLE_COLUMNS
ENTRY_KEY_FOR_FIELD: dict[str, str] = FILE_KEY_FOR_COLUMN

# Keys that exports of ``ModelConfig.to_dict()`` carry but an import does not
# apply: a provider's display name is edited on the provider, not per model.
IGNORED_KEYS = frozenset({"provider_name", "provider_first_party"})


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not JSON, not a list, empty)."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based position in the file's list
    model_id: str
    field: str  # as spelled in the file: "pricing.input", "reasoning", ...
    message: str

    def __post_init__(self) -> None:
        # Ids and keys come from the file: keep them printable (no lone surrogates).
        for name in ("model_id", "field", "message"):
            object.__setattr__(self, name, printable(getattr(self, name)))

    def __str__(self) -> str:
        where = f"Row {self.row}" + (f" ({self.model_id})" if self.model_id else "")
        return f"{where}: {self.field}: {self.message}"


class NewRowChanges(Sequence[FieldChange]):
    """A new row's changes: every imported field, ``old`` ``None``, ``new`` from the row's values.

    Made when read, not stored: a plan of thousands of new rows would otherwise
    hold one ``FieldChange`` per field and row beside the values they repeat.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(IMPORTED_FIELDS)

    @overload
    def __getitem__(self, index: int) -> FieldChange: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[FieldChange, ...]: ...
    def __getitem__(self, index: int | slice) -> FieldChange | tuple[FieldChange, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(len(self))[index])
        name = IMPORTED_FIELDS[index]
        return FieldChange(name, None, self._values[name])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # like the values it reads

    def __repr__(self) -> str:
        return repr(tuple(self))


@dataclass(frozen=True, slots=True)
class PlannedRow:
    number: int
    model_id: str
    action: str  # NEW, UPDATE or UNCHANGED
    changes: Sequence[FieldChange]  # for NEW: every field with old=None (a NewRowChanges)
    values: Mapping[str, Any]  # model field values; "provider" is the provider slug


@dataclass(frozen=True, slots=True)
class ImportPlan:
    rows: tuple[PlannedRow, ...]
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def with_errors(self, errors: Collection[RowError]) -> ImportPlan:
        merged = sorted({*self.errors, *errors}, key=lambda error: (error.row, error.field, error.message))
        return ImportPlan(rows=self.rows, errors=tuple(merged))

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def digest(self) -> str:
        """A fingerprint of what applying the plan would do, to tell whether it changed since a preview."""
        # Hashed row by row: one JSON text of the whole plan would cost as much as the plan.
        digest = hashlib.sha256()
        for row in self.rows:
            line = [row.model_id, row.action, [[c.field, _plain(c.old), _plain(c.new)] for c in row.changes]]
            digest.update(json.dumps(line, sort_keys=True).encode())
            digest.update(b"\n")
        return digest.hexdigest()


def _plain(value: Any) -> Any:
    """A JSON-ready form of a field value (prices as exact strings)."""
    if hasattr(value, "as_tuple"):  # Decimal
        return format_money(value)
    if isinstance(value, date):  # deprecation_date (and datetimes): json cannot encode them
        return value.isoformat()
    return value


class TooManyRows(ImportFileError):
    """The file holds more entries than an import may apply at once."""

    def __init__(self, count: int, limit: int) -> None:
        self.count, self.limit = count, limit
        super().__init__(
            f"The file has {count:,} models; the limit is {limit:,} (IMPORT_MAX_ROWS). Split the file."
        )


_WHITESPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, as json.loads skips it
_DECODER = json.JSONDecoder()


def _count_entries(text: str) -> int | None:
    """How many model entries ``text`` holds (its top-level list, or the ``models`` list of a
    catalog-shaped object), reading them one at a time.

    Each entry is dropped as soon as it is read, so a file far above the limit is
    refused without holding its rows. ``None`` when ``text`` is not well-formed
    (``json.loads`` then says why).
    """
    position = _WHITESPACE.match(text).end()
    if text.startswith("[", position):
        counted = _count_array(text, position)
    elif text.startswith("{", position):
        counted = _count_models_of_object(text, position)
    else:
        return None
    if counted is None:
        return None
    count, position = counted
    return count if _WHITESPACE.match(text, position).end() == len(text) else None


def _count_models_of_object(text: str, position: int) -> tuple[int, int] | None:
    """(entries of the object's ``models`` list, the position after the object); other members
    (the providers: a few dozen) are decoded and dropped."""
    position = _WHITESPACE.match(text, position + 1).end()
    count = None
    if text.startswith("}", position):
        return None
    while True:
        try:
            key, position = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError:
            return None
        position = _WHITESPACE.match(text, position).end()
        if not isinstance(key, str) or not text.startswith(":", position):
            return None
        position = _WHITESPACE.match(text, position + 1).end()
        if key == "models" and text.startswith("[", position):
            counted = _count_array(text, position)
            if counted is None:
                return None
            count, position = counted
        else:
            try:
                _, position = _DECODER.raw_decode(text, position)
            except json.JSONDecodeError:
                return None
        position = _WHITESPACE.match(text, position).end()
        if text.startswith(",", position):
            position = _WHITESPACE.match(text, position + 1).end()
        elif text.startswith("}", position):
            return (count, position + 1) if count is not None else None
        else:
            return None


def _count_array(text: str, position: int) -> tuple[int, int] | None:
    """(entries of the JSON list starting at ``position``, the position after it)."""
    position = _WHITESPACE.match(text, position + 1).end()
    count = 0
    if text.startswith("]", position):
        return 0, position + 1
    while True:
        try:
            _, position = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError:
            return None
        count += 1
        position = _WHITESPACE.match(text, position).end()
        if text.startswith(",", position):
            position = _WHITESPACE.match(text, position + 1).end()
        elif text.startswith("]", position):
            return count, position + 1
        else:
            return None


def parse_import_text(text: str, *, max_rows: int | None = None) -> list[Any]:
    """The entries of an import file.

    Raises :class:`ImportFileError` for a file that is not a JSON list, and
    :class:`TooManyRows` for a list of more than ``max_rows`` entries.
    """
    try:
        # Entries are separated by commas: with fewer commas than the limit, none is needed.
        if max_rows is not None and text.count(",") >= max_rows:
            count = _count_entries(text)
            if count is not None and count > max_rows:
                raise TooManyRows(count, max_rows)
        # Within the limit, one json.loads: its entries share their key strings (a memo per call).
        document = json.loads(text)
    except RecursionError:
        raise ImportFileError("The file is nested too deeply to be a catalog.") from None
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    if isinstance(document, dict) and "models" in document:
        document = _entries_of_catalog_document(document)
        if max_rows is not None and len(document) > max_rows:
            raise TooManyRows(len(document), max_rows)
    if not isinstance(document, list):
        kind = type(document).__name__
        kind = {"dict": "an object", "str": "a string", "NoneType": "null"}.get(kind, f"a {kind}")
        raise ImportFileError(
            "The file must contain a JSON list of models or a catalog object with a list of models, "
            f"not {kind}."
        )
    if not document:
        raise ImportFileError("The file contains an empty list: there is nothing to import.")
    return document


def _entries_of_catalog_document(document: dict[str, Any]) -> list[Any]:
    """The model entries of a catalog-shaped file (``{"providers": [...], "models": [...]}``, as the
    static catalog), each carrying its provider's ``name`` and ``first_party`` for a provider the
    import creates (as ``provider_name`` and ``provider_first_party``)."""
    models, providers = document.get("models"), document.get("providers") or []
    if not isinstance(models, list) or not isinstance(providers, list):
        raise ImportFileError("In a catalog object, 'models' and 'providers' must be lists.")
    described: dict[str, dict[str, Any]] = {}
    for item in providers:
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
            raise ImportFileError(f"Bad provider entry {item!r}: it needs a 'slug'.")
        first_party = item.get("first_party", False)
        if not isinstance(first_party, bool):
            raise ImportFileError(f"Provider {item['slug']}: first_party must be true or false.")
        described[item["slug"]] = {
            "provider_name": item.get("name") or item["slug"],
            "provider_first_party": first_party,
        }
    return [
        {**described[entry["provider"]], **entry}
        if isinstance(entry, dict)
        and isinstance(entry.get("provider"), str)
        and entry["provider"] in described
        else entry
        for entry in models
    ]


def catalog_entry(config: ModelConfig) -> dict[str, Any]:
    """One model in the import/export file shape (the static catalog's entry shape)."""
    return file_entry(config)


def model_field_values(config: ModelConfig) -> dict[str, Any]:
    """The ``AIModel`` field values a config stands for, ``provider`` as its slug."""
    return columns_from_read(config)


def _merged_entry(current: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    # An update only needs the keys it changes: absent keys keep their current
    # values, and "pricing" merges price by price.
    merged = {**current, **entry}
    if isinstance(current.get("pricing"), Mapping) and isinstance(entry.get("pricing"), Mapping):
        merged["pricing"] = {**current["pricing"], **entry["pricing"]}
    return merged


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, old[name], new[name]) for name in IMPORTED_FIELDS if old[name] != new[name]
    )


def plan_import(
    entries: list[Any],
    *,
    current: Mapping[str, ModelConfig],
    provider_slugs: Collection[str],
) -> ImportPlan:
    """Compare ``entries`` with the ``current`` catalog (model id → config).

    Merge semantics: existing ids are updated, new ids created, ids absent from
    the file are left alone (never deleted). Every problem found is reported;
    the plan is only applicable when it has none.
    """
    known_providers = {slug: slug for slug in provider_slugs}
    rows: list[PlannedRow] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}

    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            errors.append(RowError(number, "", "entry", "must be a JSON object"))
            continue
        entry = {key: value for key, value in entry.items() if key not in IGNORED_KEYS}
        model_id = entry.get("id") if isinstance(entry.get("id"), str) else ""
        if model_id and model_id in first_row_of:
            errors.append(
                RowError(
                    number,
                    model_id,
                    "id",
                    f"appears twice in the file (rows {first_row_of[model_id]} and {number})",
                )
            )
            continue
        if model_id:
            first_row_of[model_id] = number

        existing = current.get(model_id) if model_id else None
        candidate = _merged_entry(catalog_entry(existing), entry) if existing else entry
        try:
            config = parse_entry(candidate, known_providers)
        except CatalogError as exc:
            errors += [
                RowError(number, problem.model_id or model_id, problem.field, problem.message)
                for problem in exc.problems
            ]
            continue

        values = model_field_values(config)
        if existing is None:
            rows.append(PlannedRow(number, config.id, NEW, NewRowChanges(values), values))
        else:
            changes = _diff(model_field_values(existing), values)
            rows.append(PlannedRow(number, config.id, UPDATE if changes else UNCHANGED, changes, values))

    return ImportPlan(rows=tuple(rows), errors=tuple(errors))
