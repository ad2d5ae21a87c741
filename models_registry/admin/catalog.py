"""The catalog admin: AI models and providers.

Thin on purpose: every write calls :mod:`models_registry.catalog.services` with the
acting user and a reason (add/change, revert, duplicate, deprecate,
reactivate, JSON import). Nobody deletes from here; models are deprecated.

Roles (see :mod:`models_registry.roles`): viewers get read-only pages, no
actions, no import/export and no revert; editors get everything but delete.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from import_export.admin import ImportExportMixin

from models_registry.admin.audited import AuditedAdmin, latest_change_by
from models_registry.admin.forms import (
    AIModelForm,
    CatalogConfirmImportForm,
    CatalogImportForm,
    DuplicateForm,
    ProviderForm,
    ReactivateForm,
    ReasonForm,
)
from models_registry.admin.resources import EXPIRED_MESSAGE, AIModelResource, CatalogJSON
from models_registry.admin.uploads import DatabaseUploadStorage
from models_registry.catalog import services
from models_registry.domain.fields import (
    FIELDSETS,
    SCHEDULED,
    describe_prices,
    display_datetime_utc,
    timeline_states,
)
from models_registry.domain.imports import ImportFileError
from models_registry.domain.types import format_money
from models_registry.models import CAPABILITY_FIELDS, AIModel, Provider

# Short labels for the capability tags of the model list.
CAPABILITY_TAGS = {
    "vision": "vision",
    "function-calling": "tools",
    "thinking": "think",
    "extended-thinking": "ext-think",
    "image-generation": "img-gen",
}


@admin.register(Provider)
class ProviderAdmin(AuditedAdmin):
    form = ProviderForm
    list_display = ("slug", "name", "first_party", "updated_at")
    list_filter = ("first_party",)
    search_fields = ("slug", "name")

    def get_fields(self, request: HttpRequest, obj: Provider | None = None) -> list[str]:
        fields = ["slug", "name", "first_party"]
        return [*fields, "reason", "seen_version"] if self.can_save(request, obj) else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Provider | None = None) -> tuple[str, ...]:
        # Model ids and import files name providers by slug: it is fixed once created.
        return ("slug",) if obj is not None else ()

    create_service = staticmethod(services.save_new_provider)
    update_service = staticmethod(services.update_provider)


@admin.register(AIModel)
class AIModelAdmin(ImportExportMixin, AuditedAdmin):
    form = AIModelForm
    change_list_template = "admin/models_registry/aimodel/change_list.html"

    # --- model list ---
    list_display = (
        "model_id",
        "name",
        "provider",
        "status_badge",
        "input_price_per_1m",
        "output_price_per_1m",
        "context",
        "capability_tags",
        "last_change",
    )
    list_select_related = ("provider",)
    list_filter = (
        "provider",
        "status",
        *CAPABILITY_FIELDS,
        "is_pro",
        "is_internal_only",
        "is_experimental",
        "gateway",
    )
    search_fields = ("model_id", "name", "provider__slug", "provider__name", "description")
    list_per_page = 100
    actions = ("duplicate_selected", "deprecate_selected", "reactivate_selected", "export_selected")

    # --- import / export (django-import-export) ---
    resource_classes = [AIModelResource]
    formats = [CatalogJSON]
    import_form_class = CatalogImportForm
    confirm_form_class = CatalogConfirmImportForm
    import_template_name = "admin/models_registry/aimodel/import.html"
    # One format and one resource: "Export" downloads the (filtered) list at once.
    skip_export_form = True

    # --- change form ---
    # The catalog's sections come from the field declaration (domain.fields).
    # The timeline is shown as a table and edited through the price fields, not as JSON.
    fieldsets = tuple(
        (
            title,
            {
                "fields": tuple(
                    name
                    for column in columns
                    for name in (
                        (
                            "price_timeline",
                            "prices_effective_from",
                            "cancel_scheduled",
                            "prices_in_force_since",
                        )
                        if column == "price_schedule"
                        else (column,)
                    )
                )
            },
        )
        for title, columns in FIELDSETS
    )
    audit_fieldset = (
        "Audit",
        {"classes": ("collapse",), "fields": ("created_at", "created_by", "updated_at", "updated_by")},
    )
    change_form_template = "admin/models_registry/aimodel/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: AIModel | None = None) -> list:
        fieldsets = list(self.fieldsets)
        if obj is None:  # a new model has no timeline yet: its prices take effect now
            fieldsets = [(title, options) for title, options in fieldsets if title != SCHEDULED]
        if obj is not None:
            fieldsets.append(self.audit_fieldset)
        if self.can_save(request, obj):
            fieldsets.append(self.reason_fieldset)
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: AIModel | None = None) -> tuple[str, ...]:
        audit = ("created_at", "created_by", "updated_at", "updated_by")
        return ("model_id", "price_timeline", *audit) if obj is not None else audit

    @admin.display(description="price timeline")
    def price_timeline(self, obj: AIModel) -> str:
        rows = timeline_states(obj.price_schedule or [], timezone.now())
        if not rows:
            return "No price change yet: the listed prices apply since the model was created."
        return format_html(
            '<table class="price-timeline"><thead><tr><th>takes effect (UTC)</th><th>state</th>'
            "<th>prices (USD per 1M tokens)</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                '<tr class="timeline-{}"><td>{}</td><td>{}</td><td>{}</td></tr>',
                (
                    (
                        state.replace(" ", "-"),
                        display_datetime_utc(entry["effective_from"]),
                        state,
                        describe_prices(entry["pricing"]),
                    )
                    for entry, state in rows
                ),
            ),
        )

    # --- list columns ---
    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: AIModel) -> str:
        return format_html(
            '<span class="status-badge status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="input $/1M", ordering="input_price")
    def input_price_per_1m(self, obj: AIModel) -> str:
        return format_money(obj.input_price)

    @admin.display(description="output $/1M", ordering="output_price")
    def output_price_per_1m(self, obj: AIModel) -> str:
        return format_money(obj.output_price)

    @admin.display(description="context", ordering="context_window")
    def context(self, obj: AIModel) -> str:
        tokens = obj.context_window
        if tokens >= 1_000_000 and tokens % 100_000 == 0:
            return f"{tokens / 1_000_000:g}M"
        if tokens >= 1_000 and tokens % 1_000 == 0:
            return f"{tokens // 1_000}K"
        return f"{tokens:,}"

    @admin.display(description="capabilities")
    def capability_tags(self, obj: AIModel) -> str:
        capabilities = [cap for cap in CAPABILITY_FIELDS.values() if cap in obj.capabilities]
        return format_html_join(
            "",
            '<span class="cap-tag" title="{}">{}</span>',
            ((cap, CAPABILITY_TAGS[cap]) for cap in capabilities),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Who made the current version, by the name stored in the change log: still
        # right after that account is deleted (the updated_by column is then empty).
        return super().get_queryset(request).annotate(last_changed_by=latest_change_by(AIModel))

    @admin.display(description="last change", ordering="updated_at")
    def last_change(self, obj: AIModel) -> str:
        who = getattr(obj, "last_changed_by", None) or "system"
        when = timezone.localtime(obj.updated_at).strftime("%Y-%m-%d %H:%M %Z")
        return format_html('{}<br><span class="quiet">by {}</span>', when, who)

    # --- saving through services ---
    create_service = staticmethod(services.save_new_model)
    update_service = staticmethod(services.update_model)

    def update_object(self, request: HttpRequest, obj: AIModel, form: Any) -> Any:
        return services.update_model(
            obj,
            user=request.user,
            reason=form.cleaned_data["reason"],
            changes=form.model_changes,
            expected_version=form.cleaned_data["seen_version"],
            prices_effective_from=form.cleaned_data.get("prices_effective_from"),
            cancel_scheduled=form.cleaned_data.get("cancel_scheduled") or (),
        )

    revert_service = staticmethod(services.revert_model)

    # --- actions ---
    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        action = request.POST.get("action") if request.method == "POST" else None
        if action and action not in self.get_actions(request):
            # Django would quietly redisplay the list; say "forbidden" instead.
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def _action_page(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        action: str,
        form: Any,
        title: str,
        intro: str,
        button: str,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "button": button,
            "opts": self.opts,
            "objects": list(queryset.select_related("provider")),
            "form": form,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/models_registry/aimodel/action_confirmation.html", context)

    @staticmethod
    def _submitted(request: HttpRequest) -> dict | None:
        # The confirmation page posts back to the list with "apply" set.
        return request.POST if "apply" in request.POST else None

    @admin.action(description="Deprecate selected models…", permissions=["change"])
    def deprecate_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = ReasonForm(self._submitted(request))
        if form.is_bound and form.is_valid():
            changed = services.deprecate_models(
                list(queryset), user=request.user, reason=form.cleaned_data["reason"]
            )
            for model in changed:
                self.log_change(request, model, "Deprecated")
            skipped = queryset.count() - len(changed)
            messages.success(
                request,
                f"Deprecated {len(changed)} model(s)" + (f"; {skipped} already were." if skipped else "."),
            )
            return None
        return self._action_page(
            request,
            queryset,
            action="deprecate_selected",
            form=form,
            title="Deprecate models",
            intro="Deprecated models disappear from the model picker and the router. Their ids keep working "
            "for old conversations, and you can reactivate them later.",
            button="Deprecate",
        )

    @admin.action(description="Reactivate selected models…", permissions=["change"])
    def reactivate_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = ReactivateForm(self._submitted(request))
        if form.is_bound and form.is_valid():
            changed = services.reactivate_models(
                list(queryset),
                user=request.user,
                reason=form.cleaned_data["reason"],
                status=form.cleaned_data["status"],
            )
            for model in changed:
                self.log_change(request, model, f"Reactivated as {model.status}")
            skipped = queryset.count() - len(changed)
            messages.success(
                request,
                f"Reactivated {len(changed)} model(s)"
                + (f"; {skipped} were not deprecated." if skipped else "."),
            )
            return None
        return self._action_page(
            request,
            queryset,
            action="reactivate_selected",
            form=form,
            title="Reactivate models",
            intro="Only deprecated models among the selection change; they become selectable again.",
            button="Reactivate",
        )

    @admin.action(description="Duplicate selected model…", permissions=["add"])
    def duplicate_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if queryset.count() != 1:
            messages.error(request, "Select exactly one model to duplicate.")
            return None
        source = queryset.get()
        form = DuplicateForm(
            self._submitted(request),
            initial={"new_model_id": f"{source.model_id}-copy", "new_name": f"{source.name} (copy)"},
        )
        if form.is_bound and form.is_valid():
            try:
                copy = services.duplicate_model(
                    source,
                    new_model_id=form.cleaned_data["new_model_id"],
                    new_name=form.cleaned_data["new_name"],
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                renamed = {"model_id": "new_model_id", "name": "new_name"}
                for line_field, field_messages in getattr(
                    error, "message_dict", {"__all__": error.messages}
                ).items():
                    target = renamed.get(line_field)
                    for message in field_messages:
                        form.add_error(target, message if target else f"{line_field}: {message}")
            else:
                self.log_addition(request, copy, f"Duplicated from {source.model_id}")
                messages.success(request, f"Created {copy} as a copy of {source}.")
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:models_registry_aimodel_change", args=[copy.pk])
                )
        return self._action_page(
            request,
            queryset,
            action="duplicate_selected",
            form=form,
            title=f"Duplicate {source}",
            intro="Copies every field except the id and the name.",
            button="Duplicate",
        )

    @admin.action(description="Export selected models to JSON", permissions=["export"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        file_format = CatalogJSON()
        response = HttpResponse(
            self.get_export_data(file_format, request, queryset), content_type=file_format.get_content_type()
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{self.get_export_filename(request, queryset, file_format)}"'
        )
        return response

    def get_export_filename(self, request: HttpRequest, queryset: QuerySet, file_format: Any) -> str:
        return f"ai-models-{timezone.now():%Y-%m-%d}.{file_format.get_extension()}"

    # --- import ---
    # Between preview and confirm the upload waits in the database under a random token:
    # any worker can confirm it, with or without Redis (see admin/uploads.py). Confirm and
    # cancel delete it, so does a preview that cannot be confirmed; the rest expire
    # (IMPORT_UPLOAD_TTL_SECONDS) and are swept by ``manage.py cleanup_import_uploads``.
    tmp_storage_class = DatabaseUploadStorage

    def get_urls(self) -> list:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("import/preview/", view(self.import_preview_view), name=f"{prefix}_import_preview"),
            path("import/cancel/", view(self.import_cancel_view), name=f"{prefix}_import_cancel"),
            *super().get_urls(),
        ]

    def _import_url(self) -> str:
        return reverse(f"{self.admin_site.name}:models_registry_aimodel_import")

    def write_to_tmp_storage(self, import_file: Any, input_format: Any) -> DatabaseUploadStorage:
        # import-export appends chunk by chunk (``data += chunk``): quadratic copying for a large file.
        storage = self.get_tmp_storage_class()(
            encoding=None if input_format.is_binary() else self.from_encoding,
            read_mode=input_format.get_read_mode(),
            **self.get_tmp_storage_class_kwargs(),
        )
        storage.save(b"".join(import_file.chunks()))
        return storage

    def get_import_data_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.get("form")
        request = kwargs.get("request")
        kwargs = super().get_import_data_kwargs(**kwargs)
        cleaned = getattr(form, "cleaned_data", None) or {}
        kwargs["reason"] = cleaned.get("reason", "")
        kwargs["expected_digest"] = cleaned.get("plan_digest", "")  # required on the confirm form
        kwargs["create_providers"] = bool(cleaned.get("create_providers"))
        # Which page of changed rows a preview shows (the preview pages are GET requests).
        page = request.GET.get("page", "") if request is not None else ""
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        kwargs["preview_page"] = min(int(page), 10**6) if page.isdecimal() else 1
        return kwargs

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["reason"] = import_form.cleaned_data.get("reason", "")
            initial["create_providers"] = import_form.cleaned_data.get("create_providers", False)
        return initial

    def add_data_read_fail_error_to_form(self, form: Any, e: Exception) -> None:
        if isinstance(e, ImportFileError):
            form.add_error("import_file", str(e))
        elif isinstance(e, UnicodeDecodeError):  # the temp folder storage decodes while reading
            form.add_error("import_file", "The file is not UTF-8 text.")
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        confirm_form, result = context.get("confirm_form"), context.get("result")
        if confirm_form is not None and result is not None:
            self._prepare_confirm(context, confirm_form, result)
        elif request.method == "POST":
            # Refused (unreadable, too many rows, invalid rows): nothing can confirm this upload.
            # (The form's error dropped the file from cleaned_data; the upload object is the same.)
            token = getattr(request.FILES.get("import_file"), "tmp_storage_name", None)
            if token:
                self.get_tmp_storage_class()(name=token).remove()
        return response

    @staticmethod
    def _prepare_confirm(context: dict[str, Any], confirm_form: Any, result: Any) -> None:
        # The confirm step re-plans against the catalog as it is then and
        # refuses if that plan differs from the one previewed here.
        confirm_form.initial["plan_digest"] = result.plan_digest
        confirm_form.initial["reason"] = result.reason
        # The other pages of the preview: the same upload and options, another page.
        query = {
            name: confirm_form.initial.get(name) or ""
            for name in (
                "import_file_name",
                "original_file_name",
                "format",
                "resource",
                "reason",
                "plan_digest",
            )
        }
        query["create_providers"] = "1" if confirm_form.initial.get("create_providers") else ""
        context["preview_query"] = urlencode(query)

    def import_preview_view(self, request: HttpRequest) -> HttpResponse:
        """Another page of a preview: the stored upload planned again, one page of its changes shown.

        Planned with the first page's digest: if the catalog moved since, the page
        says the import was refused, as the confirm would.
        """
        if not self.has_import_permission(request):
            raise PermissionDenied
        confirm_form = self.get_confirm_form_class(request)(data=request.GET)
        formats = self.get_import_formats()
        format_index = confirm_form.data.get("format", "")
        if not confirm_form.is_valid() or not format_index.isdecimal() or int(format_index) >= len(formats):
            messages.error(request, "This preview link is incomplete; upload the file again.")
            return HttpResponseRedirect(self._import_url())
        input_format = formats[int(format_index)](encoding=self.from_encoding)
        storage = self.get_tmp_storage_class()(
            name=confirm_form.cleaned_data["import_file_name"],
            encoding=self.from_encoding,
            read_mode=input_format.get_read_mode(),
            **self.get_tmp_storage_class_kwargs(),
        )
        try:
            dataset = input_format.create_dataset(storage.read())
        except ImportFileError as error:
            messages.error(request, f"Nothing was imported: {error}")
            return HttpResponseRedirect(self._import_url())
        resource = self.choose_import_resource_class(confirm_form, request)(
            **self.get_import_resource_kwargs(request, form=confirm_form)
        )
        result = resource.import_data(
            dataset,
            dry_run=True,
            raise_errors=False,
            file_name=confirm_form.cleaned_data["original_file_name"],
            user=request.user,
            **self.get_import_data_kwargs(request=request, form=confirm_form),
        )
        del dataset
        import_form = self.create_import_form(request)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Import",
            "form": import_form,
            "opts": self.model._meta,
            "media": self.media + import_form.media,
            "result": result,
            "fields_list": [
                (resource.get_display_name(), [f.column_name for f in resource.get_user_visible_fields()])
            ],
            "import_error_display": self.import_error_display,
        }
        if result.has_errors() or result.has_validation_errors():
            storage.remove()  # refused now, refused at confirm: nothing will use the upload
        else:
            context["confirm_form"] = self.get_confirm_form_class(request)(
                initial={name: confirm_form.cleaned_data.get(name) for name in confirm_form.fields}
            )
            self._prepare_confirm(context, context["confirm_form"], result)
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    def import_cancel_view(self, request: HttpRequest) -> HttpResponse:
        """The preview's "Cancel import": delete the stored upload and go back to the upload form."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_import_permission(request):
            raise PermissionDenied
        self.get_tmp_storage_class()(name=request.POST.get("import_file_name")).remove()
        messages.info(request, "Import cancelled: nothing was imported and the uploaded file was deleted.")
        return HttpResponseRedirect(self._import_url())

    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            return super().process_import(request, **kwargs)
        except (ImportFileError, OSError) as error:  # e.g. the upload expired from temporary storage
            if not isinstance(error, ImportFileError):
                error = ImportFileError(EXPIRED_MESSAGE)
            # An expired upload still in the table is of no further use.
            self.get_tmp_storage_class()(name=request.POST.get("import_file_name")).remove()
            messages.error(request, f"Nothing was imported: {error}")
            return HttpResponseRedirect(self._import_url())

    def process_result(self, result: Any, request: HttpRequest) -> HttpResponse:
        if result.has_errors() or result.has_validation_errors():
            problems = [
                message
                for error in result.base_errors
                for message in getattr(error.error, "messages", [str(error.error)])
            ] or [str(error) for error in result.row_error_list]
            messages.error(request, "Nothing was imported. " + " ".join(problems[:20]))
            return HttpResponseRedirect(self._import_url())
        return super().process_result(result, request)

    def add_success_message(self, result: Any, request: HttpRequest) -> None:
        totals = result.totals
        messages.success(
            request,
            f"Import finished: {totals['new']} new, {totals['update']} updated, {totals['skip']} unchanged. "
            f"Reason recorded: “{result.reason}”.",
        )
