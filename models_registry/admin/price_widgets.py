"""Price rows of the model form: long-context tiers, service tiers and request fees as small
tables of inputs (one row each, empty rows to add more), and the price timeline as a table.

The values are kept in the files' canonical form; the field declaration
(:mod:`models_registry.domain.fields`) parses and checks them, so the form
and an import accept and refuse the same things.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from models_registry.domain.fields import parse_column_value
from models_registry.domain.values import SERVICE_TIERS, TIER_PRICE_KEYS

TIER_COLUMNS = ("above_input_tokens", *TIER_PRICE_KEYS)
SERVICE_TIER_COLUMNS = ("multiplier", *TIER_PRICE_KEYS, "reasoning")
FEE_COLUMNS = ("fee", "price")
EXTRA_ROWS = 2


def _label(column: str) -> str:
    return column.replace("_", " ")


class PriceRowsWidget(forms.Widget):
    """A table of text inputs named ``<name>-<row>-<column>``; ``row_labels`` fixes the rows."""

    def __init__(self, columns: tuple[str, ...], row_labels: tuple[str, ...] = (), attrs: Any = None) -> None:
        super().__init__(attrs)
        self.columns = columns
        self.row_labels = row_labels

    def rows_of(self, value: Any) -> list[dict[str, str]]:
        return list(value or [])

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> str:
        rows = self.rows_of(value)
        count = len(self.row_labels) if self.row_labels else len(rows) + EXTRA_ROWS
        head = format_html_join("", "<th>{}</th>", ((_label(column),) for column in self.columns))
        body = []
        for index in range(count):
            row = rows[index] if index < len(rows) else {}
            cells = format_html_join(
                "",
                '<td><input type="text" name="{}-{}-{}" value="{}" size="{}" aria-label="{} {}"></td>',
                (
                    (
                        name,
                        index,
                        column,
                        row.get(column, ""),
                        14 if column == "fee" else 8,
                        _label(column),
                        index + 1,
                    )
                    for column in self.columns
                ),
            )
            label = format_html("<th>{}</th>", self.row_labels[index]) if self.row_labels else ""
            body.append(format_html("<tr>{}{}</tr>", label, cells))
        corner = "<th></th>" if self.row_labels else ""
        return format_html(
            '<table class="price-rows" id="id_{}"><thead><tr>{}{}</tr></thead><tbody>{}</tbody></table>'
            '<input type="hidden" name="{}-count" value="{}">',
            name,
            mark_safe(corner),
            head,
            mark_safe("".join(body)),
            name,
            count,
        )

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if f"{name}-count" not in data:
            return None  # not on the page (a read-only form, say): unchanged
        try:
            count = min(int(data.get(f"{name}-count", 0)), 100)
        except ValueError:
            count = 0
        rows = []
        for index in range(count):
            row = {
                column: data.get(f"{name}-{index}-{column}", "").strip()
                for column in self.columns
                if data.get(f"{name}-{index}-{column}", "").strip()
            }
            if self.row_labels:
                rows.append((self.row_labels[index] if index < len(self.row_labels) else "", row))
            elif row:
                rows.append(row)
        return rows

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-count" not in data


class _CanonicalJSONField(forms.Field):
    """A price column kept as JSON, edited as rows; cleaned by the field declaration's parser."""

    column = ""

    def __init__(self, *, encoder: Any = None, decoder: Any = None, **kwargs: Any) -> None:
        kwargs["required"] = False
        super().__init__(**kwargs)

    def from_rows(self, rows: list[Any]) -> Any:
        raise NotImplementedError

    def to_python(self, value: Any) -> Any:
        # Rows from the page; a stored (canonical) value passes through.
        return self.from_rows(value) if isinstance(value, list) else value

    def clean(self, value: Any) -> Any:
        value = self.to_python(value)
        try:
            return parse_column_value(self.column, value)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def has_changed(self, initial: Any, data: Any) -> bool:
        if data is None:
            return False
        try:
            return self.clean(data) != parse_column_value(self.column, initial)
        except (ValidationError, ValueError):
            return True


def _number(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return int(text.replace(",", "").replace("_", ""))
    except ValueError:
        return text  # the parser names the row and says what is wrong


class PriceTiersField(_CanonicalJSONField):
    column = "price_tiers"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", PriceRowsWidget(TIER_COLUMNS))
        super().__init__(**kwargs)

    def from_rows(self, rows: list[Any]) -> Any:
        return [{**row, "above_input_tokens": _number(row.get("above_input_tokens", ""))} for row in rows]


class _ServiceTiersWidget(PriceRowsWidget):
    def rows_of(self, value: Any) -> list[dict[str, str]]:
        # Stored: {name: prices}; re-shown after an error: the posted [(name, row), ...].
        by_name = dict(value) if isinstance(value, list) else (value or {})
        return [dict(by_name.get(name, {})) for name in self.row_labels]


class ServiceTiersField(_CanonicalJSONField):
    column = "service_tiers"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _ServiceTiersWidget(SERVICE_TIER_COLUMNS, row_labels=SERVICE_TIERS))
        super().__init__(**kwargs)

    def from_rows(self, rows: list[Any]) -> Any:
        return {name: row for name, row in rows if name and row}


class _FeesWidget(PriceRowsWidget):
    def rows_of(self, value: Any) -> list[dict[str, str]]:
        if isinstance(value, list):  # re-shown after an error: the posted rows
            return value
        return [{"fee": key, "price": price} for key, price in (value or {}).items()]


class RequestFeesField(_CanonicalJSONField):
    column = "request_fees"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _FeesWidget(FEE_COLUMNS))
        super().__init__(**kwargs)

    def from_rows(self, rows: list[Any]) -> Any:
        fees = {}
        for row in rows:
            if "fee" not in row:
                raise ValidationError(
                    f"Give the fee's name for the price {row.get('price')}, e.g. web_search_per_1000."
                )
            fees[row["fee"]] = row.get("price")
        return fees
