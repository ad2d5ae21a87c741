"""The router's admin pages: config page, reset, history, profile list editing, try page, roles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from autorouter.forms import SpeedBonusesField
from autorouter.models import DecisionLog, ModelProfile, RouterConfig
from autorouter.types import CATEGORIES
from models_registry.audit.history import versions_of
from models_registry.roles import EDITORS, VIEWERS

CONFIG_URL = reverse("admin:autorouter_routerconfig_change", args=[1])
RESET_URL = reverse("admin:autorouter_routerconfig_reset")
TRY_URL = reverse("admin:autorouter_routerconfig_try")
PROFILES_URL = reverse("admin:autorouter_modelprofile_changelist")


@pytest.fixture
def as_editor(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


def config_form_data(client, **changes) -> dict:
    """The config page's current form values, with ``changes`` applied (as a browser would post them)."""
    form = client.get(CONFIG_URL).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        data[name] = field.prepare_value(value) if isinstance(field, SpeedBonusesField) else value
        if isinstance(data[name], list):
            data[name] = ", ".join(data[name])
        if data[name] is None:
            data[name] = ""
    data.update(changes)
    return data


def test_roles_get_the_router_permissions(db):
    editors = set(
        Group.objects.get(name=EDITORS)
        .permissions.filter(content_type__app_label="autorouter")
        .values_list("codename", flat=True)
    )
    viewers = set(
        Group.objects.get(name=VIEWERS)
        .permissions.filter(content_type__app_label="autorouter")
        .values_list("codename", flat=True)
    )
    assert editors == {
        "view_routerconfig",
        "change_routerconfig",
        "try_router",
        "view_modelprofile",
        "add_modelprofile",
        "change_modelprofile",
        "view_decisionlog",
        "view_routerdraft",
        "add_routerdraft",
        "change_routerdraft",
        "publish_routerdraft",
        "view_routerexample",
        "add_routerexample",
        "change_routerexample",
    }
    assert viewers == {
        "view_routerconfig",
        "view_modelprofile",
        "view_decisionlog",
        "view_routerdraft",
        "view_routerexample",
    }


def test_the_config_list_is_the_config_page(config_db, as_editor):
    response = as_editor.get(reverse("admin:autorouter_routerconfig_changelist"))
    assert response.status_code == 302 and response["Location"] == CONFIG_URL
    page = as_editor.get(CONFIG_URL)
    assert page.status_code == 200
    assert b"Try the router" in page.content and b"Reset to defaults" in page.content
    assert b"Save and add another" not in page.content and b"deletelink" not in page.content
    assert as_editor.get(reverse("admin:autorouter_routerconfig_add")).status_code == 403


def test_without_a_config_the_list_offers_to_create_it(core_models, as_editor):
    response = as_editor.get(reverse("admin:autorouter_routerconfig_changelist"))
    assert response["Location"] == RESET_URL
    as_editor.post(RESET_URL, {"reason": "First setup"})
    assert RouterConfig.objects.get().stickiness_bonus == 25
    assert versions_of(RouterConfig.objects.get())[0].reason == "First setup"


def test_saving_needs_a_reason(config_db, as_editor):
    response = as_editor.post(CONFIG_URL, config_form_data(as_editor, stickiness_bonus="30", reason=""))
    assert response.status_code == 200
    assert "reason" in response.context["adminform"].form.errors
    assert RouterConfig.objects.get().stickiness_bonus == 25


def test_saving_records_who_and_why(config_db, as_editor, editor):
    data = config_form_data(
        as_editor,
        stickiness_bonus="30",
        speed_bonuses="groq = 10\ncerebras = 15",
        high_stakes_domains="medical, legal, taxes",
        reason="Tuning after the March review",
    )
    response = as_editor.post(CONFIG_URL, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = RouterConfig.objects.get()
    assert row.stickiness_bonus == 30
    assert row.speed_bonuses == {"groq": 10, "cerebras": 15}
    assert row.high_stakes_domains == ["medical", "legal", "taxes"]
    latest = versions_of(row)[-1]
    assert (latest.number, latest.changed_by, latest.user_id, latest.reason) == (
        2,
        "editor",
        editor.pk,
        "Tuning after the March review",
    )
    assert row.version == 2
    assert set(latest.changed_fields) == {"stickiness_bonus", "speed_bonuses", "high_stakes_domains"}
    history = as_editor.get(reverse("admin:autorouter_routerconfig_history", args=[1]))
    assert b"Tuning after the March review" in history.content and b"stickiness bonus" in history.content


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cheap_threshold": "6"}, "mid_threshold"),
        ({"moderate_cheap_weight": "0.9"}, "moderate_cheap_weight"),
        ({"context_buffer": "0.5"}, "context_buffer"),
        ({"speed_bonuses": "groq ten"}, "speed_bonuses"),
    ],
)
def test_invalid_values_are_shown_on_their_field(config_db, as_editor, changes, field):
    response = as_editor.post(CONFIG_URL, config_form_data(as_editor, reason="try", **changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert len(versions_of(RouterConfig.objects.get())) == 1


def test_a_stale_form_is_refused(config_db, as_editor):
    stale = config_form_data(as_editor, stickiness_bonus="30", reason="mine")
    assert stale["seen_version"] == 1
    as_editor.post(CONFIG_URL, config_form_data(as_editor, reasoning_bonus="20", reason="theirs"))
    response = as_editor.post(CONFIG_URL, stale)
    assert response.status_code == 200  # the form comes back with the input, nothing saved
    form = response.context["adminform"].form
    errors = " ".join(form.non_field_errors())
    assert "was changed after you opened it (you edited version 1, it is now at version 2)" in errors
    assert "Nothing was saved" in errors and "(theirs)" in errors
    assert (form["stickiness_bonus"].value(), form["reason"].value()) == ("30", "mine")
    row = RouterConfig.objects.get()
    assert (row.stickiness_bonus, row.reasoning_bonus, row.version) == (25, 20, 2)


def test_reset_to_defaults_with_a_reason(config_db, as_editor, editor):
    as_editor.post(CONFIG_URL, config_form_data(as_editor, stickiness_bonus="40", reason="experiment"))
    assert as_editor.post(RESET_URL, {"reason": ""}).status_code == 200  # a reason is required
    assert RouterConfig.objects.get().stickiness_bonus == 40
    response = as_editor.post(RESET_URL, {"reason": "Experiment over"})
    assert response.status_code == 302
    row = RouterConfig.objects.get()
    assert row.stickiness_bonus == 25
    versions = versions_of(row)
    assert len(versions) == 3 and row.version == 3
    assert (versions[-1].changed_by, versions[-1].user_id, versions[-1].reason) == (
        "editor",
        editor.pk,
        "Experiment over",
    )


def test_a_reset_that_changes_nothing_says_so_and_records_no_version(config_db, as_editor):
    response = as_editor.post(RESET_URL, {"reason": "Back to the defaults"}, follow=True)
    assert "already at the defaults" in response.content.decode()
    assert RouterConfig.objects.get().version == 1


def test_viewers_read_but_do_not_change_reset_or_try(config_db, as_viewer):
    page = as_viewer.get(CONFIG_URL)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content and b"Reset to defaults" not in page.content
    assert as_viewer.post(CONFIG_URL, {"stickiness_bonus": "1", "reason": "x"}).status_code == 403
    assert as_viewer.get(RESET_URL).status_code == 403
    assert as_viewer.get(TRY_URL).status_code == 403
    assert as_viewer.get(PROFILES_URL).status_code == 200


# --- profiles ------------------------------------------------------------------------


def profile_list_data(client, reason: str, **edits: dict) -> dict:
    formset = client.get(PROFILES_URL).context["cl"].formset
    data = {key: value for key, value in formset.management_form.initial.items()}
    data = {f"form-{key}": value for key, value in data.items()}
    for index, form in enumerate(formset.forms):
        model_id = form.instance.model_id
        data[f"form-{index}-id"] = form.instance.pk
        data[f"form-{index}-seen_version"] = form["seen_version"].value()
        for name in ("quality", *CATEGORIES):
            data[f"form-{index}-{name}"] = edits.get(model_id, {}).get(name, getattr(form.instance, name))
    data.update({"_save": "Save", "_reason": reason})
    return data


def test_profile_scores_are_edited_in_the_list_with_a_reason(router_db, as_editor, editor):
    response = as_editor.post(
        PROFILES_URL,
        profile_list_data(
            as_editor,
            "New coding benchmark",
            **{"openai:gpt-5": {"coding": 97}, "xai:grok-4-fast": {"quality": 90}},
        ),
    )
    assert response.status_code == 302
    gpt5 = ModelProfile.objects.get(model_id="openai:gpt-5")
    assert gpt5.coding == 97
    assert ModelProfile.objects.get(model_id="xai:grok-4-fast").quality == 90
    latest = versions_of(gpt5)[-1]
    assert (latest.number, latest.changed_by, latest.reason, latest.changed_fields) == (
        2,
        "editor",
        "New coding benchmark",
        ("coding",),
    )
    assert [(c.old, c.new) for c in latest.changes] == [("92", "97")]
    grok = versions_of(ModelProfile.objects.get(model_id="xai:grok-4-fast"))[-1]
    assert grok.change_set_id == latest.change_set_id  # one list save, one change set
    untouched = ModelProfile.objects.get(model_id="anthropic:claude-opus-4.5")
    assert len(versions_of(untouched)) == 1


def test_a_stale_profile_list_is_refused_and_saves_nothing(router_db, as_editor):
    from autorouter.services import update_profile

    stale = profile_list_data(
        as_editor,
        "New coding benchmark",
        **{"openai:gpt-5": {"coding": 97}, "xai:grok-4-fast": {"quality": 90}},
    )
    update_profile(
        ModelProfile.objects.get(model_id="openai:gpt-5"),
        user=None,
        reason="Meanwhile",
        changes={"quality": 50},
    )

    response = as_editor.post(PROFILES_URL, stale)

    assert response.status_code == 200
    assert b"was changed after you opened it" in response.content
    gpt5 = ModelProfile.objects.get(model_id="openai:gpt-5")
    assert (gpt5.coding, gpt5.quality, gpt5.version) == (92, 50, 2)
    assert ModelProfile.objects.get(model_id="xai:grok-4-fast").version == 1  # all or nothing


def test_profile_list_edits_without_a_reason_are_refused(router_db, as_editor):
    response = as_editor.post(
        PROFILES_URL, profile_list_data(as_editor, "", **{"openai:gpt-5": {"coding": 97}})
    )
    assert response.status_code == 200
    assert b"Give a reason for these changes" in response.content
    assert ModelProfile.objects.get(model_id="openai:gpt-5").coding == 92


def test_profile_list_refuses_scores_out_of_range(router_db, as_editor):
    response = as_editor.post(
        PROFILES_URL, profile_list_data(as_editor, "x", **{"openai:gpt-5": {"coding": 150}})
    )
    assert response.status_code == 200
    assert ModelProfile.objects.get(model_id="openai:gpt-5").coding == 92


def test_profile_list_names_models_without_a_profile(router_db, as_editor):
    assert b"openrouter:kimi-k2.5" in as_editor.get(PROFILES_URL).content


def test_a_profile_is_added_for_a_new_model(router_db, as_editor):
    scores = dict.fromkeys(
        (
            "quality",
            "coding",
            "reasoning",
            "creative",
            "factual",
            "analysis",
            "conversation",
            "multimodal",
            "research",
        ),
        80,
    )
    response = as_editor.post(
        reverse("admin:autorouter_modelprofile_add"),
        {"model": "openrouter:kimi-k2.5", "reason": "Profile for the new Kimi", **scores},
    )
    assert response.status_code == 302
    assert (
        versions_of(ModelProfile.objects.get(model_id="openrouter:kimi-k2.5"))[0].reason
        == "Profile for the new Kimi"
    )


# --- try page --------------------------------------------------------------------------


def test_the_try_page_shows_the_whole_decision(router_db, as_editor):
    assert as_editor.get(TRY_URL).status_code == 200
    response = as_editor.post(
        TRY_URL,
        {
            "message": "What dose of ibuprofen is safe with my blood pressure medication?",
            "previous_model": "",
            "context_tokens": "0",
            "cost_bias": "50",
            "speed_bias": "50",
            "exclude": "openai:gpt-5",
            "seed_key": "",
            "source": "database",
            "classifier": "local",
        },
    )
    assert response.status_code == 200
    decision = response.context["decision"]
    assert decision.source == "database" and decision.tier == "premium"
    html = response.content.decode()
    assert f'id="decision-model">{decision.model_id}<' in html
    assert "yes (medical)" in html
    assert 'data-model="openai:gpt-5"><td>openai:gpt-5</td><td>excluded' in html
    assert html.count('<tr class="chosen"') == 1
    assert not DecisionLog.objects.exists()  # trying is not logged


def test_the_try_page_validates_its_options(router_db, as_editor):
    response = as_editor.post(
        TRY_URL,
        {
            "message": "hi",
            "context_tokens": "0",
            "cost_bias": "500",
            "speed_bias": "50",
            "exclude": "acme:nope",
            "source": "database",
            "classifier": "local",
        },
    )
    assert response.context["decision"] is None
    assert set(response.context["form"].errors) == {"cost_bias", "exclude"}


def test_the_decision_log_is_read_only(router_db, as_editor, settings):
    from autorouter import route

    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    route("hello")
    listing = as_editor.get(reverse("admin:autorouter_decisionlog_changelist"))
    assert listing.status_code == 200
    row = DecisionLog.objects.get()
    assert (
        as_editor.post(reverse("admin:autorouter_decisionlog_change", args=[row.pk]), {}).status_code == 403
    )
    assert row.decision["model_id"] == row.model_id
    assert Decimal(row.decision["roll"]) < 1


# --- model pickers (search as you type) ---------------------------------------------------

SEARCH_URL = reverse("admin:autorouter_model_search")


def test_the_model_search_answers_matches_best_first(router_db, as_editor):
    found = as_editor.get(SEARCH_URL, {"term": "gpt-5"}).json()
    ids = [result["id"] for result in found["results"]]
    assert ids[0] == "openai:gpt-5" and "openai:gpt-5-mini" in ids
    assert all("gpt-5" in result["text"].lower() for result in found["results"])
    exact = as_editor.get(SEARCH_URL, {"term": "openai:gpt-5-mini"}).json()["results"]
    assert exact[0]["id"] == "openai:gpt-5-mini" and exact[0]["text"].startswith("openai:gpt-5-mini — ")
    assert as_editor.get(SEARCH_URL, {"term": "no such model anywhere"}).json() == {
        "results": [],
        "pagination": {"more": False},
    }


def test_the_model_search_pages_and_filters(router_db, as_editor):
    first = as_editor.get(SEARCH_URL, {"term": "", "page": "1"}).json()
    second = as_editor.get(SEARCH_URL, {"term": "", "page": "2"}).json()
    assert len(first["results"]) == 20 and first["pagination"]["more"]
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}
    # The "add profile" picker offers only models without a profile.
    unprofiled = as_editor.get(SEARCH_URL, {"term": "kimi", "without_profile": "1"}).json()["results"]
    assert "openrouter:kimi-k2.5" in [r["id"] for r in unprofiled]
    profiled = as_editor.get(SEARCH_URL, {"term": "gpt-5", "without_profile": "1"}).json()["results"]
    assert "openai:gpt-5" not in [r["id"] for r in profiled]


def test_the_model_search_refuses_strangers(router_db, client, non_staff, django_user_model):
    response = client.get(SEARCH_URL, {"term": "gpt"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(non_staff)
    assert client.get(SEARCH_URL, {"term": "gpt"}).status_code == 302
    nobody = django_user_model.objects.create_user("staff-only", password="x", is_staff=True)
    client.force_login(nobody)
    assert client.get(SEARCH_URL, {"term": "gpt"}).status_code == 403


def test_viewers_may_search(router_db, as_viewer):
    assert as_viewer.get(SEARCH_URL, {"term": "gpt"}).status_code == 200


def test_the_config_pickers_render_one_option_and_refuse_unknown_ids(config_db, as_editor):
    page = as_editor.get(CONFIG_URL).content.decode()
    # The router and the fallback model, and the tier mode's two choices: nothing else.
    assert page.count("<option") == 4
    assert f'data-ajax--url="{SEARCH_URL}"' in page and "admin/js/autocomplete.js" in page
    response = as_editor.post(
        CONFIG_URL, config_form_data(as_editor, router_model="acme:nope", reason="new router model")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["router_model"] == ["Not in the catalog: acme:nope."]
    saved = as_editor.post(
        CONFIG_URL, config_form_data(as_editor, router_model="openai:gpt-5", reason="a stronger router")
    )
    assert saved.status_code == 302
    assert RouterConfig.objects.get().router_model_id == "openai:gpt-5"


def test_adding_a_profile_picks_among_models_without_one(router_db, as_editor):
    add_url = reverse("admin:autorouter_modelprofile_add")
    page = as_editor.get(add_url, {"model": "openrouter:kimi-k2.5"}).content.decode()
    assert page.count("<option") == 1 and '<option value="openrouter:kimi-k2.5" selected>' in page
    scores = dict.fromkeys(("quality", *CATEGORIES), 70)
    response = as_editor.post(add_url, {"model": "openai:gpt-5", "reason": "again", **scores})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["model"] == [
        "Not in the catalog, or it has a profile already: openai:gpt-5."
    ]


def test_the_profile_list_links_to_every_model_without_a_profile(router_db, as_editor):
    page = as_editor.get(PROFILES_URL)
    count = page.context["missing_profiles_count"]
    assert count == len(page.context["missing_profiles"]) + page.context["missing_profiles_more"]
    assert f'href="{reverse("admin:autorouter_modelprofile_add")}?model=openrouter%3Akimi-k2.5"' in (
        page.content.decode()
    )
    listed = as_editor.get(page.context["missing_profiles_url"])
    assert listed.context["cl"].result_count == count
    assert "openrouter:kimi-k2.5" in [model.model_id for model in listed.context["cl"].result_list]


# --- try page: pickers, every exclusion, download --------------------------------------------

TRY_DATA = {
    "message": "What dose of ibuprofen is safe with my blood pressure medication?",
    "previous_model": "",
    "context_tokens": "0",
    "cost_bias": "50",
    "speed_bias": "50",
    "exclude": "",
    "seed_key": "",
    "source": "database",
    "classifier": "local",
}


def test_the_try_page_keeps_a_previous_model_picked_by_id(router_db, as_editor):
    page = as_editor.get(TRY_URL).content.decode()
    assert page.count("<option") < 10 and "admin-autocomplete" in page
    response = as_editor.post(
        TRY_URL,
        {
            **TRY_DATA,
            "message": "thanks, can you make it shorter?",
            "previous_model": "anthropic:claude-sonnet-4.5",
        },
    )
    decision = response.context["decision"]
    assert decision.sticky and decision.model_id == "anthropic:claude-sonnet-4.5"
    # The picker shows the value it was sent, as its one option.
    assert '<option value="anthropic:claude-sonnet-4.5" selected>' in response.content.decode()
    refused = as_editor.post(TRY_URL, {**TRY_DATA, "previous_model": "acme:nope"})
    assert refused.context["form"].errors["previous_model"] == ["Not in the catalog: acme:nope"]


def test_the_try_page_lists_every_exclusion_on_demand(router_db, as_editor):
    counted = as_editor.post(TRY_URL, TRY_DATA)
    total = counted.context["excluded_total"]
    assert total > 0
    assert sum(item["count"] for item in counted.context["exclusion_counts"]) == total
    every = as_editor.post(TRY_URL, {**TRY_DATA, "list_exclusions": "on"})
    assert len(every.context["exclusions"]) == total and every.context["exclusions_complete"]


def test_the_try_page_downloads_the_whole_decision(router_db, as_editor):
    response = as_editor.post(TRY_URL, {**TRY_DATA, "_download": "1"})
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="decision-')
    data = response.json()
    shown = as_editor.post(TRY_URL, TRY_DATA).context
    assert len(data["candidates"]) == shown["eligible_count"]
    assert len(data["excluded"]) == shown["excluded_total"]
