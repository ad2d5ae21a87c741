"""The "Try the router" page in Chromium: an editor routes messages and reads the whole decision."""

from __future__ import annotations

import pytest

from autorouter.services import seed_config, seed_profiles


def pick_model(page, field: str, model_id: str) -> None:
    """Pick a model in a search-as-you-type picker (the admin's select2): open, type, click the match."""
    page.click(f"#id_{field} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", model_id)
    page.locator(".select2-results__option", has_text=f"{model_id} — ").first.click()
    assert page.locator(f"#id_{field}").input_value() == model_id


@pytest.fixture
def router_seeded(seeded):
    seed_config()
    seed_profiles()


def test_editor_tries_the_router(page, live_server, login, editor, router_seeded, screenshot):
    login(editor)
    page.goto(f"{live_server.url}/admin/autorouter/routerconfig/")
    page.click("text=Try the router")
    page.wait_for_url("**/admin/autorouter/routerconfig/try/")

    page.fill("#id_message", "What dose of ibuprofen is safe with my blood pressure medication?")
    page.fill("#id_exclude", "openai:gpt-5")
    page.click("input[name=_route]")

    chosen = page.locator("#decision-model").inner_text()
    assert chosen and chosen != "openai:gpt-5"
    assert page.locator("#decision-tier").inner_text() == "premium tier"
    assert page.locator("#classification td[data-key=high_stakes]").inner_text() == "yes (medical)"
    assert chosen in page.locator("#decision-explanation").inner_text()
    assert page.locator("#candidates tbody tr").count() > 10
    assert page.locator(f'#candidates tr.chosen[data-model="{chosen}"]').count() == 1
    assert page.locator("#exclusion-counts tr[data-reason=excluded]").count() == 1
    assert "excluded" in page.locator('#excluded tr[data-model="openai:gpt-5"]').inner_text()
    assert page.locator("#decision-source").inner_text() == "database"
    screenshot("router-try-high-stakes")

    # A follow-up keeps the previous model.
    page.fill("#id_message", "thanks, can you make it shorter?")
    page.fill("#id_exclude", "")
    pick_model(page, "previous_model", "anthropic:claude-sonnet-4.5")
    page.click("input[name=_route]")
    assert page.locator("#decision-model").inner_text() == "anthropic:claude-sonnet-4.5"
    assert page.locator("#decision-sticky").is_visible()
    assert page.locator("#classification td[data-key=action]").inner_text() == "keep"
    screenshot("router-try-sticky")


def test_editor_tunes_the_config_with_a_reason(page, live_server, login, editor, router_seeded, screenshot):
    login(editor)
    page.goto(f"{live_server.url}/admin/autorouter/routerconfig/")
    page.wait_for_url("**/admin/autorouter/routerconfig/1/change/")
    page.fill("#id_stickiness_bonus", "30")
    page.click("input[name=_save]")
    assert "This field is required" in page.locator(".field-reason .errorlist").inner_text()
    page.fill("#id_stickiness_bonus", "30")
    page.fill("#id_reason", "Fewer switches mid-conversation")
    screenshot("router-config")
    page.click("input[name=_save]")
    assert "was changed successfully" in page.locator(".messagelist").inner_text()
    page.click("text=History")
    version = page.locator("#version-2")
    assert "Fewer switches mid-conversation" in version.inner_text()
    assert version.locator("tr[data-field=stickiness_bonus] td.new").inner_text() == "30"
