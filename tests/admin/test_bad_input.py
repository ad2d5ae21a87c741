"""Bad input of every class gets a clear message naming the row and field, and writes nothing."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from models_registry.catalog import services
from models_registry.domain.imports import ImportFileError, parse_import_text
from models_registry.models import AIModel

from .conftest import change_form_data, entry, history_rows

DEEP_OBJECT = '{"a": ' * 40 + "1" + "}" * 40

# (what the file says about openai:gpt-test, the field named, part of the message)
BAD_VALUES = [
    ('"benchmarks": {"mmlu": NaN}', "benchmarks", "finite number"),
    ('"benchmarks": {"mmlu": Infinity}', "benchmarks", "finite number"),
    ('"benchmarks": {"mmlu": -Infinity}', "benchmarks", "finite number"),
    ('"benchmarks": {"mmlu": 1e400}', "benchmarks", "finite number"),
    ('"description": "nul \\u0000 byte"', "description", "NUL"),
    ('"name": "lone \\ud800 surrogate"', "name", "surrogate"),
    ('"reasoning": {"type": ["a", "list"]}', "reasoning", "'type' must be one of"),
    ('"reasoning": {"type": {"an": "object"}}', "reasoning", "'type' must be one of"),
    ('"benchmarks": ' + DEEP_OBJECT, "benchmarks", "nested deeper"),
    ('"pricing": {"input": "NaN"}', "pricing.input", "finite number"),
    ('"pricing": {"input": "1e400"}', "pricing.input", "digits"),
    ('"context_window": 100000000000000000000', "context_window", "less than or equal"),
    ('"host_order": [null]', "host_order", "host names"),
    ('"status": null', "status", "must be one of"),
    ('"gateway": 5', "gateway", "must be a string"),
]


@pytest.mark.parametrize(
    ("fragment", "field", "message"), BAD_VALUES, ids=[case[0][:40] for case in BAD_VALUES]
)
def test_each_bad_value_is_named_with_its_row_and_field(gpt, fragment, field, message):
    text = '[{"id": "openai:gpt-test", ' + fragment + "}]"
    before = (AIModel.objects.count(), history_rows())
    with pytest.raises(services.ImportRejected) as rejected:
        services.import_models(parse_import_text(text), user=None, reason="fuzz")
    errors = rejected.value.plan.errors
    assert [(error.row, error.field) for error in errors] == [(1, field)], errors
    assert message in errors[0].message, errors[0].message
    assert (AIModel.objects.count(), history_rows()) == before


def test_a_file_nested_too_deeply_is_refused_as_a_whole():
    with pytest.raises(ImportFileError, match="nested too deeply"):
        parse_import_text("[" * 5000 + "]" * 5000)


def test_the_admin_import_explains_bad_values_instead_of_answering_500(client, superuser, gpt):
    client.force_login(superuser)
    second = json.dumps(entry("openai:x", description="a\x00b"))
    text = '[{"id": "openai:gpt-test", "benchmarks": {"x": NaN}}, ' + second + "]"
    upload = SimpleUploadedFile("bad.json", text.encode(), content_type="application/json")
    response = client.post(
        reverse("admin:models_registry_aimodel_import"),
        {"resource": 0, "format": 0, "import_file": upload, "reason": "x"},
    )
    assert response.status_code == 200
    assert "finite number" in response.text and "NUL" in response.text
    assert AIModel.objects.get(pk=gpt.pk).version == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("benchmarks", '{"x": NaN}', "finite number"),
        ("benchmarks", '{"x": 1e400}', "finite number"),
        ("reasoning_config", '{"type": ["a"]}', "'type' must be one of"),
        ("description", "nul \x00 byte", "Null characters are not allowed"),
    ],
)
def test_the_change_form_shows_bad_values_next_to_the_field(client, superuser, gpt, field, value, message):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:models_registry_aimodel_change", args=[gpt.pk]),
        change_form_data(gpt, reason="fuzz", **{field: value}),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors.get(field, [])), errors
    assert AIModel.objects.get(pk=gpt.pk).version == 1


def test_a_file_with_raw_nul_bytes_is_refused_before_it_is_stored(client, superuser, gpt):
    client.force_login(superuser)
    upload = SimpleUploadedFile("nul.json", b'[{"id": "openai:gpt-test", "name": "a\x00b"}]')
    response = client.post(
        reverse("admin:models_registry_aimodel_import"),
        {"resource": 0, "format": 0, "import_file": upload, "reason": "x"},
    )
    assert response.status_code == 200
    assert "NUL bytes" in response.text
