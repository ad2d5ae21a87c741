"""Reviewing a sync run in a real browser: accept two changes, reject one, apply with a reason."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.management import call_command

from models_registry.audit import writes
from models_registry.models import AIModel, SourceMapping, SyncRun
from models_registry.sync.models import MappingStatus
from tests.sync.conftest import models_dev_file, models_dev_model

SOURCE = models_dev_file(
    {
        "openai": {
            "gpt-5": models_dev_model("gpt-5", input="1.25", output="10", cache_read="0.125", context=400000),
        },
        "google": {
            "gemini-2.5-pro": models_dev_model(
                "gemini-2.5-pro", input="1.25", output="10", cache_read="0.125", context=1048576
            ),
        },
    }
)


def _select(page, model_key: str, column: str) -> None:
    rows = page.locator("#result_list tbody tr")
    row = rows.filter(
        has=page.locator(".field-model_key", has_text=re.compile(f"^{re.escape(model_key)}$"))
    ).filter(has=page.locator("td.field-what", has_text=re.compile(f"^{column}$")))
    row.locator("input.action-select").check()


def _run_action(page, action: str, reason: str) -> None:
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.fill("#id_reason", reason)
    page.click("input[name=_confirm]")
    page.wait_for_selector(".messagelist .success")


def test_editor_reviews_a_run_and_applies_it(page, live_server, login, editor, seeded, tmp_path, screenshot):
    for model_id, key in (
        ("openai:gpt-5", "openai/gpt-5"),
        ("google:gemini-2.5-pro", "google/gemini-2.5-pro"),
    ):
        writes.create(
            SourceMapping(
                model=AIModel.objects.get(model_id=model_id),
                source="models-dev",
                upstream_key=key,
                status=MappingStatus.CONFIRMED,
            ),
            user=None,
            reason="test mapping",
        )
    source = tmp_path / "api.json"
    source.write_bytes(SOURCE)
    with pytest.raises(SystemExit) as exit:  # 3: changes wait for review
        call_command("sync_catalog", "--source", "models-dev", "--file", str(source))
    assert exit.value.code == 3
    run = SyncRun.objects.get()
    login(editor)

    page.goto(f"{live_server.url}/admin/models_registry/proposedchange/?run__id__exact={run.pk}")
    screenshot("sync-run-proposals")
    _select(page, "openai:gpt-5", "input_price")
    _select(page, "openai:gpt-5", "cached_input_price")
    _run_action(page, "confirm_and_accept_selected", "Matches openai.com/api/pricing")
    _select(page, "google:gemini-2.5-pro", "output_price")
    _run_action(page, "reject_selected", "We pay a contract price")

    page.goto(f"{live_server.url}/admin/models_registry/syncrun/{run.pk}/change/")
    page.click("a.apply-link")
    page.fill("#id_reason", "November price review")
    screenshot("sync-apply-confirmation")
    page.click("input[name=_confirm]")
    page.wait_for_selector(".messagelist .success")
    assert "1 model(s) updated" in page.inner_text(".messagelist")

    page.click("text=the change log of this apply")
    log = page.inner_text("#result_list")
    assert "openai:gpt-5" in log and "gemini" not in log
    assert "Synced from models-dev" in page.content()
    screenshot("sync-change-set-in-change-log")

    gpt = AIModel.objects.get(model_id="openai:gpt-5")
    assert (gpt.input_price, gpt.cached_input_price) == (Decimal("1.25"), Decimal("0.125"))
    assert AIModel.objects.get(model_id="google:gemini-2.5-pro").output_price == Decimal("5")
