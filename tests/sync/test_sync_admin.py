"""The sync's admin pages: who may look, who may review and apply, and what a refusal looks like."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_registry.models import ProposedChange, SourceMapping, SyncRun
from models_registry.sync import services
from models_registry.sync.models import Decision, MappingStatus, RunStatus

from .test_sync import SOURCE, confirm

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(seeded) -> SyncRun:
    confirm("openai:gpt-5", "openai/gpt-5")
    confirm("google:gemini-2.5-pro", "google/gemini-2.5-pro")
    return services.run_sync(source="models-dev", data=SOURCE, origin="test").run


def test_a_viewer_sees_runs_and_proposals_but_cannot_review_or_apply(client, viewer, run):
    client.force_login(viewer)
    assert client.get(reverse("admin:models_registry_syncrun_changelist")).status_code == 200
    page = client.get(reverse("admin:models_registry_syncrun_change", args=[run.pk]))
    assert page.status_code == 200 and "Apply accepted changes" not in page.text
    proposals = client.get(reverse("admin:models_registry_proposedchange_changelist"))
    assert proposals.status_code == 200 and 'name="action"' not in proposals.text
    assert client.get(reverse("admin:models_registry_syncrun_apply", args=[run.pk])).status_code == 403
    response = client.post(
        reverse("admin:models_registry_proposedchange_changelist"),
        {
            "action": "accept_selected",
            "_selected_action": [run.changes.first().pk],
            "apply": "1",
            "reason": "x",
        },
    )
    assert not ProposedChange.objects.filter(decision=Decision.ACCEPTED).exists()
    assert response.status_code in (200, 302, 403)


def test_an_editor_accepts_with_a_reason_and_flagged_rows_need_their_own_confirmation(client, editor, run):
    client.force_login(editor)
    changelist = reverse("admin:models_registry_proposedchange_changelist")
    every = list(run.changes.values_list("pk", flat=True))

    asked = client.post(changelist, {"action": "accept_selected", "_selected_action": every})
    assert asked.status_code == 200 and "Accept proposals" in asked.text  # the reason page
    done = client.post(
        changelist,
        {"action": "accept_selected", "_selected_action": every, "apply": "1", "reason": "reviewed"},
        follow=True,
    )

    flagged = [change for change in run.changes.all() if change.flags]
    assert flagged and all(change.decision == Decision.PENDING for change in flagged)
    assert all(change.decision == Decision.ACCEPTED for change in run.changes.all() if not change.flags)
    assert f"{len(flagged)} flagged proposal(s) left as they were" in done.text
    accepted = run.changes.filter(decision=Decision.ACCEPTED).first()
    assert (accepted.decided_by, accepted.decision_reason) == (editor, "reviewed")


def test_apply_asks_for_a_reason_and_shows_a_refusal_on_the_page(client, editor, run):
    client.force_login(editor)
    url = reverse("admin:models_registry_syncrun_apply", args=[run.pk])
    assert "Apply" in client.get(url).text

    refused = client.post(url, {"reason": "nothing accepted yet"})

    assert refused.status_code == 200
    assert "No proposal is accepted" in refused.text
    run.refresh_from_db()
    assert run.status == RunStatus.REVIEW


def test_an_editor_confirms_and_rejects_mapping_suggestions_with_a_reason(client, editor, seeded):
    from models_registry.audit import writes
    from models_registry.models import AIModel

    suggestion = writes.create(
        SourceMapping(
            model=AIModel.objects.get(model_id="openai:gpt-5"), source="litellm", upstream_key="gpt-5"
        ),
        user=None,
        reason="suggested",
    )
    client.force_login(editor)
    changelist = reverse("admin:models_registry_sourcemapping_changelist")
    client.post(
        changelist,
        {"action": "reject_selected", "_selected_action": [suggestion.pk], "apply": "1", "reason": "wrong"},
    )
    suggestion.refresh_from_db()
    assert suggestion.status == MappingStatus.REJECTED
    history = client.get(reverse("admin:models_registry_sourcemapping_history", args=[suggestion.pk]))
    assert "wrong" in history.text


def test_every_sync_page_opens_for_an_editor(client, editor, run):
    mapping = SourceMapping.objects.first()
    change = run.changes.first()
    client.force_login(editor)
    for name, args in [
        ("syncrun_changelist", []),
        ("syncrun_change", [run.pk]),
        ("syncrun_apply", [run.pk]),
        ("proposedchange_changelist", []),
        ("proposedchange_change", [change.pk]),
        ("sourcemapping_changelist", []),
        ("sourcemapping_add", []),
        ("sourcemapping_change", [mapping.pk]),
        ("sourcemapping_history", [mapping.pk]),
    ]:
        assert client.get(reverse(f"admin:models_registry_{name}", args=args)).status_code == 200, name
    filtered = client.get(reverse("admin:models_registry_proposedchange_changelist") + "?flagged=yes")
    assert all(row.flags for row in filtered.context["cl"].result_list)


# --- a run of 5,000 proposals -----------------------------------------------------------


def grow_run(run: SyncRun, total: int) -> None:
    """Copies of the run's first proposal until it has ``total``: a third accepted, some flagged."""
    template = run.changes.order_by("pk").first()
    values = {
        field.attname: getattr(template, field.attname)
        for field in ProposedChange._meta.concrete_fields
        if not field.primary_key
    }
    start = run.changes.count()
    ProposedChange.objects.bulk_create(
        [
            ProposedChange(
                **{
                    **values,
                    "model_key": f"{template.model_key}-copy-{n:05d}",
                    "decision": Decision.ACCEPTED if n % 3 == 0 else Decision.PENDING,
                    "flags": ["price_jump"] if n % 7 == 0 else [],
                }
            )
            for n in range(start, total)
        ],
        batch_size=500,
    )


def _queries_and_page(client, url: str) -> tuple[int, bytes]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: the admin's per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries), response.content


def test_the_run_pages_stay_the_same_with_5000_proposals(client, editor, run):
    client.force_login(editor)
    pages = {
        "run": reverse("admin:models_registry_syncrun_change", args=[run.pk]),
        "apply": reverse("admin:models_registry_syncrun_apply", args=[run.pk]),
        "proposals of the run": reverse("admin:models_registry_proposedchange_changelist")
        + f"?run__id__exact={run.pk}",
        "runs": reverse("admin:models_registry_syncrun_changelist"),
    }
    grow_run(run, 50)
    small = {name: _queries_and_page(client, url) for name, url in pages.items()}
    grow_run(run, 5000)
    big = {name: _queries_and_page(client, url) for name, url in pages.items()}

    assert {name: count for name, (count, _) in big.items()} == {
        name: count for name, (count, _) in small.items()
    }
    run_page = big["run"][1].decode()
    assert "5000 proposed change(s)" in run_page
    accepted = run.changes.filter(decision=Decision.ACCEPTED).count()
    assert f'class="proposals-accepted">{accepted} accepted</a>' in run_page
    assert f"run__id__exact={run.pk}&amp;flagged=yes" in run_page  # each count links to its rows
    apply_page = big["apply"][1].decode()
    listed = apply_page.split('class="selected-objects">')[1].split("</ul>")[0]
    assert listed.count("<li>") == 100 and f"see all {accepted}</a>" in apply_page
    for name, (_, content) in big.items():
        assert len(content) < 200_000, name
