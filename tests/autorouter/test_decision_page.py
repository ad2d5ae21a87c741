"""A logged routing decision's admin page: rendered like "Try the router", with the usage it led to."""

from __future__ import annotations

import html
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from autorouter import route
from autorouter.models import DecisionLog
from models_registry.models import UsageRecord

MESSAGE = "What dose of ibuprofen is safe with my blood pressure medication?"


def page_url(log_id: int) -> str:
    return reverse("admin:autorouter_decisionlog_change", args=[log_id])


@pytest.fixture
def logged(router_db, settings):
    """A routed and logged decision, and the usage the chat app recorded for it: a failed first
    attempt on the chosen model, then a retry on another model."""
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    decision = route(MESSAGE, subject="user-1", exclude=["openai:gpt-5"])
    retry_model = next(c.model_id for c in decision.candidates if c.model_id != decision.model_id)
    now = timezone.now()
    UsageRecord.objects.bulk_create(
        [
            UsageRecord(
                request_id="req-1",
                at=now,
                model_id=decision.model_id,
                provider=decision.model_id.split(":")[0],
                catalog_source="static",
                routed=True,
                decision_id=decision.log_id,
                input_tokens=120,
                output_tokens=0,
                cost=Decimal("0"),
                latency_ms=30_000,
                status="error",
                error_type="timeout",
            ),
            UsageRecord(
                request_id="req-2",
                at=now + timedelta(seconds=31),
                model_id=retry_model,
                provider=retry_model.split(":")[0],
                catalog_source="static",
                routed=True,
                decision_id=decision.log_id,
                input_tokens=120,
                output_tokens=480,
                cost=Decimal("0.004230000000"),
                latency_ms=2_150,
            ),
            UsageRecord(  # another decision's call: not on this page
                request_id="req-other",
                at=now,
                model_id=retry_model,
                provider="x",
                catalog_source="static",
                decision_id=(decision.log_id or 0) + 1000,
                cost=Decimal("9.99"),
            ),
        ]
    )
    return decision, retry_model


def test_route_exposes_the_log_id_of_a_logged_decision(router_db, settings):
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    decision = route("hello there", subject="user-1")
    assert decision.log_id == DecisionLog.objects.get().pk
    assert "log_id" not in decision.to_dict()  # the stored dict is the decision as it was decided
    settings.AUTOROUTER_DECISION_LOG_RATE = 0
    assert route("hello there", subject="user-1").log_id is None  # not sampled: nothing to link


def test_the_decision_page_renders_the_decision_like_the_try_page(logged, client, viewer):
    decision, _ = logged
    client.force_login(viewer)  # viewers read the decision log
    response = client.get(page_url(decision.log_id))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<span class="chosen" id="decision-model">{decision.model_id}</span>' in page
    assert html.escape(decision.explanation) in page or decision.explanation in page
    assert f'id="decision-tier">{decision.tier} tier<' in page
    # the classification
    assert f'<td data-key="primary">{decision.classification.primary}</td>' in page
    assert "yes (medical)" in page
    # the kept candidates with their score terms, the chosen one highlighted
    assert page.count('<tr class="chosen"') == 1
    assert f'<tr class="chosen" data-model="{decision.model_id}">' in page
    chosen = decision.chosen
    assert chosen is not None
    for term in chosen.terms:
        assert html.escape(term.detail, quote=True) in page
    # the exclusions counted per reason, and the excluded model the caller named
    for reason, count in decision.excluded_counts.items():
        assert f'<tr data-reason="{reason}"><td>{reason}</td>' in page
        assert f'<td class="num">{count}</td></tr>' in page
    assert 'data-model="openai:gpt-5"><td>openai:gpt-5</td><td>excluded' in page
    assert MESSAGE not in page  # never the text


def test_the_decision_page_lists_the_usage_it_led_to(logged, client, viewer):
    decision, retry_model = logged
    client.force_login(viewer)
    page = client.get(page_url(decision.log_id)).content.decode()
    usage = page[page.index('id="decision-usage"') :]
    usage = usage[: usage.index("</table>")]
    assert usage.count("<tr data-request=") == 2 and "req-other" not in usage
    first = usage[usage.index('data-request="req-1"') :]
    first = first[: first.index("</tr>")]
    assert f'<td class="usage-model">{decision.model_id}</td>' in first  # the chosen model, failed
    assert '<td class="usage-status">error (timeout)</td>' in first
    assert '<td class="num usage-latency">30000</td>' in first
    second = usage[usage.index('data-request="req-2"') :]
    second = second[: second.index("</tr>")]
    assert retry_model in second and "not the chosen model" in second  # the model actually used
    assert '<td class="usage-status">ok</td>' in second
    assert '<td class="num usage-cost">0.00423</td>' in second
    assert '<td class="num usage-latency">2150</td>' in second


def test_the_json_is_kept_behind_details_not_as_the_main_content(logged, client, viewer):
    decision, _ = logged
    client.force_login(viewer)
    page = client.get(page_url(decision.log_id)).content.decode()
    blob = html.escape(json.dumps(DecisionLog.objects.get().decision, indent=2), quote=True)
    assert page.count(blob) == 1  # once: inside the collapsed <details>
    details = page[page.index("<details><summary>Decision as logged") :]
    assert blob in details[: details.index("</details>")]
    assert 'class="readonly"' not in page  # no field rows: the stored JSON is not dumped as a field
    assert page.index('id="decision"') < page.index("<details>")


def test_a_decision_without_usage_says_so(router_db, client, viewer, settings):
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    decision = route("hello there", subject="user-1")
    client.force_login(viewer)
    page = client.get(page_url(decision.log_id)).content.decode()
    assert "No usage recorded for this decision" in page


def test_an_entry_logged_by_an_older_version_still_renders(client, superuser):
    # Before the bounded router: no eligible_count / excluded_counts, exclusions listed in full.
    entry = DecisionLog.objects.create(
        model_id="openai:gpt-5-mini",
        tier="mid",
        primary_category="conversation",
        complexity="simple",
        classifier="local",
        source="defaults",
        message_length=5,
        message_sha256="0" * 64,
        decision={
            "model_id": "openai:gpt-5-mini",
            "tier": "mid",
            "explanation": "An old decision.",
            "classification": {"primary": "conversation", "complexity": "simple"},
            "candidates": [
                {
                    "model_id": "openai:gpt-5-mini",
                    "tier": "mid",
                    "average_price": "1.125",
                    "score": 71.5,
                    "terms": [{"name": "category", "points": 50.0, "detail": "conversation score 70"}],
                }
            ],
            "excluded": [{"model_id": "x:old", "reason": "status", "detail": "deprecated"}],
            "fallback_reason": None,
        },
    )
    client.force_login(superuser)
    page = client.get(page_url(entry.pk)).content.decode()
    assert 'id="decision-model">openai:gpt-5-mini<' in page and "An old decision." in page
    assert '<tr data-reason="status"><td>status</td>' in page
    assert 'title="conversation score 70"' in page


def test_the_decision_page_stays_read_only(logged, client, viewer):
    decision, _ = logged
    client.force_login(viewer)
    assert client.post(page_url(decision.log_id), {}).status_code == 403
    assert 'name="_save"' not in client.get(page_url(decision.log_id)).content.decode()


def test_a_candidate_routed_with_a_derived_profile_is_marked(router_db, client, viewer, settings):
    """A model nobody has profiled yet is routed with a derived profile: its row says so."""
    settings.AUTOROUTER_DECISION_LOG_RATE = 1
    decision = route("hello there", subject="user-1")
    entry = DecisionLog.objects.get(pk=decision.log_id)
    stored = entry.decision
    stored["candidates"][0]["derived_profile"] = "same model as openai:gpt-5"
    entry.decision = stored
    entry.save(update_fields=["decision"])
    client.force_login(viewer)
    page = client.get(page_url(decision.log_id)).content.decode()
    assert page.count('class="derived-profile"') == 1
    assert 'title="No editor has profiled it yet: same model as openai:gpt-5">derived profile' in page
