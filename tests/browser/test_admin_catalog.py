"""The catalog admin in a real browser (Debian's Chromium, headless), as editors and viewers use it.

Screenshots land in artifacts/screenshots/ for CI to show.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.test import override_settings

from models_registry import registry
from models_registry.audit.history import versions_of
from models_registry.models import AIModel


def admin_url(live_server, path: str) -> str:
    return f"{live_server.url}/admin/models_registry/aimodel/{path}"


def test_editor_changes_a_price_sees_the_diff_and_reverts_it(
    page, live_server, login, editor, seeded, screenshot
):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    old_price = model.input_price
    login(editor)

    page.goto(admin_url(live_server, f"{model.pk}/change/"))
    page.fill("#id_input_price", "0.99")
    page.fill("#id_reason", "Vendor price cut")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    page.goto(admin_url(live_server, f"{model.pk}/change/"))
    assert "version 2 · changed by editor" in page.inner_text("#version-line")
    screenshot("admin-change-form-version-2")

    page.click("a.historylink")
    version_2 = page.locator("#version-2")
    assert "Vendor price cut" in version_2.inner_text()
    diff_row = version_2.locator("tr[data-field=input_price]")
    assert diff_row.locator("td.old").inner_text() == str(old_price.normalize())
    assert diff_row.locator("td.new").inner_text() == "0.99"
    screenshot("admin-history-with-diff")

    page.locator("#version-1 a.revert-link").click()
    assert "Revert openai:gpt-5 to version 1?" in page.inner_text("h1")
    page.fill("#id_reason", "Announced by mistake")
    screenshot("admin-revert-confirmation")
    page.click("input[name=_revert]")
    page.wait_for_selector("#version-3")
    assert "Reverted to v1: Announced by mistake" in page.inner_text("#version-3")
    screenshot("admin-history-after-revert")

    model.refresh_from_db()
    assert model.input_price == old_price
    assert [v.reason for v in versions_of(model)][1:] == [
        "Vendor price cut",
        "Reverted to v1: Announced by mistake",
    ]


def test_editor_imports_a_json_file_through_preview_and_confirm(
    page, live_server, login, editor, seeded, screenshot, tmp_path
):
    file = tmp_path / "q3-prices.json"
    file.write_text(
        json.dumps(
            [
                {"id": "openai:gpt-5", "pricing": {"input": "1", "output": "8"}},
                {
                    "id": "openai:gpt-next",
                    "provider": "openai",
                    "name": "GPT Next",
                    "context_window": 400000,
                    "pricing": {"input": "3", "output": "12"},
                    "capabilities": ["vision", "function-calling"],
                },
                {"id": "anthropic:claude-sonnet-4.5"},
            ]
        )
    )
    login(editor)

    page.goto(admin_url(live_server, ""))
    page.click("a.import_link")
    page.set_input_files("#id_import_file", str(file))
    page.fill("#id_reason", "Q3 price sheet")
    page.click("input[type=submit]")

    preview = page.locator("table.import-preview")
    preview.wait_for()
    assert preview.locator("tr[data-model-id='openai:gpt-5'] .action-badge").inner_text() == "Update"
    assert preview.locator("tr[data-model-id='openai:gpt-next'] .action-badge").inner_text() == "New"
    # Unchanged rows are hidden behind their count, listed by id when opened.
    unchanged = page.locator("details.unchanged-rows")
    assert "1 unchanged row(s), hidden" in unchanged.inner_text()
    unchanged.locator("summary").click()
    assert "anthropic:claude-sonnet-4.5" in unchanged.locator(".unchanged-ids").inner_text()
    assert "input price: 2.5 → 1" in preview.locator("tr[data-model-id='openai:gpt-5']").inner_text()
    assert not AIModel.objects.filter(model_id="openai:gpt-next").exists()  # preview writes nothing
    screenshot("admin-import-preview")

    page.click("input[name=confirm]")
    message = page.locator(".messagelist .success")
    assert "Import finished: 1 new, 1 updated, 1 unchanged." in message.inner_text()
    screenshot("admin-import-done")

    created = AIModel.objects.get(model_id="openai:gpt-next")
    assert versions_of(created)[0].reason == "Q3 price sheet"
    assert AIModel.objects.get(model_id="openai:gpt-5").input_price == Decimal("1")


@override_settings(MODELS_REGISTRY_SOURCE="database")
def test_editor_deprecates_a_model_and_it_leaves_the_registry(
    page, live_server, login, editor, seeded, screenshot
):
    model = AIModel.objects.get(model_id="xai:grok-4-fast")
    assert "xai:grok-4-fast" in {m.id for m in registry.list_models()}
    login(editor)

    page.goto(admin_url(live_server, "?q=grok-4-fast"))
    page.check(f"input[name=_selected_action][value='{model.pk}']")
    page.select_option("select[name=action]", "deprecate_selected")
    page.click("button[name=index]")
    page.fill("#id_reason", "Superseded by Grok 5")
    screenshot("admin-deprecate-confirmation")
    page.click("input[type=submit][value=Deprecate]")
    assert "Deprecated 1 model(s)." in page.inner_text(".messagelist")
    screenshot("admin-model-list-after-deprecate")

    assert "xai:grok-4-fast" not in {m.id for m in registry.list_models()}
    assert registry.get_model("xai:grok-4-fast").status == "deprecated"


def test_viewer_sees_no_save_button(page, live_server, login, viewer, seeded, screenshot):
    model = AIModel.objects.get(model_id="openai:gpt-5")
    login(viewer)

    page.goto(admin_url(live_server, f"{model.pk}/change/"))

    assert page.locator("h1").inner_text() == "View AI model"
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("#id_reason").count() == 0
    page.goto(admin_url(live_server, ""))
    assert page.locator("select[name=action]").count() == 0
    assert page.locator("a.import_link").count() == 0
    screenshot("admin-viewer-read-only")


def test_editor_enters_a_long_context_tier_and_schedules_a_price(
    page, live_server, login, editor, seeded, screenshot
):
    model = AIModel.objects.get(model_id="google:gemini-2.5-pro")
    login(editor)

    page.goto(admin_url(live_server, f"{model.pk}/change/"))
    page.fill("input[name='price_tiers-0-above_input_tokens']", "200000")
    page.fill("input[name='price_tiers-0-input']", "2.5")
    page.fill("input[name='price_tiers-0-output']", "15")
    page.fill("input[name='service_tiers-0-multiplier']", "0.5")  # batch
    page.fill("#id_reason", "Long-context prices from the pricing page")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    page.goto(admin_url(live_server, f"{model.pk}/change/"))
    page.fill("#id_output_price", "10")
    page.fill("#id_prices_effective_from", "2099-01-01 00:00")
    page.fill("#id_reason", "Output price correction announced for 2099")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    page.goto(admin_url(live_server, f"{model.pk}/change/"))
    timeline = page.locator("table.price-timeline")
    assert "2099-01-01 00:00:00 UTC" in timeline.locator("tr.timeline-scheduled").inner_text()
    assert "output 10" in timeline.locator("tr.timeline-scheduled").inner_text()
    assert page.input_value("input[name='price_tiers-0-above_input_tokens']") == "200000"
    page.locator("table.price-timeline").scroll_into_view_if_needed()
    screenshot("admin-pricing-tiers-and-timeline")

    model.refresh_from_db()
    assert model.price_tiers == [{"above_input_tokens": 200000, "input": "2.5", "output": "15"}]
    assert model.output_price == Decimal("5")  # listed until 2099
