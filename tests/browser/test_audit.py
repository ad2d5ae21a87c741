"""The audit trail in a browser: two editors on the profile list and on the router config; the change log."""

from __future__ import annotations

from decimal import Decimal

import pytest

from autorouter.models import ModelProfile, RouterConfig
from models_registry.audit.models import ChangeSet
from models_registry.catalog import services
from models_registry.models import AIModel
from tests.autorouter.conftest import router_db  # noqa: F401  (the seeded catalog, config and profiles)


@pytest.fixture
def second_page(browser, live_server):
    """A second browser (its own cookies): the other editor."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _sign_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


@pytest.mark.usefixtures("router_db")
def test_two_editors_on_the_profile_list(page, second_page, live_server, editor, superuser, screenshot):
    url = f"{live_server.url}/admin/autorouter/modelprofile/?q=openai:gpt-5"
    profile = ModelProfile.objects.get(model_id="openai:gpt-5")
    listed = ModelProfile.objects.filter(model__model_id__icontains="openai:gpt-5").order_by("model")
    index = list(listed).index(profile)  # the row's position in the filtered list
    _sign_in(page, live_server, editor)
    _sign_in(second_page, live_server, superuser)
    page.goto(url)
    second_page.goto(url)

    page.fill(f"#id_form-{index}-quality", "70")
    page.fill("#id__reason", "quality review")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    second_page.fill(f"#id_form-{index}-coding", "97")
    second_page.fill("#id__reason", "coding review")
    second_page.click("input[name=_save]")
    second_page.wait_for_selector(".row-conflict")
    conflict = second_page.inner_text(".row-conflict")
    assert "was changed after you opened it" in conflict and "by editor" in conflict
    assert second_page.input_value(f"#id_form-{index}-coding") == "97"  # the input is kept
    assert second_page.input_value("#id__reason") == "coding review"
    screenshot("profile-list-conflict")

    profile.refresh_from_db()
    assert profile.quality == 70 and profile.coding != 97


@pytest.mark.usefixtures("router_db")
def test_two_editors_on_the_router_config(page, second_page, live_server, editor, superuser, screenshot):
    url = f"{live_server.url}/admin/autorouter/routerconfig/1/change/"
    _sign_in(page, live_server, editor)
    _sign_in(second_page, live_server, superuser)
    page.goto(url)
    second_page.goto(url)

    page.fill("#id_stickiness_bonus", "17")
    page.fill("#id_reason", "stickier conversations")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    second_page.fill("#id_reasoning_bonus", "31")
    second_page.fill("#id_reason", "more reasoning")
    second_page.click("input[name=_save]")
    second_page.wait_for_selector(".errornote")
    errors = second_page.inner_text("form .errorlist.nonfield")
    assert "Version 2 by editor" in errors and "stickiness_bonus" in errors
    assert second_page.input_value("#id_reasoning_bonus") == "31"
    assert second_page.input_value("#id_reason") == "more reasoning"
    screenshot("router-config-conflict")

    config = RouterConfig.objects.get()
    assert config.stickiness_bonus == Decimal(17) and config.reasoning_bonus != Decimal(31)


def test_change_log_compare_and_as_of(page, live_server, superuser, seeded, screenshot):
    entries = [
        {"id": f"openai:bulk-{n:03d}", "provider": "openai", "name": f"Bulk {n}", "context_window": 8000,
         "pricing": {"input": "1", "output": "2"}}
        for n in range(100)
    ]  # fmt: skip
    services.import_models(entries, user=superuser, reason="Import of models.json")
    model = AIModel.objects.get(model_id="openai:gpt-5")
    services.update_model(model, user=superuser, reason="price cut", changes={"input_price": Decimal("1.1")})
    change_set = ChangeSet.objects.get(reason="Import of models.json")
    _sign_in(page, live_server, superuser)

    page.goto(f"{live_server.url}/admin/models_registry/changerecord/")
    assert "price cut" in page.inner_text("#result_list")
    screenshot("change-log")
    page.goto(f"{live_server.url}/admin/models_registry/changerecord/?change_set={change_set.pk}")
    assert "100 change log entries" in page.inner_text(".paginator")
    assert "by root — 100 version(s)" in page.inner_text("#result_list")
    screenshot("change-log-one-change-set")

    page.goto(f"{live_server.url}/admin/models_registry/aimodel/{model.pk}/history/")
    page.select_option("select[name=a]", "1")
    page.select_option("select[name=b]", "2")
    page.click(".compare-button")
    page.wait_for_selector("table.diff")
    assert "1.1" in page.inner_text("table.diff")
    screenshot("history-compare")
    page.goto(f"{live_server.url}/admin/models_registry/aimodel/{model.pk}/history/1/")
    assert "as of version 1" in page.inner_text("h1")
    screenshot("history-as-of")
