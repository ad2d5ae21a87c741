"""Admin change forms as a browser posts them (shared by the tests and the concurrency worker)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.test import Client


def form_data(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """The change form at ``url`` as the browser shows it (hidden version included), with ``changes``."""
    response = client.get(url)
    assert response.status_code == 200, url
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
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
