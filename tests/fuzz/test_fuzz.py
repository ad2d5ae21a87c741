"""Property-based fuzzing (hypothesis) of the import service, the admin import, the change form and route().

Whatever the input: no server error, no partial write, and a refusal says what is wrong.
"""

from __future__ import annotations

import json
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autorouter import route
from models_registry.catalog import services
from models_registry.domain.fields import FILE_KEYS
from models_registry.domain.imports import ImportFileError, parse_import_text
from models_registry.models import AIModel
from tests.admin.conftest import change_form_data

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any text, lone surrogates and NUL included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    ANY_TEXT,
    st.sampled_from(["1.5", "-1", "NaN", "1e400", "openai", "active", "vision", "0"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)),
    max_leaves=12,
)
KEYS = st.one_of(st.sampled_from(FILE_KEYS), ANY_TEXT)
ENTRIES = st.dictionaries(KEYS, JSON_VALUES, max_size=8).map(
    lambda entry: {"id": "openai:gpt-test", **entry} if "id" not in entry else entry
)


def _file_text(entries: list) -> str:
    # allow_nan: the file may well contain NaN / Infinity, as a hand-edited file can.
    return json.dumps(entries, allow_nan=True)


@pytest.mark.django_db
@FUZZ
@given(entries=st.lists(ENTRIES, min_size=1, max_size=3))
def test_the_import_service_applies_or_refuses_with_reasons(gpt, entries):
    before = AIModel.objects.count(), AIModel.history.count()
    try:
        parsed = parse_import_text(_file_text(entries))
        outcome = services.import_models(parsed, user=None, reason="fuzz")
    except ImportFileError as refused:
        assert str(refused)
        assert (AIModel.objects.count(), AIModel.history.count()) == before
    except services.ImportRejected as rejected:
        assert rejected.messages and all(message.strip() for message in rejected.messages)
        assert (AIModel.objects.count(), AIModel.history.count()) == before
    else:
        assert outcome.plan.ok


@pytest.mark.django_db
@FUZZ
@given(entries=st.lists(ENTRIES, min_size=1, max_size=2))
def test_the_admin_import_never_answers_500(admin_client, gpt, entries):
    upload = SimpleUploadedFile("fuzz.json", _file_text(entries).encode("utf-8", "surrogatepass"))
    response = admin_client.post(
        reverse("admin:models_registry_aimodel_import"),
        {"resource": 0, "format": 0, "import_file": upload, "reason": "fuzz"},
    )
    assert response.status_code == 200


FORM_FIELDS = ["name", "description", "benchmarks", "reasoning_config", "input_price", "context_window",
               "host_order", "status", "gateway"]  # fmt: skip


@pytest.mark.django_db
@FUZZ
@given(field=st.sampled_from(FORM_FIELDS), value=st.one_of(ANY_TEXT, JSON_VALUES.map(json.dumps)))
def test_the_change_form_never_answers_500(admin_client, gpt, field, value):
    gpt.refresh_from_db()
    # A browser can only send UTF-8: lone surrogates cannot reach the form.
    data = change_form_data(gpt, reason="fuzz", **{field: value.encode("utf-8", "replace").decode()})
    response = admin_client.post(reverse("admin:models_registry_aimodel_change", args=[gpt.pk]), data)
    assert response.status_code in (200, 302)


@pytest.mark.django_db
@FUZZ
@given(message=st.text(st.characters(codec=None, exclude_categories=()), max_size=3000))
def test_route_takes_any_text(router_db, message):
    decision = route(message, subject=1)
    assert decision.model_id
    json.dumps(decision.to_dict())
