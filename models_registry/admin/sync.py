"""The catalog sync in the admin: runs, their proposed changes (review), apply, and id mappings.

Views are thin: every write goes through :mod:`models_registry.sync.services`.
Editors review and apply (the ``review_syncrun`` permission); viewers look.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from models_registry.admin.audited import AuditedAdmin, AuditedForm, reason_field
from models_registry.audit.values import error_lines
from models_registry.sync import services
from models_registry.sync.models import (
    Decision,
    MappingStatus,
    ProposedChange,
    RunStatus,
    SourceMapping,
    SyncRun,
)

REVIEW_PERMISSION = "models_registry.review_syncrun"
# A run's pages name at most this many of its proposals and link to the (paginated) list of the rest:
# a sync of a 5,000-model source renders the same small page, with the same queries, as one of 50.
PROPOSALS_LISTED = 100


def run_changes_url(run_id: int, **filters: str) -> str:
    """The proposed-change list of one run, filtered (``decision__exact="accepted"``, ``flagged="yes"``)."""
    query = urlencode({"run__id__exact": run_id, **filters})
    return f"{reverse('admin:models_registry_proposedchange_changelist')}?{query}"


class ReasonForm(forms.Form):
    reason = reason_field()


def _confirm_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    objects: list[Any],
    form: forms.Form,
    title: str,
    intro: str,
    button: str,
    action: str = "",
    cancel_url: str = "",
) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "intro": intro,
        "button": button,
        "objects": objects,
        "form": form,
        "action": action,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "cancel_url": cancel_url
        or reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist"),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/models_registry/confirm_action.html", context)


def _submitted(request: HttpRequest) -> Any:
    return request.POST if "apply" in request.POST else None


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return str(value)


class FlaggedFilter(admin.SimpleListFilter):
    title = "flagged"
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Flagged (need a confirmation)"), ("no", "Not flagged")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.exclude(flags=[])
        if self.value() == "no":
            return queryset.filter(flags=[])
        return queryset


@admin.register(ProposedChange)
class ProposedChangeAdmin(admin.ModelAdmin):
    list_display = (
        "model_key",
        "what",
        "old_value",
        "new_value",
        "change",
        "flag_list",
        "decision",
        "run_link",
    )
    list_filter = ("kind", "decision", FlaggedFilter, "provider", "run")
    search_fields = ("model_key", "upstream_key")
    list_select_related = ("run",)
    list_per_page = 100
    actions = ["accept_selected", "confirm_and_accept_selected", "reject_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # decisions are actions, with a reason; the rows themselves are the run's record

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)

    @admin.display(description="change")
    def what(self, obj: ProposedChange) -> str:
        return obj.column or obj.get_kind_display()

    @admin.display(description="now")
    def old_value(self, obj: ProposedChange) -> str:
        return _shown(obj.old)

    @admin.display(description="upstream")
    def new_value(self, obj: ProposedChange) -> str:
        return _shown(obj.new if obj.kind != "new_model" else obj.upstream_key)

    @admin.display(description="%")
    def change(self, obj: ProposedChange) -> str:
        return "" if obj.relative_change is None else f"{obj.relative_change * 100:+.1f}%"

    @admin.display(description="flags")
    def flag_list(self, obj: ProposedChange) -> str:
        return ", ".join(flag.replace("_", " ") for flag in obj.flags)

    @admin.display(description="run")
    def run_link(self, obj: ProposedChange) -> str:
        url = reverse("admin:models_registry_syncrun_change", args=[obj.run_id])
        return format_html('<a href="{}">#{}</a>', url, obj.run_id)

    def _decide(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        decision: str,
        confirm_flagged: bool,
        action: str,
        title: str,
        intro: str,
        button: str,
    ) -> HttpResponse | None:
        form = ReasonForm(_submitted(request))
        if form.is_bound and form.is_valid():
            outcome = services.decide(
                list(queryset),
                decision=decision,
                user=request.user,
                reason=form.cleaned_data["reason"],
                confirm_flagged=confirm_flagged,
            )
            note = f"{outcome.changed} proposal(s) {decision}."
            if outcome.skipped_flagged:
                note += (
                    f" {outcome.skipped_flagged} flagged proposal(s) left as they were: accept those with "
                    "“Confirm and accept flagged…”."
                )
            if outcome.skipped_closed:
                note += f" {outcome.skipped_closed} belong to runs already applied."
            messages.success(request, note)
            return None
        return _confirm_page(
            self,
            request,
            objects=list(queryset),
            form=form,
            title=title,
            intro=intro,
            button=button,
            action=action,
        )

    @admin.action(description="Accept selected proposals…", permissions=["review"])
    def accept_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._decide(
            request,
            queryset,
            decision=Decision.ACCEPTED,
            confirm_flagged=False,
            action="accept_selected",
            title="Accept proposals",
            button="Accept",
            intro="Accepted proposals are written when the run is applied. Flagged ones are left alone here: "
            "each needs its own confirmation.",
        )

    @admin.action(description="Confirm and accept flagged proposals…", permissions=["review"])
    def confirm_and_accept_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._decide(
            request,
            queryset,
            decision=Decision.ACCEPTED,
            confirm_flagged=True,
            action="confirm_and_accept_selected",
            title="Confirm flagged proposals",
            button="Confirm and accept",
            intro="These proposals were flagged by the guard rails (a price jump, a price to zero, a "
            "shrinking context window, a model gone upstream, a very large run). Check each one before you "
            "confirm.",
        )

    @admin.action(description="Reject selected proposals…", permissions=["review"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._decide(
            request,
            queryset,
            decision=Decision.REJECTED,
            confirm_flagged=False,
            action="reject_selected",
            title="Reject proposals",
            button="Reject",
            intro="Rejected proposals are never written.",
        )


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "source",
        "status",
        "upstream_models",
        "pending",
        "accepted",
        "flagged",
        "applied_at",
    )
    list_filter = ("source", "status")
    readonly_fields = (
        "source",
        "origin",
        "started_at",
        "finished_at",
        "status",
        "upstream_models",
        "providers",
        "problem_list",
        "proposals",
        "started_by",
        "applied_at",
        "applied_by",
        "applied_reason",
        "change_set_link",
    )
    exclude = ("problems", "change_set")
    change_form_template = "admin/models_registry/sync/run_change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending_count=Count("changes", filter=Q(changes__decision=Decision.PENDING)),
                accepted_count=Count("changes", filter=Q(changes__decision=Decision.ACCEPTED)),
                flagged_count=Count("changes", filter=~Q(changes__flags=[])),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs come from `manage.py sync_catalog`

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="pending", ordering="pending_count")
    def pending(self, obj: SyncRun) -> int:
        return obj.pending_count

    @admin.display(description="accepted", ordering="accepted_count")
    def accepted(self, obj: SyncRun) -> int:
        return obj.accepted_count

    @admin.display(description="flagged", ordering="flagged_count")
    def flagged(self, obj: SyncRun) -> int:
        return obj.flagged_count

    @admin.display(description="problems reading the source")
    def problem_list(self, obj: SyncRun) -> str:
        if not obj.problems:
            return "none"
        shown = obj.problems[:20]
        more = len(obj.problems) - len(shown)
        return "\n".join(shown) + (f"\n… and {more} more" if more > 0 else "")

    @admin.display(description="proposed changes")
    def proposals(self, obj: SyncRun) -> str:
        """Counts, each a link to the filtered proposal list: one query, never the proposals themselves."""
        counts = obj.changes.aggregate(
            total=Count("pk"),
            flagged=Count("pk", filter=~Q(flags=[])),
            pending=Count("pk", filter=Q(decision=Decision.PENDING)),
            accepted=Count("pk", filter=Q(decision=Decision.ACCEPTED)),
            rejected=Count("pk", filter=Q(decision=Decision.REJECTED)),
        )
        parts = [
            (run_changes_url(obj.pk, flagged="yes"), "flagged", counts["flagged"], "flagged"),
            *(
                (run_changes_url(obj.pk, decision__exact=value), value, counts[value], value)
                for value in (Decision.PENDING, Decision.ACCEPTED, Decision.REJECTED)
            ),
        ]
        return format_html(
            '<a href="{}" class="proposals-link">{} proposed change(s)</a>: {}',
            run_changes_url(obj.pk),
            counts["total"],
            format_html_join(", ", '<a href="{}" class="proposals-{}">{} {}</a>', parts),
        )

    @admin.display(description="change set")
    def change_set_link(self, obj: SyncRun) -> str:
        if not obj.change_set_id:
            return "—"
        url = (
            reverse("admin:models_registry_changerecord_changelist")
            + f"?change_set__id__exact={obj.change_set_id}"
        )
        return format_html('<a href="{}">the change log of this apply</a>', url)

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/apply/",
                self.admin_site.admin_view(self.apply_view),
                name="models_registry_syncrun_apply",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ):
        run = self.get_object(request, object_id)
        extra = {
            **(extra_context or {}),
            "can_apply": run is not None
            and run.status == RunStatus.REVIEW
            and request.user.has_perm(REVIEW_PERMISSION),
            "apply_url": reverse("admin:models_registry_syncrun_apply", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra)

    def apply_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm(REVIEW_PERMISSION):
            raise PermissionDenied
        run = get_object_or_404(SyncRun, pk=pk)
        back = reverse("admin:models_registry_syncrun_change", args=[pk])
        accepted = run.changes.filter(decision=Decision.ACCEPTED, applied=False)
        accepted_count = accepted.count()
        listed = list(accepted.order_by("pk")[:PROPOSALS_LISTED])
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                outcome = services.apply_run(run, user=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as error:
                for line in error_lines(error):
                    form.add_error(None, line)
            else:
                messages.success(
                    request,
                    f"Applied: {outcome.updated_models} model(s) updated, {outcome.created_models} created "
                    f"(internal only until an editor makes them selectable), {outcome.acknowledged} "
                    "gone-upstream notice(s) acknowledged.",
                )
                return HttpResponseRedirect(back)
        intro = format_html(
            "These {} accepted change(s) will be written in one change set, with the history reason “{}”. "
            "Nothing is written if a model changed since the run read it.",
            accepted_count,
            services.apply_reason(run, "<your reason>"),
        )
        if accepted_count > len(listed):
            intro = format_html(
                '{} The first {} are listed below; <a href="{}" class="all-accepted">see all {}</a>.',
                intro,
                len(listed),
                run_changes_url(run.pk, decision__exact=Decision.ACCEPTED, applied__exact="0"),
                accepted_count,
            )
        return _confirm_page(
            self,
            request,
            objects=listed,
            form=form,
            title=f"Apply {run}",
            button="Apply",
            intro=intro,
            cancel_url=back,
        )


class SourceMappingForm(AuditedForm):
    class Meta:
        model = SourceMapping
        fields = ["model", "source", "upstream_key", "status"]


@admin.register(SourceMapping)
class SourceMappingAdmin(AuditedAdmin):
    form = SourceMappingForm
    list_display = ("model", "source", "upstream_key", "status")
    list_filter = ("source", "status")
    search_fields = ("model__model_id", "upstream_key")
    list_select_related = ("model",)
    autocomplete_fields = ()
    raw_id_fields = ("model",)
    actions = ["confirm_selected", "reject_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("model", "source", "upstream_key") if obj is not None else ()

    def _set(
        self, request: HttpRequest, queryset: QuerySet, status: str, action: str, title: str, intro: str
    ) -> HttpResponse | None:
        form = ReasonForm(_submitted(request))
        if form.is_bound and form.is_valid():
            try:
                changed = services.set_mapping_status(
                    list(queryset), status, user=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                messages.error(request, " ".join(error_lines(error)))
                return None
            messages.success(request, f"{changed} mapping(s) {status}.")
            return None
        return _confirm_page(
            self,
            request,
            objects=list(queryset.select_related("model")),
            form=form,
            title=title,
            intro=intro,
            button=title.split()[0],
            action=action,
        )

    @admin.action(description="Confirm selected mappings…", permissions=["change"])
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._set(
            request,
            queryset,
            MappingStatus.CONFIRMED,
            "confirm_selected",
            "Confirm mappings",
            "Confirmed mappings are synced: the source's prices for them are proposed on each run.",
        )

    @admin.action(description="Reject selected mappings…", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._set(
            request,
            queryset,
            MappingStatus.REJECTED,
            "reject_selected",
            "Reject mappings",
            "A rejected mapping is never suggested again.",
        )
