"""Rollout flags in the admin: their history, and a rollout page with counters and parity.

Flags are changed only through the rollout services (a percentage and a
reason), from the rollout page or ``manage.py rollout``, never by editing the
waffle row directly, so every change has a reason in the flag's history.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from models_registry.admin.audited import AuditedAdmin, error_lines
from models_registry.models import RolloutFlag
from models_registry.read import monitoring
from models_registry.rollout.flags import (
    DB_MODELS_FLAG,
    STAGES,
    RolloutRefused,
    advance_flag,
    current_percent,
    flag_version,
    known_flags,
    next_stage,
    revert_flag,
    rollback_flag,
    set_flag_percent,
    source_setting,
    stage_history,
    traffic_gate_skipped,
)
from models_registry.rollout.parity import parity_report_for_page, run_parity_check
from models_registry.rollout.traffic import stage_traffic

PARITY_LINES_ON_PAGE = 50  # of each kind (errors, new models, changed models); the rest in the full report


class RolloutChangeForm(forms.Form):
    ACTIONS = (("advance", "Advance to the next stage"), ("rollback", "Roll back to 0%"), ("set", "Set"))

    flag = forms.ChoiceField(choices=lambda: [(name, name) for name in known_flags()])
    action = forms.ChoiceField(choices=ACTIONS)
    percent = forms.DecimalField(required=False, min_value=0, max_value=100, decimal_places=1)
    reason = forms.CharField(max_length=500, help_text="Recorded in the flag's history.")
    force = forms.BooleanField(
        required=False, help_text="Advance despite failing checks (the history records which failed)."
    )


@admin.register(RolloutFlag)
class RolloutFlagAdmin(AuditedAdmin):
    list_display = ("name", "percent_display", "modified")
    readonly_fields = ("name", "everyone", "percent", "note", "created", "modified")
    fields = readonly_fields
    change_list_template = "admin/models_registry/rolloutflag/change_list.html"

    @admin.display(description="rollout")
    def percent_display(self, flag: RolloutFlag) -> str:
        from models_registry.rollout.buckets import effective_percent

        return f"{effective_percent(flag.everyone, flag.percent)}%"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # changes go through the rollout page with a reason

    def can_revert(self, request, obj) -> bool:
        return request.user.has_perm("models_registry.change_rolloutflag")  # the rollout page's right

    def revert_object(self, request, obj, *, to_version: int, reason: str, expected_version: int):
        # Through the rollout rules: recorded as a rollout change with its reason.
        return revert_flag(
            obj.name,
            to_version=to_version,
            user=request.user,
            reason=reason,
            expected_version=expected_version,
        )

    def get_urls(self):
        urls = super().get_urls()
        page = self.admin_site.admin_view(self.rollout_view)
        report = self.admin_site.admin_view(self.parity_report_view)
        return [
            path("rollout/", page, name="models_registry_rollout"),
            path("rollout/parity.txt", report, name="models_registry_parity_report"),
            *urls,
        ]

    def parity_report_view(self, request):
        """The whole parity report as text (the page lists the first ones of each kind)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        lines = run_parity_check().lines()
        return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")

    def rollout_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_change = request.user.has_perm("models_registry.change_rolloutflag")
        form = RolloutChangeForm(request.POST or None)
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            if form.is_valid():
                try:
                    self._apply(request, form.cleaned_data)
                except (RolloutRefused, ValidationError) as exc:
                    for line in _message_lines(exc):
                        self.message_user(request, line, level=messages.ERROR)
                else:
                    return redirect(reverse("admin:models_registry_rollout"))
        flags = []
        for name in known_flags():
            percent = current_percent(name)
            flags.append(
                {"name": name, "percent": percent, "next_stage": next_stage(percent),
                 "version": flag_version(name), "history": list(reversed(stage_history(name)))}
            )  # fmt: skip
        parity = parity_report_for_page()
        traffic = stage_traffic(DB_MODELS_FLAG)  # one grouped query over the stage's usage records
        context = {
            **self.admin_site.each_context(request),
            "title": "Rollout",
            "opts": self.model._meta,
            "flags": flags,
            "stages": STAGES,
            "source": source_setting(),
            "totals": monitoring.totals(),
            "parity": parity,
            "parity_lines": parity.lines(limit=PARITY_LINES_ON_PAGE),
            "traffic": traffic,
            "traffic_sides": traffic.sides(),
            "traffic_flag": DB_MODELS_FLAG,
            "traffic_skipped": traffic_gate_skipped(DB_MODELS_FLAG, current_percent(DB_MODELS_FLAG)),
            "form": form,
            "can_change": can_change,
        }
        return TemplateResponse(request, "admin/models_registry/rollout.html", context)

    def _apply(self, request, data) -> None:
        user, reason, flag = request.user, data["reason"], data["flag"]
        # The version the page showed: an advance or a set over someone else's change is refused.
        # A rollback is not: it is the emergency brake and always safe.
        if data["action"] == "rollback":
            rollback_flag(flag, user=user, reason=reason)
            self.message_user(request, f"{flag} is now at 0%.", level=messages.SUCCESS)
            return
        try:
            seen = int(request.POST.get(f"version_{flag}", ""))
        except ValueError:
            raise ValidationError("The page is missing the flag's version; reload it.") from None
        if data["action"] == "advance":
            percent = advance_flag(flag, user=user, reason=reason, force=data["force"], expected_version=seen)
        else:
            if data["percent"] is None:
                raise ValidationError({"percent": "Give the percentage to set."})
            set_flag_percent(flag, data["percent"], user=user, reason=reason, expected_version=seen)
            percent = data["percent"]
        self.message_user(request, f"{flag} is now at {percent}%.", level=messages.SUCCESS)


def _message_lines(exc: Exception) -> list[str]:
    return error_lines(exc) if isinstance(exc, ValidationError) else [str(exc)]
