"""The router's admin pages at 50 and at 5,000 catalog models: the same queries, a page of bounded size.

Every page is requested at both sizes inside one module-scoped transaction (the 5,000-model
insert happens once), after a warm-up request so that both measures are steady state: the
registry's and the router's snapshots loaded, the admin's caches filled. The tests then read
what was measured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from autorouter.admin import CANDIDATES_SHOWN, EXCLUSIONS_SHOWN, MISSING_PROFILES_SHOWN
from autorouter.services import seed_config
from models_registry.catalog.services import seed_models
from models_registry.domain.static_catalog import load_static_catalog
from models_registry.models import AIModel
from models_registry.read.snapshot import invalidate_all
from models_registry.roles import EDITORS
from tests.scale import bulk_catalog

from .conftest import CORE_MODELS

# Marks every test, so the session sets the test database up before the module fixture needs it.
pytestmark = pytest.mark.django_db

SMALL, BIG = 50, 5000
MAX_OPTIONS = 100
MAX_BYTES = 250_000

ROUTE = {
    "message": "Write a python function that merges two sorted lists, with tests",
    "previous_model": "",
    "context_tokens": "0",
    "cost_bias": "50",
    "speed_bias": "50",
    "exclude": "openai:gpt-5",
    "seed_key": "",
    "source": "database",
    "classifier": "local",
}
PAGES: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "profile list": ("get", reverse("admin:autorouter_modelprofile_changelist"), None),
    "add profile": ("get", reverse("admin:autorouter_modelprofile_add"), None),
    "router config": ("get", reverse("admin:autorouter_routerconfig_change", args=[1]), None),
    "try (form)": ("get", reverse("admin:autorouter_routerconfig_try"), None),
    "try (routed)": ("post", reverse("admin:autorouter_routerconfig_try"), ROUTE),
    "try (every exclusion)": (
        "post",
        reverse("admin:autorouter_routerconfig_try"),
        {**ROUTE, "list_exclusions": "on"},
    ),
    "model search": ("get", reverse("admin:autorouter_model_search") + "?term=gpt", None),
}


@dataclass
class Measure:
    status: int
    queries: list[str]
    size: int
    options: int
    html: str
    context: Any = None


@dataclass
class Site:
    """What the fixture measured: ``pages[name][size]``, and the catalog at each size."""

    pages: dict[str, dict[int, Measure]] = field(default_factory=dict)
    models: dict[int, int] = field(default_factory=dict)
    missing_profiles: dict[int, int] = field(default_factory=dict)
    missing_link_count: dict[int, int] = field(default_factory=dict)


def _measure(client: Client, method: str, url: str, data: dict[str, str] | None) -> Measure:
    send = getattr(client, method)
    send(url, data) if data else send(url)  # warm-up: snapshots (re)loaded, admin caches filled
    with CaptureQueriesContext(connection) as queries:
        response = send(url, data) if data else send(url)
    html = response.content.decode()
    return Measure(
        status=response.status_code,
        queries=[query["sql"] for query in queries.captured_queries],
        size=len(response.content),
        options=html.count("<option"),
        html=html,
        context=response.context,
    )


def _build_and_measure() -> Site:
    catalog = load_static_catalog()
    assert seed_models(
        [model for model in catalog.models if model.id in CORE_MODELS], provider_names=catalog.providers
    ).ok
    seed_config()
    editor = Client()
    account = get_user_model().objects.create_user("scale-editor", password="x", is_staff=True)
    account.groups.add(Group.objects.get(name=EDITORS))
    editor.force_login(account)

    site = Site(pages={name: {} for name in PAGES})
    for size in (SMALL, BIG):
        bulk_catalog(size, profiles_share=0.5)
        site.models[size] = AIModel.objects.count()
        for name, (method, url, data) in PAGES.items():
            site.pages[name][size] = _measure(editor, method, url, data)
        profile_list = site.pages["profile list"][size]
        site.missing_profiles[size] = profile_list.context["missing_profiles_count"]
        link = profile_list.context["missing_profiles_url"]
        site.missing_link_count[size] = editor.get(link).context["cl"].result_count
    return site


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker) -> Site:
    """Every page measured at 50 and at 5,000 models, in one transaction rolled back at the end."""
    # No snapshot poll may fall inside a measure: one version check is a query.
    with django_db_blocker.unblock(), override_settings(REGISTRY_REFRESH_SECONDS=3600):
        name = str(connection.settings_dict["NAME"])
        assert "test" in name or "memory" in name, f"not a test database: {name}"
        invalidate_all()
        with transaction.atomic():
            measured = _build_and_measure()
            transaction.set_rollback(True)
        invalidate_all()
    return measured


def test_the_catalog_grew(site):
    assert site.models[SMALL] < 100 and site.models[BIG] >= BIG


@pytest.mark.parametrize("page", PAGES)
def test_queries_do_not_grow_with_the_catalog(site, page):
    small, big = site.pages[page][SMALL], site.pages[page][BIG]
    assert small.status == big.status == 200
    assert len(big.queries) == len(small.queries), "\n".join(big.queries)


@pytest.mark.parametrize("page", PAGES)
def test_pages_stay_small_at_5000_models(site, page):
    big = site.pages[page][BIG]
    assert big.options <= MAX_OPTIONS
    assert big.size < MAX_BYTES


def test_model_pickers_render_only_their_current_value(site):
    config = site.pages["router config"][BIG].html
    for name in ("router_model", "fallback_model"):
        select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', config, re.S)
        assert select, name
        assert "admin-autocomplete" in select.group(0) and 'data-ajax--url="/admin/' in select.group(0)
        options = re.findall(r'<option value="([^"]*)"', select.group(1))
        assert len(options) == 1 and options[0] in CORE_MODELS, (name, options)
    add = site.pages["add profile"][BIG].html
    assert "without_profile=1" in add and add.count("<option") == 0


def test_the_profile_list_summarises_models_without_a_profile(site):
    big = site.pages["profile list"][BIG]
    count = site.missing_profiles[BIG]
    assert count > 1000  # half the synthetic catalog has no profile
    summary = re.search(r'<p class="help missing-profiles">(.*?)</p>', big.html, re.S).group(1)
    assert f'<strong class="missing-count">{count}</strong>' in summary
    assert summary.count('class="add-profile"') == MISSING_PROFILES_SHOWN
    assert f"and {count - MISSING_PROFILES_SHOWN} more" in summary
    # The link opens the catalog's paginated model list with exactly those models.
    assert site.missing_link_count[BIG] == count
    assert site.missing_link_count[SMALL] == site.missing_profiles[SMALL]


def test_the_try_page_shows_the_best_candidates_and_counts_the_rest(site):
    routed = site.pages["try (routed)"][BIG]
    decision = routed.context["decision"]
    eligible, excluded = routed.context["eligible_count"], routed.context["excluded_total"]
    assert eligible + excluded == site.models[BIG]
    assert eligible > CANDIDATES_SHOWN
    rows = routed.html.split('id="candidates"')[1].split("</table>")[0].count("<tr class=")
    assert rows <= CANDIDATES_SHOWN + 2  # the best, plus the chosen and previous models if lower
    assert routed.html.count('<tr class="chosen"') == 1 and decision.model_id in routed.html
    counts = {item["reason"]: item["count"] for item in routed.context["exclusion_counts"]}
    assert sum(counts.values()) == excluded and counts["excluded"] == 1
    # Only the model the user named is listed; the rest are counted.
    listed = re.findall(r'<tr data-model="([^"]+)">', routed.html.split('id="excluded"')[1])
    assert listed == ["openai:gpt-5"]
    assert "List every exclusion" in routed.html


def test_every_exclusion_is_listed_on_demand_up_to_a_cap(site):
    every = site.pages["try (every exclusion)"][BIG]
    excluded = every.context["excluded_total"]
    listed = re.findall(r'<tr data-model="[^"]+"><td>', every.html.split('id="excluded"')[1])
    assert len(listed) == min(excluded, EXCLUSIONS_SHOWN)
    assert f"The first {EXCLUSIONS_SHOWN} of {excluded} are listed" in every.html
    small = site.pages["try (every exclusion)"][SMALL]
    assert small.context["exclusions_complete"]


def test_the_model_search_answers_a_page_of_matches(site):
    found = site.pages["model search"][BIG].context
    assert found is None  # JSON, no template
    html = site.pages["model search"][BIG].html
    assert '"pagination": {"more": true}' in html and html.count('"id":') == 20
