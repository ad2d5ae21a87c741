"""Admin change forms as a browser posts them (shared by the tests and the concurrency worker)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.test import Client

from models_registry.admin.price_widgets import EXTRA_ROWS, PriceRowsWidget


def _price_rows(name: str, widget: PriceRowsWidget, value: Any) -> dict[str, Any]:
    """The inputs of a table of price rows, as the page shows them."""
    rows = widget.rows_of(value)
    count = len(widget.row_labels) if widget.row_labels else len(rows) + EXTRA_ROWS
    data: dict[str, Any] = {f"{name}-count": str(count)}
    for index in range(count):
        row = rows[index] if index < len(rows) else {}
        for column in widget.columns:
            data[f"{name}-{index}-{column}"] = str(row.get(column, ""))
    return data


def form_data(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """The change form at ``url`` as the browser shows it (hidden version included), with ``changes``."""
    response = client.get(url)
    assert response.status_code == 200, url
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, PriceRowsWidget):
            data.update(_price_rows(name, field.widget, value))
            continue
        if isinstance(field, forms.MultipleChoiceField):
            data[name] = list(value or [])  # unticked boxes are not posted
            continue
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
            continue
        if value is not None and not isinstance(value, str):
            value = field.prepare_value(value)
        if isinstance(value, list):
            value = ", ".join(value)
        data[name] = "" if value is None else value
    data["_save"] = "Save"
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data
