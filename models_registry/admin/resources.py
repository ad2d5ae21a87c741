"""django-import-export glue for the catalog's JSON files.

The file is a JSON list of nested model objects (prices under ``pricing``,
capabilities as a list), not a table, so the stock row-by-row machinery does
not fit. Instead:

- :class:`CatalogJSON` is a format whose dataset has one column, ``entry``,
  holding each object as parsed; a file that is not a JSON list is refused
  with a readable message before any row is looked at.
- :class:`AIModelResource` exports rows in that shape and imports by handing
  the whole list to :func:`models_registry.catalog.services.import_models`, which
  validates every row, writes all or nothing in one transaction and records
  history. Its result is translated into import-export's ``Result`` so the
  admin's preview / confirm flow, permissions and temp storage work as usual.
"""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

import tablib
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from import_export import resources
from import_export.fields import Field
from import_export.formats.base_formats import Format
from import_export.results import Error, Result, RowResult

from models_registry.audit.values import describe_value
from models_registry.catalog import services
from models_registry.catalog.conversions import config_from_model
from models_registry.domain.fields import FILE_KEYS
from models_registry.domain.imports import (
    NEW,
    UNCHANGED,
    UPDATE,
    ImportFileError,
    ImportPlan,
    PlannedRow,
    catalog_entry,
    parse_import_text,
)
from models_registry.models import AIModel

ENTRY_COLUMN = "entry"


EXPIRED_MESSAGE = "This preview has expired; upload the file again."


def import_max_rows() -> int:
    return int(getattr(settings, "IMPORT_MAX_ROWS", 10_000))


class CatalogJSON(Format):
    """A JSON list of model objects, read and written whole."""

    def __init__(self, encoding: str | None = None) -> None:
        self.encoding = encoding

    def get_title(self) -> str:
        return "json"

    def create_dataset(self, in_stream: str | bytes | None) -> tablib.Dataset:
        if in_stream is None:  # the temporary copy is gone (expired, cancelled, or confirmed already)
            raise ImportFileError(EXPIRED_MESSAGE)
        if isinstance(in_stream, bytes):
            try:
                in_stream = in_stream.decode(self.encoding or "utf-8-sig")
            except UnicodeDecodeError:
                raise ImportFileError("The file is not UTF-8 text.") from None
        # Refused above IMPORT_MAX_ROWS while only counting: the rows are never all held.
        entries = parse_import_text(in_stream, max_rows=import_max_rows())
        del in_stream  # the text is no longer needed once parsed
        dataset = tablib.Dataset(headers=[ENTRY_COLUMN])
        for entry in entries:
            dataset.append([entry])
        return dataset

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> str:
        entries = [row[0] for row in dataset]
        return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"

    def is_binary(self) -> bool:
        return False

    def get_read_mode(self) -> str:
        return "r"

    def get_extension(self) -> str:
        return "json"

    def get_content_type(self) -> str:
        return "application/json"

    def can_import(self) -> bool:
        return True

    def can_export(self) -> bool:
        return True


class CatalogImportResult(Result):
    """import-export's result plus the plan it came from, for the preview template.

    Bounded whatever the file's size: a preview holds row results (with their
    diffs) for one page of new and updated rows only, a confirm holds one per
    written row (for the admin log) without diffs, and unchanged rows are only
    counted. ``totals`` still counts every row.
    """

    PAGE_SIZE = 100  # changed rows per preview page
    ERRORS_SHOWN = 500  # row errors listed on a refused preview

    def __init__(self, plan: ImportPlan | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.reason = ""
        self.new_providers: list[str] = []
        self.page = 1
        self.changed_count = 0  # new and updated rows in the whole file
        self.unchanged_count = 0
        self.unchanged_ids: list[str] = []  # the first PAGE_SIZE of them, for the preview

    @property
    def plan_digest(self) -> str:
        return self.plan.digest if self.plan is not None else ""

    @property
    def unchanged_not_listed(self) -> int:
        return self.unchanged_count - len(self.unchanged_ids)

    @property
    def page_count(self) -> int:
        return max(1, -(-self.changed_count // self.PAGE_SIZE))

    @property
    def page_rows(self) -> list[RowResult]:
        """The new and updated rows the preview shows: those of ``page`` (see ``_add_rows``)."""
        return self.rows

    @property
    def page_first(self) -> int:
        """Position of the page's first row among the changed rows (1-based)."""
        return (self.page - 1) * self.PAGE_SIZE + 1

    @property
    def page_last(self) -> int:
        return min(self.page * self.PAGE_SIZE, self.changed_count)

    @property
    def previous_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.page < self.page_count else None

    @property
    def row_error_list(self) -> list:
        return list(self.plan.errors) if self.plan is not None else []

    @property
    def shown_errors(self) -> list:
        """The first row errors, for the page (a file of thousands of bad rows must not make it huge)."""
        return self.row_error_list[: self.ERRORS_SHOWN]

    @property
    def errors_not_shown(self) -> int:
        return max(0, len(self.plan.errors) - self.ERRORS_SHOWN) if self.plan is not None else 0


_IMPORT_TYPES = {
    NEW: RowResult.IMPORT_TYPE_NEW,
    UPDATE: RowResult.IMPORT_TYPE_UPDATE,
    UNCHANGED: RowResult.IMPORT_TYPE_SKIP,
}


class AIModelResource(resources.Resource):
    """AI models as import/export file entries (the static catalog's entry shape)."""

    class Meta:
        model = AIModel
        name = "AI models (JSON catalog entries)"

    @classmethod
    def get_display_name(cls) -> str:
        return cls._meta.name

    def get_import_fields(self) -> list[Field]:
        # Only used to list, on the import page, the keys a file may use.
        return [Field(column_name=key) for key in FILE_KEYS]

    def get_export_headers(self, selected_fields: Any = None) -> list[str]:
        return [ENTRY_COLUMN]

    def export(self, queryset: Any = None, **kwargs: Any) -> tablib.Dataset:
        if queryset is None:
            queryset = AIModel.objects.all()
        dataset = tablib.Dataset(headers=[ENTRY_COLUMN])
        for row in queryset.select_related("provider").order_by("model_id").iterator(chunk_size=1000):
            dataset.append([catalog_entry(config_from_model(row))])
        return dataset

    def import_data(
        self,
        dataset: tablib.Dataset,
        dry_run: bool = False,
        raise_errors: bool = False,
        use_transactions: bool | None = None,
        collect_failed_rows: bool = False,
        rollback_on_validation_errors: bool = False,
        **kwargs: Any,
    ) -> CatalogImportResult:
        """Plan (``dry_run``) or apply the whole file through ``services.import_models``."""
        reason = (kwargs.get("reason") or "").strip() or services.import_default_reason(
            kwargs.get("file_name")
        )
        entries = [row[0] for row in dataset]
        total_rows = len(entries)
        try:
            outcome = services.import_models(
                entries,
                user=kwargs.get("user"),
                reason=reason,
                dry_run=dry_run,
                expected_digest=kwargs.get("expected_digest") or None,
                create_providers=bool(kwargs.get("create_providers")),
            )
        except services.ImportRejected as rejected:
            result = self._rejected_result(rejected)
        else:
            del entries  # the plan holds what is needed from here
            result = CatalogImportResult(outcome.plan)
            result.new_providers = outcome.new_providers
            self._add_rows(result, outcome, dry_run=dry_run, page=kwargs.get("preview_page") or 1)
        result.reason = reason
        result.total_rows = total_rows
        if raise_errors and (result.has_errors() or result.has_validation_errors()):
            raise ValidationError(str(result.base_errors or result.invalid_rows))
        return result

    def _add_rows(
        self, result: CatalogImportResult, outcome: services.ImportOutcome, *, dry_run: bool, page: int
    ) -> None:
        """Count every row; keep row results only for what the page or the admin log needs."""
        changed = [row for row in outcome.plan.rows if row.action != UNCHANGED]
        result.changed_count = len(changed)
        result.unchanged_count = len(outcome.plan.rows) - len(changed)
        for action, import_type in _IMPORT_TYPES.items():
            result.totals[import_type] = outcome.plan.count(action)
        if dry_run:
            # The preview shows one page of changes: only that page's diffs are described.
            unchanged = (row.model_id for row in outcome.plan.rows if row.action == UNCHANGED)
            result.unchanged_ids = list(islice(unchanged, result.PAGE_SIZE))
            result.page = min(max(1, page), result.page_count)
            start = (result.page - 1) * result.PAGE_SIZE
            changed = changed[start : start + result.PAGE_SIZE]
        for row in changed:
            row_result = self.get_row_result_class()()
            row_result.import_type = _IMPORT_TYPES[row.action]
            row_result.number = row.number
            row_result.model_id = row.model_id
            if dry_run:
                self._describe_changes(row_result, row)
            instance = outcome.saved.get(row.model_id)
            row_result.instance = instance  # the admin log (LogEntry) of a confirm names it
            row_result.object_repr = row.model_id
            row_result.object_id = instance.pk if instance is not None else None
            result.append_row_result(row_result)

    @staticmethod
    def _describe_changes(row_result: RowResult, row: PlannedRow) -> None:
        lines = [
            {
                "field": change.field,
                "label": AIModel._meta.get_field(change.field).verbose_name,
                "old": describe_value(change.old),
                "new": describe_value(change.new),
            }
            for change in row.changes
        ]
        if row.action == NEW:
            # One block of text per new row: a preview of thousands of new
            # models renders in a second instead of many.
            row_result.new_values_text = "\n".join(
                f"{line['label']}: {line['new']}" for line in lines if line["new"] != "(empty)"
            )
            row_result.new_values_count = len(lines)
        else:
            row_result.change_lines = lines

    def _rejected_result(self, rejected: services.ImportRejected) -> CatalogImportResult:
        result = CatalogImportResult(rejected.plan)
        if rejected.plan.ok:  # refused as a whole (e.g. the catalog moved since the preview)
            result.append_base_error(Error(rejected))
            return result
        by_row: dict[int, dict[str, list[str]]] = {}
        for error in rejected.plan.errors:
            by_row.setdefault(error.row, {}).setdefault(error.field or NON_FIELD_ERRORS, []).append(
                error.message
            )
        for number, errors in sorted(by_row.items()):
            result.append_invalid_row(number, {}, ValidationError(errors))
        return result
