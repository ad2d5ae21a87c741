"""What every audited admin shares: the reason and version check, history, compare, as-of and revert.

Used by the catalog, the rollout flags and the router's admin, so every
audited object has the same pages: who, when, why, the change type and each
changed field as old → new; two chosen versions compared; the object as it
was at version N; and "revert to version N" with a required reason.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import capfirst

from models_registry.audit import writes
from models_registry.audit.history import as_of, compare, display_value, records_of, versions_of
from models_registry.audit.models import ChangeRecord
from models_registry.audit.values import error_lines

REASON_LABEL = "Reason for change"
REASON_HELP = "Required. Stored in the history with your name, e.g. “Price drop announced 2025-06-01”."


def reason_field(*, required: bool = True, help_text: str = REASON_HELP, label: str = REASON_LABEL):
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80, "class": "vLargeTextField"}),
    )


def latest_change_by(model: type) -> Subquery:
    """An annotation: the user name stored with each row's current version (one indexed subquery)."""
    records = ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        object_pk=Cast(OuterRef("pk"), CharField()),
        version=OuterRef("version"),
    )
    return Subquery(records.values("user_name")[:1])


class VersionedForm(forms.ModelForm):
    """A model form that carries the version the editor opened and checks it under the row's lock.

    The lock is held until the admin's transaction ends, so nobody can slip in
    before the save; a stale form is refused with the list of what changed
    meanwhile, and the editor's input stays in the re-rendered page.
    """

    # The version the editor saw when the form opened; compared under the row lock on save.
    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    missing_version_message = "This form is missing the version it was opened at; reload the page."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and not self.is_bound:
            self.initial["seen_version"] = self.instance.version

    def check_seen_version(self, cleaned: dict[str, Any]) -> None:
        seen = cleaned.get("seen_version")
        if seen is None:
            raise ValidationError(self.missing_version_message)
        writes.check_version(writes.lock(type(self.instance), self.instance.pk), seen)


class AuditedForm(VersionedForm):
    """A versioned form that saves through the audited write, with a reason."""

    reason = reason_field()

    @property
    def changed_model_fields(self) -> list[str]:
        model_fields = {field.name for field in self._meta.model._meta.fields}
        return [name for name in self.changed_data if name in model_fields]

    @property
    def model_changes(self) -> dict[str, Any]:
        """Model fields the user changed, with their new (cleaned) values."""
        return {name: self.cleaned_data[name] for name in self.changed_model_fields}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk is None:
            return cleaned
        self.check_seen_version(cleaned)
        if not self.changed_model_fields:
            raise ValidationError("Nothing to save: no field differs from the current version.")
        return cleaned


class RevertForm(forms.Form):
    reason = reason_field()
    seen_version = forms.IntegerField(widget=forms.HiddenInput)


def field_label(model: type, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def version_rows(admin_site_name: str, instance: Any, *, can_revert: bool) -> list[dict[str, Any]]:
    """Every version of ``instance``, newest first, with display-ready changes and links."""
    versions = versions_of(instance)
    opts = instance._meta
    base = f"{admin_site_name}:{opts.app_label}_{opts.model_name}"
    rows = []
    for version in reversed(versions):
        is_latest = version.number == instance.version
        rows.append(
            {
                "number": version.number,
                "change_type": version.change_type,
                "changed_by": version.changed_by,
                "reason": version.reason,
                "at": version.at,
                "is_latest": is_latest,
                "change_set_id": version.change_set_id,
                "changes": [
                    {
                        "field": change.field,
                        "label": field_label(type(instance), change.field),
                        "old": change.old,
                        "new": change.new,
                    }
                    for change in version.changes
                ],
                "as_of_url": reverse(f"{base}_as_of", args=[instance.pk, version.number]),
                "revert_url": (
                    reverse(f"{base}_revert", args=[instance.pk, version.number])
                    if can_revert and not is_latest
                    else None
                ),
            }
        )
    return rows


class AuditedAdmin(admin.ModelAdmin):
    """No deletes; every save through the audited write; history, compare, as-of and revert pages."""

    form = AuditedForm
    history_template = "admin/audited_object_history.html"
    change_form_template = "admin/audited_change_form.html"
    reason_fieldset = ("Reason for change", {"fields": ("reason", "seen_version")})

    # --- the writes: each object type's services, with the signatures of models_registry.audit.writes ---
    create_service: Any = staticmethod(writes.create)  # (obj, *, user, reason)
    update_service: Any = staticmethod(writes.update)  # (obj, *, user, reason, changes, expected_version)
    revert_service: Any = staticmethod(writes.revert)  # (obj, *, to_version, user, reason, expected_version)

    def create_object(self, request: HttpRequest, obj: Any, reason: str) -> Any:
        return self.create_service(obj, user=request.user, reason=reason)

    def update_object(self, request: HttpRequest, obj: Any, form: AuditedForm) -> Any:
        return self.update_service(
            obj,
            user=request.user,
            reason=form.cleaned_data["reason"],
            changes=form.model_changes,
            expected_version=form.cleaned_data["seen_version"],
        )

    def revert_object(
        self, request: HttpRequest, obj: Any, *, to_version: int, reason: str, expected_version: int
    ) -> Any:
        return self.revert_service(
            obj, to_version=to_version, user=request.user, reason=reason, expected_version=expected_version
        )

    def can_revert(self, request: HttpRequest, obj: Any) -> bool:
        return self.has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            self.update_object(request, obj, form)
        else:
            self.create_object(request, obj, form.cleaned_data["reason"])

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deprecate or reset instead: history and ids stay resolvable

    def can_save(self, request: HttpRequest, obj: Any) -> bool:
        return (
            self.has_change_permission(request, obj) if obj is not None else self.has_add_permission(request)
        )

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except writes.EditConflict as conflict:
            # Only reachable if a write bypassed the form's row lock; the transaction rolled back.
            for line in conflict.messages:
                messages.error(request, line)
            return HttpResponseRedirect(request.path)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            latest = records_of(obj).order_by("-version").first()
            if latest is not None:
                context["version_line"] = {
                    "number": obj.version,
                    "changed_by": latest.changed_by,
                    "at": latest.at,
                    "reason": latest.reason,
                }
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- history, as-of, compare, revert ---
    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/history/compare/",
                view(self.compare_view),
                name=f"{info[0]}_{info[1]}_compare",
            ),
            path(
                "<path:object_id>/history/<int:number>/",
                view(self.as_of_view),
                name=f"{info[0]}_{info[1]}_as_of",
            ),
            path(
                "<path:object_id>/history/<int:number>/revert/",
                view(self.revert_view),
                name=f"{info[0]}_{info[1]}_revert",
            ),
            *super().get_urls(),
        ]

    def _audited_object(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with key {object_id!r}")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _url(self, name: str, *args: Any) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args
        )

    def _page(
        self, request: HttpRequest, template: str, obj: Any, title: str, **context: Any
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "module_name": capfirst(self.opts.verbose_name_plural),
            "object": obj,
            "opts": self.opts,
            "history_url": self._url("history", obj.pk),
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        obj = self._audited_object(request, object_id)
        return self._page(
            request,
            self.history_template,
            obj,
            f"History of {obj}",
            versions=version_rows(self.admin_site.name, obj, can_revert=self.can_revert(request, obj)),
            compare_url=self._url("compare", obj.pk),
            **(extra_context or {}),
        )

    def as_of_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        obj = self._audited_object(request, object_id)
        try:
            values = as_of(obj, number)
        except LookupError:
            raise Http404(f"{obj} has no version {number}") from None
        return self._page(
            request,
            "admin/audited/as_of.html",
            obj,
            f"{obj} as of version {number}",
            number=number,
            values=values,
        )

    def compare_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._audited_object(request, object_id)
        try:
            first, second = sorted((int(request.GET.get("a", "")), int(request.GET.get("b", ""))))
            changes = compare(obj, first, second)
        except (ValueError, LookupError):
            messages.error(request, "Choose two existing versions to compare.")
            return HttpResponseRedirect(self._url("history", obj.pk))
        return self._page(
            request,
            "admin/audited/compare.html",
            obj,
            f"{obj}: version {first} compared with version {second}",
            first=first,
            second=second,
            changes=[
                {"label": field_label(type(obj), change.field), "old": change.old, "new": change.new}
                for change in changes
            ],
        )

    def revert_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        obj = self._audited_object(request, object_id)
        if not self.can_revert(request, obj):
            raise PermissionDenied
        current = obj.version
        if not 1 <= number < current:
            raise Http404(f"{obj} has no earlier version {number}")
        try:
            pending = writes.revert_changes(obj, number)
        except LookupError:
            raise Http404(f"{obj} has no version {number}") from None
        fields = {field.attname: field for field in writes.restorable_fields(type(obj))}
        changes = [
            {
                "label": str(fields[name].verbose_name),
                "current": display_value(fields[name], old),
                "target": display_value(fields[name], new),
            }
            for name, (old, new) in pending.items()
        ]
        form = RevertForm(request.POST or None, initial={"seen_version": current})
        if request.method == "POST" and form.is_valid():
            try:
                self.revert_object(
                    request,
                    obj,
                    to_version=number,
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["seen_version"],
                )
            except ValidationError as error:  # a conflict, nothing to revert, invalid values
                form.add_error(None, error_lines(error))
            except (writes.WriteRefused, LookupError) as error:  # e.g. a rule of the rollout
                form.add_error(None, str(error))
            else:
                self.log_change(request, obj, f"Reverted to version {number}")
                messages.success(request, f"{obj} reverted to version {number} as version {current + 1}.")
                return HttpResponseRedirect(self._url("history", obj.pk))
        return self._page(
            request,
            "admin/audited/revert_confirmation.html",
            obj,
            f"Revert {obj} to version {number}?",
            number=number,
            current=current,
            changes=changes,
            form=form,
        )
