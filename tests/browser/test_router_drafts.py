"""Router drafts in Chromium: an editor drafts a change, replays it over the decision log, reads the
report, and publishes it with a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from autorouter.models import RouterConfig, RouterDraft
from autorouter.router import route
from autorouter.services import seed_config, seed_profiles
from models_registry.audit.history import versions_of

MESSAGES = [
    "hi",
    "thanks!",
    "What is the capital of Australia?",
    "Write a Python function that parses ISO dates",
    "Explain recursion to a ten year old",
    "Prove step by step that the square root of 2 is irrational",
]


@pytest.fixture
def logged(seeded, settings):
    seed_config()
    seed_profiles()
    settings.MODELS_REGISTRY_SOURCE = "database"
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    return [route(message, subject=n, seed_key=f"b{n}") for n, message in enumerate(MESSAGES)]


def test_editor_drafts_replays_and_publishes(page, live_server, login, editor, logged, screenshot):
    not_premium = sum(decision.tier != "premium" for decision in logged)
    assert not_premium >= 2  # the change below moves these
    live_version = RouterConfig.objects.get().version

    login(editor)
    page.goto(f"{live_server.url}/admin/autorouter/routerconfig/")
    page.click("text=Draft a change")
    page.fill("#id_name", "everything premium")
    page.fill("#id_reason", "What would an all-premium mix cost?")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/autorouter/routerdraft/*/change/")
    assert "no user is routed with it" in page.locator("#draft-state").inner_text()

    page.fill("#id_mid_difficulty", "0")
    page.fill("#id_premium_difficulty", "0")
    page.fill("#id_reason", "Every message to the premium tier")
    page.click("input[name=_continue]")
    page.wait_for_url("**/admin/autorouter/routerdraft/*/change/")
    draft = RouterDraft.objects.get()
    assert draft.premium_difficulty == Decimal("0") and draft.version == 2
    assert RouterConfig.objects.get().version == live_version  # nothing live yet

    page.click("text=Replay")
    page.fill("#id_days", "1")
    page.click("#replay-form input[type=submit]")
    summary = page.locator("#replay-summary").inner_text()
    assert f"{not_premium} of {len(MESSAGES)} decisions change" in summary
    premium_row = page.locator("#replay-tiers tbody tr", has_text="premium")
    assert f"{len(MESSAGES)} (100%)" in premium_row.inner_text()
    assert page.locator("#replay-changed tbody tr").count() == not_premium
    screenshot("router-draft-replay")

    page.click("#go-publish")
    page.wait_for_url("**/publish/")
    assert "premium from difficulty" in page.locator("#publish-parameters").inner_text()
    screenshot("router-draft-publish")
    page.fill("#id_reason", "Premium for everyone this week")
    page.click("#publish-form input[type=submit]")
    page.wait_for_url("**/admin/autorouter/routerconfig/1/history/")
    assert "is live: router config version" in page.locator(".messagelist").inner_text()
    config = RouterConfig.objects.get()
    assert config.version == live_version + 1 and config.premium_difficulty == Decimal("0")
    assert versions_of(config)[-1].reason == "Premium for everyone this week"
    assert "Premium for everyone this week" in page.content()
    screenshot("router-draft-published")
