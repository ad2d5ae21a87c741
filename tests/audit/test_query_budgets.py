"""Query budgets of the audited edit surfaces (counts, not timings)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from models_registry.models import AIModel

from .conftest import form_data
from .test_edit_conflicts import _profile_list_data

pytestmark = pytest.mark.django_db


def test_model_form_opens_in_8_queries_and_saves_in_16(as_alice, seeded, django_assert_max_num_queries):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    url = reverse("admin:models_registry_aimodel_change", args=[model.pk])
    as_alice.get(url)  # warm the content-type cache, as a running server has
    with django_assert_max_num_queries(8):
        assert as_alice.get(url).status_code == 200
    data = form_data(as_alice, url, context_window="250000", reason="bigger window")
    # 16: the save also stamps the row with the catalog version it commits as (one UPDATE), so
    # every worker reloads that row alone instead of the whole catalog.
    with django_assert_max_num_queries(16):
        assert as_alice.post(url, data).status_code == 302
    model.refresh_from_db()
    assert (model.context_window, model.version) == (250_000, 2)


def _profile_save_queries(client, changes: dict[str, dict[str, str]]) -> int:
    data = _profile_list_data(client, changes, "review")
    with CaptureQueriesContext(connection) as queries:
        assert client.post(reverse("admin:autorouter_modelprofile_changelist"), data).status_code == 302
    return len(queries)


def test_profile_list_save_grows_by_a_constant_per_changed_row(as_alice, router_db):
    ids = ["openai:gpt-5", "openai:gpt-5-mini", "openai:gpt-oss-120b", "anthropic:claude-haiku-4.5"]
    one = _profile_save_queries(as_alice, {ids[0]: {"coding": "11"}})
    two = _profile_save_queries(as_alice, {ids[1]: {"coding": "12"}, ids[2]: {"coding": "13"}})
    four = _profile_save_queries(as_alice, {model_id: {"coding": "14"} for model_id in ids})
    per_row = two - one
    assert per_row <= 8, (one, two, four)
    assert four - two == 2 * per_row, (one, two, four)
