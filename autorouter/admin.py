"""The router's admin: one config page, the profile list, the decision log and "Try the router".

Thin on purpose: every write calls :mod:`autorouter.services` with the acting
user and a reason; routing on the try page calls the same code as ``route()``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms import BaseModelFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from models_registry import registry
from models_registry.admin.audited import AuditedAdmin
from models_registry.audit import writes
from models_registry.domain.types import format_money
from models_registry.models import AIModel

from . import services
from .forms import ModelProfileForm, ProfileRowForm, ResetConfigForm, RouterConfigForm, TryRouterForm
from .models import SINGLETON_ID, WEIGHT_FIELDS, DecisionLog, ModelProfile, RouterConfig
from .router import route_with_state
from .state import state_from
from .types import CATEGORIES

TERM_COLUMNS = ("category", "complexity", "cost", "speed", "sticky", "reasoning", "research")


@admin.register(RouterConfig)
class RouterConfigAdmin(AuditedAdmin):
    """The router config as one page: no list, no add, no delete; a reason on every save."""

    form = RouterConfigForm
    fieldsets = (
        ("Bonuses (score points)", {"fields": ("stickiness_bonus", "reasoning_bonus", "research_bonus")}),
        (
            "Complexity",
            {"fields": ("simple_penalty", "complex_boost_threshold", "complex_boost_multiplier")},
        ),
        (
            "Cost (USD per 1M tokens, mean of input and output)",
            {"fields": ("cheap_threshold", "mid_threshold", "cost_penalty_points")},
        ),
        (
            "Tier weights (each row adds up to 1)",
            {"fields": tuple(WEIGHT_FIELDS.values())},
        ),
        (
            "Scoring details",
            {"fields": ("speed_bonuses", "secondary_share", "research_providers")},
        ),
        (
            "Router",
            {
                "fields": (
                    "router_model",
                    "fallback_model",
                    "max_retries",
                    "context_buffer",
                    "long_context_threshold",
                    "high_stakes_domains",
                )
            },
        ),
    )
    audit_fieldset = ("Last change", {"fields": ("updated_at", "updated_by")})
    reason_fieldset = ("Reason for change", {"fields": ("reason", "seen_version")})
    readonly_fields = ("updated_at", "updated_by")

    def get_fieldsets(self, request: HttpRequest, obj: RouterConfig | None = None) -> list:
        fieldsets = [*self.fieldsets, self.audit_fieldset]
        if self.has_change_permission(request, obj):
            fieldsets.append(self.reason_fieldset)
        return fieldsets

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row, created by seed_autorouter or "reset to defaults"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.name in {"router_model", "fallback_model"}:
            kwargs["queryset"] = AIModel.objects.order_by("model_id")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in {"router_model", "fallback_model"}:  # pick a model; editing one is elsewhere
            for flag in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
                setattr(field.widget, flag, False)
        return field

    change_form_template = "admin/autorouter/routerconfig/change_form.html"

    update_service = staticmethod(services.save_config)
    revert_service = staticmethod(services.revert_config)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if services.get_config() is not None:
            return HttpResponseRedirect(reverse("admin:autorouter_routerconfig_change", args=[SINGLETON_ID]))
        if self.has_change_permission(request):
            self.message_user(request, "The router config does not exist yet: create it from the defaults.")
            return HttpResponseRedirect(reverse("admin:autorouter_routerconfig_reset"))
        self.message_user(request, "The router config does not exist yet.", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:index"))

    def get_urls(self):
        custom = [
            path("reset/", self.admin_site.admin_view(self.reset_view), name="autorouter_routerconfig_reset"),
            path("try/", self.admin_site.admin_view(self.try_view), name="autorouter_routerconfig_try"),
        ]
        return custom + super().get_urls()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_try"] = request.user.has_perm("autorouter.try_router")
        context["can_reset"] = self.has_change_permission(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def reset_view(self, request: HttpRequest) -> HttpResponse:
        """Reset every parameter to the built-in defaults (or create the config), with a reason."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        config = services.get_config()
        form = ResetConfigForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                _, action = services.reset_config(user=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                verb = {services.CREATED: "created from", services.UNCHANGED: "already at"}.get(
                    action, "reset to"
                )
                self.message_user(request, f"The router config was {verb} the defaults.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:autorouter_routerconfig_change", args=[SINGLETON_ID])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Reset the router config to the defaults" if config else "Create the router config",
            "config": config,
            "form": form,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/autorouter/routerconfig/reset.html", context)

    def try_view(self, request: HttpRequest) -> HttpResponse:
        """Route a typed message under the saved config and show the whole decision."""
        if not request.user.has_perm("autorouter.try_router"):
            raise PermissionDenied
        catalog = registry.list_models(status=None, include_internal=True, source="database")
        form = TryRouterForm(request.POST or None, model_ids=[model.id for model in catalog])
        decision = None
        note = ""
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            state = state_from(data["source"], request.user)
            decision = route_with_state(
                state,
                data["message"],
                subject=request.user,
                previous_model_id=data["previous_model"] or None,
                has_attachments=data["has_attachments"],
                context_tokens=data["context_tokens"],
                cost_bias=data["cost_bias"],
                speed_bias=data["speed_bias"],
                exclude=data["exclude"],
                seed_key=data["seed_key"] or None,
                classifier=data["classifier"],
                log=False,
            )
            note = state.note
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Try the router",
            "form": form,
            "decision": decision,
            "note": note,
            "term_columns": TERM_COLUMNS,
            "candidate_rows": _candidate_rows(decision) if decision else [],
            "decision_json": _json(decision) if decision else "",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/autorouter/routerconfig/try.html", context)


def _candidate_rows(decision: Any) -> list[dict[str, Any]]:
    rows = []
    for rank, candidate in enumerate(decision.candidates, start=1):
        terms = {term.name: term for term in candidate.terms}
        rows.append(
            {
                "rank": rank,
                "model_id": candidate.model_id,
                "tier": candidate.tier,
                "average_price": format_money(candidate.average_price),
                "score": candidate.score,
                "chosen": candidate.model_id == decision.model_id,
                "in_tier": candidate.tier == decision.tier,
                "terms": [
                    {"points": terms[name].points, "detail": terms[name].detail} if name in terms else None
                    for name in TERM_COLUMNS
                ],
            }
        )
    return rows


def _json(decision: Any) -> str:
    import json

    return json.dumps(decision.to_dict(), indent=2)


class ProfileFormSet(BaseModelFormSet):
    """The profile list's inline edits: refused without a reason (``_reason`` next to the Save button)."""

    reason: str = ""

    def clean(self) -> None:
        super().clean()
        if any(form.has_changed() for form in self.forms) and not self.reason.strip():
            raise ValidationError("Give a reason for these changes (next to the Save button).")


@admin.register(ModelProfile)
class ModelProfileAdmin(AuditedAdmin):
    form = ModelProfileForm
    list_display = ("model", "quality", *CATEGORIES, "updated_at")
    list_editable = ("quality", *CATEGORIES)
    list_select_related = ("model",)
    list_filter = ("model__provider",)
    search_fields = ("model__model_id", "model__name")
    list_per_page = 200
    readonly_fields = ("updated_at", "updated_by")

    def get_fieldsets(self, request: HttpRequest, obj: ModelProfile | None = None) -> list:
        fieldsets: list = [
            (None, {"fields": ("model", "quality")}),
            ("Category scores (0-100)", {"fields": CATEGORIES}),
        ]
        if obj is not None:
            fieldsets.append(("Last change", {"fields": ("updated_at", "updated_by")}))
        if (obj is None and self.has_add_permission(request)) or self.has_change_permission(request, obj):
            fieldsets.append(self.reason_fieldset)
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: ModelProfile | None = None) -> tuple[str, ...]:
        return ("model", *self.readonly_fields) if obj is not None else self.readonly_fields

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.name == "model":  # only models that have no profile yet
            kwargs["queryset"] = AIModel.objects.filter(router_profile__isnull=True).order_by("model_id")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a model without a profile is never routed to; set low scores instead

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any):
        return super().get_changelist_form(request, form=ProfileRowForm, **kwargs)

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any):
        formset = super().get_changelist_formset(request, **kwargs)
        return type(
            "ProfileChangelistFormSet", (ProfileFormSet, formset), {"reason": request.POST.get("_reason", "")}
        )

    create_service = staticmethod(services.create_profile)
    update_service = staticmethod(services.update_profile)
    revert_service = staticmethod(services.revert_profile)

    def update_object(self, request: HttpRequest, obj: ModelProfile, form: Any) -> ModelProfile:
        if not isinstance(form, ProfileRowForm):
            return super().update_object(request, obj, form)
        # A row of the list: the reason is next to the Save button.
        return self.update_service(
            obj,
            user=request.user,
            reason=request.POST.get("_reason", ""),
            changes={name: form.cleaned_data[name] for name in form.changed_data if name != "seen_version"},
            expected_version=form.cleaned_data["seen_version"],
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        missing = list(
            AIModel.objects.filter(router_profile__isnull=True, is_internal_only=False)
            .exclude(status="deprecated")
            .order_by("model_id")
            .values_list("model_id", flat=True)
        )
        reason = request.POST.get("_reason", "").strip()
        context = {
            "models_without_profile": missing,
            "profile_reason": reason,  # kept when the edits come back with errors
            **(extra_context or {}),
        }
        if request.method != "POST" or "_save" not in request.POST:
            return super().changelist_view(request, context)
        # One transaction for the whole list: the row locks taken while checking
        # versions are held until every row is saved, and the rows share one change set.
        scope = (
            writes.change_set(user=request.user, reason=reason, summary="Profile list edit")
            if reason
            else transaction.atomic()
        )
        with scope:
            return super().changelist_view(request, context)


@admin.register(DecisionLog)
class DecisionLogAdmin(admin.ModelAdmin):
    """Sampled decisions (AUTOROUTER_DECISION_LOG_RATE): read-only, no message text."""

    list_display = (
        "created_at",
        "model_id",
        "tier",
        "sticky",
        "fallback",
        "primary_category",
        "complexity",
        "high_stakes",
        "classifier",
        "source",
        "message_length",
    )
    list_filter = ("tier", "sticky", "fallback", "primary_category", "complexity", "high_stakes", "source")
    search_fields = ("model_id", "message_sha256")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser
