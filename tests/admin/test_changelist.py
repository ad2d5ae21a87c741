"""The model list: columns, filters, search, and a query count that does not grow with the catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from models_registry.catalog import services
from models_registry.models import AIModel, Provider

from .conftest import url


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def test_columns_show_status_prices_context_capabilities_and_last_change(editor_client, editor, gpt, claude):
    services.deprecate_models([claude], user=editor, reason="Retired")

    page = editor_client.get(url("changelist")).text

    assert '<span class="status-badge status-deprecated">Deprecated</span>' in page
    assert '<span class="status-badge status-active">Active</span>' in page
    assert '<td class="field-input_price_per_1m">2.5</td>' in page
    assert '<td class="field-context">128K</td>' in page
    assert '<span class="cap-tag" title="vision">vision</span>' in page
    assert '<span class="quiet">by editor</span>' in page  # claude's last change
    assert '<span class="quiet">by system</span>' in page  # gpt, written by setup


def test_filters_cover_provider_status_capabilities_access_and_gateway(editor_client, gpt, claude):
    filters = [spec.title for spec in editor_client.get(url("changelist")).context["cl"].filter_specs]
    assert filters == [
        "provider",
        "status",
        "vision",
        "function calling",
        "thinking",
        "extended thinking",
        "image generation",
        "pro only",
        "internal only",
        "experimental",
        "gateway",
    ]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("gpt-test", ["openai:gpt-test"]),  # id
        ("Claude", ["anthropic:claude-test"]),  # name
        ("anthropic", ["anthropic:claude-test"]),  # provider
        ("for tests", ["openai:gpt-test"]),  # description
    ],
)
def test_search_covers_id_name_provider_and_description(editor_client, gpt, claude, query, found):
    result = editor_client.get(url("changelist"), {"q": query}).context["cl"].result_list
    assert [m.model_id for m in result] == found


def test_filtering_by_capability(editor_client, gpt, claude):
    result = editor_client.get(url("changelist"), {"supports_vision__exact": "1"}).context["cl"].result_list
    assert [m.model_id for m in result] == ["openai:gpt-test"]


def _add_models(count: int, provider: Provider, user, start: int = 0) -> None:
    AIModel.objects.bulk_create(
        [
            AIModel(
                model_id=f"openai:bulk-{n:05d}",
                provider=provider,
                name=f"Bulk {n}",
                context_window=8_000,
                input_price=Decimal("1"),
                output_price=Decimal("2"),
                supports_vision=n % 2 == 0,
                updated_by=user if n % 3 else None,
            )
            for n in range(start, start + count)
        ],
        batch_size=1000,
    )


def _changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("changelist"))
    assert response.status_code == 200
    return len(queries)


def test_query_count_is_the_same_for_50_and_5000_models(editor_client, editor, providers):
    _add_models(50, providers["openai"], editor)
    with_50 = _changelist_queries(editor_client)

    _add_models(4_950, providers["openai"], editor, start=50)
    with_5000 = _changelist_queries(editor_client)

    assert AIModel.objects.count() == 5_000
    assert with_5000 == with_50
