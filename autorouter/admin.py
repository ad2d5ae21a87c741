"""The router's admin: one config page, the profile list, the decision log and "Try the router".

Thin on purpose: every write calls :mod:`autorouter.services` with the acting
user and a reason; routing on the try page calls the same code as ``route()``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.forms import BaseModelFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone

from models_registry import registry
from models_registry.admin.audited import AuditedAdmin
from models_registry.admin.usage import LandingFigure, register_landing_figures
from models_registry.audit import writes
from models_registry.domain.types import SELECTABLE_STATUSES, format_money
from models_registry.models import AIModel, UsageRecord

from . import services, whatif
from .decision import (
    CONTEXT_WINDOW,
    EXCLUDED,
    IMAGE_GENERATION,
    INTERNAL_ONLY,
    NO_IMAGE_GENERATION,
    NO_PROFILE,
    NO_VISION,
    NOT_SELECTABLE,
    PRO_ONLY,
    SHORT_CONTEXT,
)
from .evaluation import read_dataset
from .forms import (
    DraftActionForm,
    EvaluateForm,
    ModelIdAutocomplete,
    ModelProfileForm,
    NewDraftForm,
    ProfileRowForm,
    ReplayForm,
    ResetConfigForm,
    RouterConfigForm,
    RouterDraftForm,
    RouterExampleForm,
    TryRouterForm,
)
from .models import (
    SINGLETON_ID,
    WEIGHT_FIELDS,
    DecisionLog,
    ModelProfile,
    RouterConfig,
    RouterDraft,
    RouterExample,
)
from .router import route_with_state
from .semantic import embedder_error
from .state import semantic_model, state_from
from .types import CATEGORIES, COMPLEXITIES

TERM_COLUMNS = ("category", "complexity", "cost", "speed", "sticky", "reasoning", "research")

# Every model picker of the router's admin asks this URL as the user types (see model_search_view).
MODEL_SEARCH_URL = reverse_lazy("admin:autorouter_model_search")
MODEL_SEARCH_PAGE = 20  # answers per request; select2 asks for the next page on scroll
# Who may search the catalog's ids: anyone who sees a page with a picker, or the catalog itself.
MODEL_SEARCH_PERMISSIONS = (
    "models_registry.view_aimodel",
    "autorouter.view_routerconfig",
    "autorouter.add_modelprofile",
    "autorouter.try_router",
)

# The try page stays small with thousands of models: the best candidates, exclusions counted per
# reason; the whole list of exclusions on demand (capped on the page, complete in the JSON download).
CANDIDATES_SHOWN = 20
EXCLUSIONS_INLINE = 50  # a decision with at most this many exclusions lists them all anyway
EXCLUSIONS_SHOWN = 500
EXCLUSION_REASONS = {
    EXCLUDED: "excluded by the caller (already failed)",
    NOT_SELECTABLE: "not selectable (status or deprecation date)",
    INTERNAL_ONLY: "internal only",
    PRO_ONLY: "pro model (the user is on the free tier)",
    NO_PROFILE: "no router profile",
    CONTEXT_WINDOW: "context window too small",
    NO_VISION: "no vision (the message has images)",
    SHORT_CONTEXT: "not a long-context model",
    NO_IMAGE_GENERATION: "cannot generate images (an image is asked for)",
    IMAGE_GENERATION: "image-generation model (no image is asked for)",
}

# The profile list names this many models without a profile, then links to the rest.
MISSING_PROFILES_SHOWN = 20


def search_model_ids(
    term: str, *, page: int = 1, without_profile: bool = False
) -> tuple[list[dict[str, str]], bool]:
    """One page of catalog models matching ``term`` (every word in the id or the name), for a picker.

    Exact id first, then ids starting with the term (or its part after the provider), then the
    rest, by id. The database answers, not the registry's snapshot: the pickers' fields are keys
    to ``AIModel`` rows, and every status is offered (a deprecated router model can be replaced).
    Returns ``(results, more)`` in select2's shape.
    """
    rows: QuerySet = AIModel.objects.all()
    if without_profile:
        rows = rows.filter(router_profile__isnull=True)
    for word in term.split():
        rows = rows.filter(Q(model_id__icontains=word) | Q(name__icontains=word))
    term = term.strip()
    if term:
        rows = rows.annotate(
            rank=Case(
                When(model_id__iexact=term, then=Value(0)),
                When(Q(model_id__istartswith=term) | Q(model_id__icontains=f":{term}"), then=Value(1)),
                When(name__istartswith=term, then=Value(2)),
                default=Value(3),
                output_field=IntegerField(),
            )
        ).order_by("rank", "model_id")
    else:
        rows = rows.order_by("model_id")
    start = (max(page, 1) - 1) * MODEL_SEARCH_PAGE
    found = list(
        rows.values_list("model_id", "name", "status", "is_internal_only")[
            start : start
            + MODEL_SEARCH_PAGE
            + 1  # one more says whether there is a next page
        ]
    )
    results = []
    for model_id, name, status, internal in found[:MODEL_SEARCH_PAGE]:
        notes = [status] if status != "active" else []
        notes += ["internal only"] if internal else []
        text = f"{model_id} — {name}" + (f" ({', '.join(notes)})" if notes else "")
        results.append({"id": model_id, "text": text})
    return results, len(found) > MODEL_SEARCH_PAGE


class RouterModelPickers:
    """The router and fallback model fields of the config and of drafts: a searching picker."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.name in {"router_model", "fallback_model"}:
            # Any catalog model, checked on save; the page renders only the current one.
            kwargs["queryset"] = AIModel.objects.all()
            kwargs["widget"] = ModelIdAutocomplete(MODEL_SEARCH_URL)
            kwargs["error_messages"] = {"invalid_choice": "Not in the catalog: %(value)s."}
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in {"router_model", "fallback_model"}:  # pick a model; editing one is elsewhere
            for flag in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
                setattr(field.widget, flag, False)
        return field


@admin.register(RouterConfig)
class RouterConfigAdmin(RouterModelPickers, AuditedAdmin):
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
        ("Tier choice", {"fields": ("tier_mode", ("mid_difficulty", "premium_difficulty"))}),
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
            path(
                "evaluate/",
                self.admin_site.admin_view(self.evaluate_view),
                name="autorouter_routerconfig_evaluate",
            ),
            path(
                "models/", self.admin_site.admin_view(self.model_search_view), name="autorouter_model_search"
            ),
        ]
        return custom + super().get_urls()

    def model_search_view(self, request: HttpRequest) -> JsonResponse:
        """The model pickers' search (select2's JSON): ``?term=gpt&page=1[&without_profile=1]``."""
        if not any(request.user.has_perm(permission) for permission in MODEL_SEARCH_PERMISSIONS):
            raise PermissionDenied
        try:
            # Bounded: an offset past what the database's integers hold would be a 500.
            page = min(max(int(request.GET.get("page") or 1), 1), 10_000)
        except ValueError:
            page = 1
        results, more = search_model_ids(
            request.GET.get("term", "")[:150],
            page=page,
            without_profile=request.GET.get("without_profile") == "1",
        )
        return JsonResponse({"results": results, "pagination": {"more": more}})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_try"] = request.user.has_perm("autorouter.try_router")
        context["can_reset"] = self.has_change_permission(request, obj)
        context["can_draft"] = request.user.has_perm("autorouter.add_routerdraft")
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
        """Route a typed message under the saved config and show the decision.

        Routing is ``route()``'s (the bounded path): the best candidates, the exclusions counted
        per reason. "List every exclusion" and the JSON download route exhaustively instead (the
        same choice, every candidate and exclusion listed); the page caps what it lists.
        """
        if not request.user.has_perm("autorouter.try_router"):
            raise PermissionDenied
        bound = request.method == "POST"
        # The ids are checked against the catalog the router reads (the database's snapshot: no query).
        model_ids = (
            {
                model.id
                for model in registry.list_models(
                    status=None, include_internal=True, source="database", user_tier=None
                )
            }
            if bound
            else frozenset()
        )
        form = TryRouterForm(
            request.POST if bound else None, model_ids=model_ids, picker_url=MODEL_SEARCH_URL
        )
        decision = None
        note = ""
        if bound and form.is_valid():
            data = form.cleaned_data
            download = "_download" in request.POST
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
                **({"exhaustive": True} if (download or data["list_exclusions"]) and _CAN_EXHAUST else {}),
            )
            note = state.note
            if download:
                return _json_download(decision)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Try the router",
            "form": form,
            "decision": decision,
            "note": note,
            "term_columns": TERM_COLUMNS,
            **(_decision_context(decision, form.cleaned_data) if decision else {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/autorouter/routerconfig/try.html", context)

    def evaluate_view(self, request: HttpRequest) -> HttpResponse:
        """Route an uploaded labelled dataset with a config (live, defaults or an open draft) and show
        ``evaluate_router``'s report: accuracies and confusion matrices, shares, cost, weak/strong."""
        if not request.user.has_perm("autorouter.try_router"):
            raise PermissionDenied
        drafts = RouterDraft.objects.filter(status="open").values_list("pk", "name")
        form = EvaluateForm(request.POST or None, request.FILES or None, drafts=list(drafts))
        report = None
        if request.method == "POST" and form.is_valid():
            examples = _uploaded_examples(form)
            if examples is not None:
                report = whatif.evaluate_dataset(whatif.state_named(form.cleaned_data["config"]), examples)
                report["confusions"] = [
                    {
                        "name": name,
                        "labels": labels,
                        "rows": [
                            (truth, [report[f"{name}_confusion"][truth][guess] for guess in labels])
                            for truth in labels
                        ],
                    }
                    for name, labels in (("category", CATEGORIES), ("complexity", COMPLEXITIES))
                    if report[f"{name}_confusion"]
                ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Evaluate the router on a dataset",
            "form": form,
            "report": report,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/autorouter/routerconfig/evaluate.html", context)


# ``route_with_state(exhaustive=True)`` lists every candidate and exclusion; a router without the
# keyword is exhaustive anyway (it predates the bounded path).
_CAN_EXHAUST = "exhaustive" in inspect.signature(route_with_state).parameters


def _is_complete(decision: Any) -> bool:
    """Whether the decision holds every candidate and every exclusion (the exhaustive engine's)."""
    eligible = getattr(decision, "eligible_count", None)
    counts = getattr(decision, "excluded_counts", None)
    return (eligible is None or eligible == len(decision.candidates)) and (
        counts is None or sum(counts.values()) == len(decision.excluded)
    )


def _exclusion_counts(decision: Any) -> dict[str, int]:
    counts = getattr(decision, "excluded_counts", None)
    if counts is None:
        counts = Counter(exclusion.reason for exclusion in decision.excluded)
    return dict(counts)


def _listed_exclusions(decision: Any, data: dict[str, Any]) -> Sequence[Any]:
    """The exclusions the page lists: every one when asked (the exhaustive decision holds them all),
    else the models the user named (exclude, previous model), which are all ``route()`` keeps."""
    if data["list_exclusions"] or len(decision.excluded) <= EXCLUSIONS_INLINE:
        return decision.excluded
    named = {*data["exclude"], data["previous_model"]}
    return [exclusion for exclusion in decision.excluded if exclusion.model_id in named][:EXCLUSIONS_INLINE]


def _decision_context(decision: Any, data: dict[str, Any]) -> dict[str, Any]:
    counts = _exclusion_counts(decision)
    excluded_total = sum(counts.values())
    exclusions = _listed_exclusions(decision, data)
    listed = list(exclusions[:EXCLUSIONS_SHOWN])
    return {
        "candidate_rows": _candidate_rows(decision, data["previous_model"]),
        "eligible_count": getattr(decision, "eligible_count", len(decision.candidates)),
        "exclusion_counts": [
            {"reason": reason, "label": EXCLUSION_REASONS.get(reason, reason), "count": count}
            for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ],
        "excluded_total": excluded_total,
        "exclusions": listed,
        "exclusions_complete": len(listed) == excluded_total,
        "exclusions_not_listed": max(len(exclusions) - len(listed), 0),
        "decision_json": _json(decision),
    }


def _candidate_rows(decision: Any, previous_model_id: str = "") -> list[dict[str, Any]]:
    """The best candidates, then the chosen and the previous model if they rank lower.

    A rank is the position in the decision's list when the list is complete (or within its best
    rows); a bounded decision appends the chosen and previous models without their rank.
    """
    complete = _is_complete(decision)
    wanted = {decision.model_id, previous_model_id}
    rows = []
    for position, candidate in enumerate(decision.candidates):
        if position >= CANDIDATES_SHOWN and candidate.model_id not in wanted:
            continue
        terms = {term.name: term for term in candidate.terms}
        rows.append(
            {
                "rank": position + 1 if complete or position < CANDIDATES_SHOWN else None,
                "model_id": candidate.model_id,
                "tier": candidate.tier,
                "average_price": format_money(candidate.average_price),
                "score": candidate.score,
                "chosen": candidate.model_id == decision.model_id,
                "in_tier": candidate.tier == decision.tier,
                "derived_profile": candidate.profile.derived,
                "terms": [
                    {"points": terms[name].points, "detail": terms[name].detail} if name in terms else None
                    for name in TERM_COLUMNS
                ],
            }
        )
    return rows


def _json(decision: Any) -> str:
    """The decision as JSON, its lists cut to what the page shows (the download has everything)."""
    try:
        shown = dataclasses.replace(
            decision,
            candidates=decision.candidates[:CANDIDATES_SHOWN],
            excluded=decision.excluded[:EXCLUSIONS_INLINE],
        )
    except (TypeError, ValueError):  # not a plain dataclass any more: show it whole
        shown = decision
    return json.dumps(shown.to_dict(), indent=2)


def _json_download(decision: Any) -> HttpResponse:
    response = HttpResponse(json.dumps(decision.to_dict(), indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="decision-{decision.message_sha256[:12]}.json"'
    return response


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
    list_per_page = 100  # rows of 9 score inputs each: 200 made a 360 KB page
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
        if db_field.name == "model":  # only models that have no profile yet (checked again on save)
            kwargs["queryset"] = AIModel.objects.filter(router_profile__isnull=True)
            kwargs["widget"] = ModelIdAutocomplete(f"{MODEL_SEARCH_URL}?without_profile=1")
            kwargs["error_messages"] = {
                "invalid_choice": "Not in the catalog, or it has a profile already: %(value)s."
            }
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a deleted profile would be replaced by a derived one; set low scores instead

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
        reason = request.POST.get("_reason", "").strip()
        context = {
            **_models_without_profile(request),
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


def _models_without_profile(request: HttpRequest) -> dict[str, Any]:
    """Selectable models without a profile: how many, the first few, and the catalog list of all.

    Two queries whatever the catalog's size (a count and the first ids), not thousands of ids.
    """
    missing = AIModel.objects.filter(
        router_profile__isnull=True, is_internal_only=False, status__in=sorted(SELECTABLE_STATUSES)
    )
    count = missing.count()
    shown = list(missing.order_by("model_id").values_list("model_id", flat=True)[:MISSING_PROFILES_SHOWN])
    # The catalog's model list takes the same filter (router_profile__isnull is a local lookup).
    query = urlencode(
        {
            "router_profile__isnull": "True",
            "is_internal_only__exact": "0",
            "status__in": ",".join(sorted(SELECTABLE_STATUSES)),
        }
    )
    can_add = request.user.has_perm("autorouter.add_modelprofile")
    add_url = reverse("admin:autorouter_modelprofile_add")
    return {
        "missing_profiles_count": count,
        "missing_profiles": [
            {
                "model_id": model_id,
                "add_url": f"{add_url}?{urlencode({'model': model_id})}" if can_add else "",
            }
            for model_id in shown
        ],
        "missing_profiles_more": count - len(shown),
        "missing_profiles_url": (
            f"{reverse('admin:models_registry_aimodel_changelist')}?{query}"
            if request.user.has_perm("models_registry.view_aimodel")
            else ""
        ),
    }


def _missing_profiles_figure(request: HttpRequest) -> list[LandingFigure]:
    """The admin landing page's count of selectable models the router cannot pick (one query)."""
    count = AIModel.objects.filter(
        router_profile__isnull=True, is_internal_only=False, status__in=sorted(SELECTABLE_STATUSES)
    ).count()
    url = reverse("admin:autorouter_modelprofile_changelist")
    return [LandingFigure("Models without a router profile", f"{count:,}", url, "models-without-profile")]


# Registered with the registry's landing page (the registry never imports the router).
register_landing_figures(_missing_profiles_figure, permission="autorouter.view_modelprofile", order=40)


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
    # A decision's page renders like the try page's result (the shared _decision.html), then the
    # usage records of the calls it led to; the stored JSON stays behind a <details>.
    change_form_template = "admin/autorouter/decisionlog/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(_logged_decision_context(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)


LOGGED_USAGE_SHOWN = 50  # usage records listed on a decision's page (one per attempt, normally)


def _logged_decision_context(log: DecisionLog) -> dict[str, Any]:
    """The try page's decision context, from a logged decision's stored ``to_dict()``.

    Tolerant of entries logged by older versions (missing keys get their neutral value).
    """
    data = log.decision if isinstance(log.decision, dict) else {}
    candidates = data.get("candidates") or []
    excluded = data.get("excluded") or []
    eligible = data.get("eligible_count", len(candidates))
    counts = data.get("excluded_counts") or Counter(item.get("reason", "") for item in excluded)
    listed = excluded[:EXCLUSIONS_SHOWN]
    excluded_total = sum(counts.values())
    decision = {
        **data,
        "model_id": data.get("model_id", log.model_id),
        "is_fallback": data.get("fallback_reason") is not None,
        "classification": data.get("classification") or {},
    }
    return {
        "decision": decision,
        "logged": True,
        "note": "",
        "term_columns": TERM_COLUMNS,
        "candidate_rows": _logged_candidate_rows(data, eligible),
        "eligible_count": eligible,
        "exclusion_counts": [
            {"reason": reason, "label": EXCLUSION_REASONS.get(reason, reason), "count": count}
            for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ],
        "excluded_total": excluded_total,
        "exclusions": listed,
        "exclusions_complete": len(listed) == excluded_total,
        "exclusions_not_listed": max(len(excluded) - len(listed), 0),
        "decision_json": json.dumps(data, indent=2),
        **_linked_usage(log),
    }


def _logged_candidate_rows(data: dict[str, Any], eligible: int) -> list[dict[str, Any]]:
    """Like ``_candidate_rows``, from the stored candidates (dicts, their terms as dicts)."""
    candidates = data.get("candidates") or []
    complete = eligible == len(candidates)
    chosen = data.get("model_id")
    wanted = {chosen, (data.get("inputs") or {}).get("previous_model_id")}
    rows = []
    for position, candidate in enumerate(candidates):
        if position >= CANDIDATES_SHOWN and candidate.get("model_id") not in wanted:
            continue
        terms = {term.get("name"): term for term in candidate.get("terms") or []}
        rows.append(
            {
                "rank": position + 1 if complete or position < CANDIDATES_SHOWN else None,
                "model_id": candidate.get("model_id"),
                "tier": candidate.get("tier"),
                "average_price": candidate.get("average_price"),
                "score": candidate.get("score"),
                "chosen": candidate.get("model_id") == chosen,
                "in_tier": candidate.get("tier") == data.get("tier"),
                "derived_profile": candidate.get("derived_profile") or "",
                "terms": [
                    {"points": terms[name].get("points"), "detail": terms[name].get("detail")}
                    if name in terms
                    else None
                    for name in TERM_COLUMNS
                ],
            }
        )
    return rows


def _linked_usage(log: DecisionLog) -> dict[str, Any]:
    """The usage records of the calls this decision led to (``UsageRecord.decision_id``)."""
    records = list(
        UsageRecord.objects.filter(decision_id=log.pk).order_by("at", "id")[: LOGGED_USAGE_SHOWN + 1]
    )
    shown = records[:LOGGED_USAGE_SHOWN]
    return {
        "usage_rows": [
            {
                "at": record.at,
                "request_id": record.request_id,
                "model_id": record.model_id,
                "other_model": record.model_id != log.model_id,  # a retry or the caller's own pick
                "catalog_source": record.catalog_source,
                "status": record.status,
                "error_type": record.error_type,
                "input_tokens": record.input_tokens,
                "output_tokens": record.output_tokens,
                "cost": format_money(record.cost),
                "latency_ms": record.latency_ms,
            }
            for record in shown
        ],
        "usage_more": len(records) > LOGGED_USAGE_SHOWN,
    }


# --- drafts: edit, replay, publish --------------------------------------------------------------

MAX_DATASET_BYTES = 5 * 1024 * 1024  # an uploaded evaluation dataset (the project's is 120 KB)


def _uploaded_examples(form: Any) -> list[Any] | None:
    """The examples of the form's uploaded dataset (``None`` if none); errors go on the form."""
    upload = form.cleaned_data.get("dataset")
    if not upload:
        return None
    if upload.size > MAX_DATASET_BYTES:
        form.add_error("dataset", f"The file is larger than {MAX_DATASET_BYTES // (1024 * 1024)} MB.")
        return None
    try:
        text = upload.read().decode("utf-8")
        return read_dataset(text.splitlines(), split=form.cleaned_data.get("split") or None)
    except UnicodeDecodeError:
        form.add_error("dataset", "The file is not UTF-8 text.")
    except ValueError as exc:
        form.add_error("dataset", f"{upload.name}: {exc}")
    return None


def _share_rows(before: dict[str, int], after: dict[str, int], limit: int = 12) -> list[dict[str, Any]]:
    """Before/after counts of each key (tiers, models) with shares, the largest first."""
    total_before, total_after = sum(before.values()) or 1, sum(after.values()) or 1
    keys = sorted(
        set(before) | set(after), key=lambda key: (-max(before.get(key, 0), after.get(key, 0)), key)
    )
    return [
        {
            "key": key,
            "before": before.get(key, 0),
            "after": after.get(key, 0),
            "before_share": before.get(key, 0) / total_before,
            "after_share": after.get(key, 0) / total_after,
            "delta": after.get(key, 0) - before.get(key, 0),
        }
        for key in keys[:limit]
    ]


def _evaluation_rows(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The dataset reports of the live config and the draft, line by line."""

    def percent(value: Any) -> str:
        return "-" if value is None else f"{value:.1%}"

    rows = [
        ("category accuracy", percent(before["category_accuracy"]), percent(after["category_accuracy"])),
        (
            "complexity accuracy",
            percent(before["complexity_accuracy"]),
            percent(after["complexity_accuracy"]),
        ),
    ]
    for tier in ("cheap", "mid", "premium", "fallback"):
        if tier in before["tier_shares"] or tier in after["tier_shares"]:
            rows.append(
                (
                    f"{tier} tier",
                    percent(before["tier_shares"].get(tier, 0)),
                    percent(after["tier_shares"].get(tier, 0)),
                )
            )
    rows.append(
        (
            "estimated cost per 1,000 messages (USD)",
            before["estimated_cost_per_1000_usd"],
            after["estimated_cost_per_1000_usd"],
        )
    )
    if "weak_strong" in before:
        ws_before, ws_after = before["weak_strong"], after["weak_strong"]
        rows += [
            ("strong (premium) calls", percent(ws_before["strong_share"]), percent(ws_after["strong_share"])),
            (
                "weak→strong gap recovered",
                percent(ws_before["gap_recovered"]),
                percent(ws_after["gap_recovered"]),
            ),
            (
                "… by random routing at the same share",
                percent(ws_before["random_gap_recovered"]),
                percent(ws_after["random_gap_recovered"]),
            ),
        ]
    return rows


@admin.register(RouterDraft)
class RouterDraftAdmin(RouterModelPickers, AuditedAdmin):
    """Drafts of the router config and profiles: no user is routed with one until it is published."""

    form = RouterDraftForm
    add_form = NewDraftForm
    list_display = (
        "__str__",
        "status",
        "based_on_version",
        "published_config_version",
        "updated_at",
        "updated_by",
    )
    list_filter = ("status",)
    readonly_fields = ("status", "based_on_version", "published_config_version", "updated_at", "updated_by")
    change_form_template = "admin/autorouter/routerdraft/change_form.html"
    update_service = staticmethod(services.update_draft)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: RouterDraft | None = None) -> list:
        if obj is None:
            return [(None, {"fields": ("name",)}), self.reason_fieldset]
        fieldsets: list = [
            ("Draft", {"fields": ("name", ("status", "based_on_version", "published_config_version"))}),
            *RouterConfigAdmin.fieldsets,
            ("Profile changes", {"fields": ("profile_overrides",)}),
            ("Last change", {"fields": ("updated_at", "updated_by")}),
        ]
        if self.has_change_permission(request, obj):
            fieldsets.append(self.reason_fieldset)
        return fieldsets

    def has_change_permission(self, request: HttpRequest, obj: RouterDraft | None = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or obj.is_open)

    def create_object(self, request: HttpRequest, obj: RouterDraft, reason: str) -> RouterDraft:
        draft = services.create_draft(name=obj.name, user=request.user, reason=reason)
        obj.pk = draft.pk  # the admin redirects to the saved draft
        return draft

    def response_add(self, request: HttpRequest, obj: RouterDraft, post_url_continue: str | None = None):
        self.message_user(
            request,
            f"{obj} holds a copy of the live config version {obj.based_on_version}: edit it, replay it, "
            "then publish it.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:autorouter_routerdraft_change", args=[obj.pk]))

    def get_urls(self):
        def view(function: Any, name: str):
            return path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(function),
                name=f"autorouter_routerdraft_{name}",
            )

        return [
            view(self.replay_view, "replay"),
            view(self.publish_view, "publish"),
            view(self.discard_view, "discard"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["draft"] = obj
            context["can_publish"] = obj.is_open and request.user.has_perm("autorouter.publish_routerdraft")
            context["can_discard"] = obj.is_open and super().has_change_permission(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _draft(self, request: HttpRequest, object_id: str) -> RouterDraft:
        draft = self.get_object(request, object_id)
        if draft is None:
            raise Http404("No such router draft.")
        if not self.has_view_or_change_permission(request, draft):
            raise PermissionDenied
        return draft

    def _render(self, request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            f"admin/autorouter/routerdraft/{template}",
            {**self.admin_site.each_context(request), "opts": self.opts, **context},
        )

    def replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Replay the draft over the logged decisions of the last N days and, if one is uploaded,
        evaluate it against the live config on a labelled dataset."""
        draft = self._draft(request, object_id)
        bound = request.method == "POST" or "days" in request.GET
        form = ReplayForm(
            (request.POST if request.method == "POST" else request.GET) if bound else None,
            request.FILES or None,
        )
        report = evaluation = None
        if bound and form.is_valid():
            examples = _uploaded_examples(form)
            if form.is_valid():  # the upload may have added an error
                end = timezone.now()
                start = (end - timedelta(days=form.cleaned_data["days"] - 1)).replace(
                    hour=0, minute=0, second=0, microsecond=0
                )
                state = whatif.draft_state(draft)
                try:
                    report = whatif.replay_range(state, start, end)
                except ValueError as exc:
                    form.add_error("days", str(exc))
                if examples is not None:
                    result = whatif.compare_on_dataset(state_from("database"), state, examples)
                    evaluation = {
                        "examples": len(examples),
                        "rows": _evaluation_rows(result["before"], result["after"]),
                    }
                if report is not None:
                    report["start"], report["end"] = start, end
                    report["tier_rows"] = _share_rows(report["tiers_before"], report["tiers_after"])
                    report["model_rows"] = _share_rows(report["models_before"], report["models_after"])
        return self._render(
            request,
            "replay.html",
            {
                "title": f"Replay {draft}",
                "draft": draft,
                "form": form,
                "report": report,
                "evaluation": evaluation,
            },
        )

    def publish_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show what publishing writes (and any conflict), then publish with a reason."""
        draft = self._draft(request, object_id)
        if not request.user.has_perm("autorouter.publish_routerdraft"):
            raise PermissionDenied(
                "Publishing a router draft needs the “Can publish a router draft” permission."
            )
        form = DraftActionForm(request.POST or None, initial={"seen_version": draft.version})
        if request.method == "POST" and form.is_valid():
            try:
                config = services.publish_draft(
                    draft,
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["seen_version"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request,
                    f"{draft} is live: router config version {config.version}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:autorouter_routerconfig_history", args=[SINGLETON_ID])
                )
        changes = services.draft_changes(draft)
        return self._render(
            request,
            "publish.html",
            {
                "title": f"Publish {draft}",
                "draft": draft,
                "form": form,
                "parameter_rows": [
                    {"label": RouterConfig._meta.get_field(name).verbose_name, "live": live, "draft": mine}
                    for name, live, mine in changes.parameters
                ],
                "profile_rows": [
                    {
                        "model_id": model_id,
                        "changes": [
                            {"score": name, "live": current.get(name, "none"), "draft": new[name]}
                            for name in new
                            if current.get(name) != new[name]
                        ],
                    }
                    for model_id, current, new in changes.profiles
                ],
                "conflicts": changes.conflicts,
                "empty": changes.empty,
            },
        )

    def discard_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        draft = self._draft(request, object_id)
        if not super().has_change_permission(request, draft):
            raise PermissionDenied
        form = DraftActionForm(request.POST or None, initial={"seen_version": draft.version})
        if request.method == "POST" and form.is_valid():
            try:
                services.discard_draft(
                    draft,
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["seen_version"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(request, f"{draft} was discarded.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:autorouter_routerdraft_changelist"))
        return self._render(
            request, "discard.html", {"title": f"Discard {draft}", "draft": draft, "form": form}
        )


# --- teach the router ---------------------------------------------------------------------------


@admin.register(RouterExample)
class RouterExampleAdmin(AuditedAdmin):
    """Example messages with their category: the semantic classifier learns from them."""

    form = RouterExampleForm
    list_display = ("text_preview", "category", "complexity", "is_active", "updated_at", "updated_by")
    list_filter = ("category", "complexity", "is_active")
    search_fields = ("text",)
    readonly_fields = ("updated_at", "updated_by")
    change_list_template = "admin/autorouter/routerexample/change_list.html"

    def get_fieldsets(self, request: HttpRequest, obj: RouterExample | None = None) -> list:
        fieldsets: list = [(None, {"fields": ("text", ("category", "complexity"), "is_active")})]
        if obj is not None:
            fieldsets.append(("Last change", {"fields": ("updated_at", "updated_by")}))
        if (obj is None and self.has_add_permission(request)) or self.has_change_permission(request, obj):
            fieldsets.append(self.reason_fieldset)
        return fieldsets

    @admin.display(description="example message")
    def text_preview(self, obj: RouterExample) -> str:
        text = " ".join(obj.text.split())
        return text[:100] + ("…" if len(text) > 100 else "")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        model = semantic_model()
        context = {
            "classifier_examples": model.examples if model else None,
            "classifier_error": None if model else (embedder_error() or "not loaded"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)
