"""The change log: every version of every audited object, newest first (NetBox's change log is the model).

Read-only for everyone who may view it (viewers included). Filters by object
type, user, change type, date range and change set; search in reasons,
object ids and user names. The page runs the same number of queries
whatever the size of the log.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, capfirst

from models_registry.audit.models import Audited, ChangeRecord, ChangeSet, ChangeType

DIFF_LINES_SHOWN = 8


class ObjectTypeFilter(admin.SimpleListFilter):
    title = "object type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        audited = [model for model in model_admin.admin_site._registry if issubclass(model, Audited)]
        types = ContentType.objects.get_for_models(*audited)
        return sorted(
            ((str(ct.pk), capfirst(str(model._meta.verbose_name))) for model, ct in types.items()),
            key=lambda choice: choice[1],
        )

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        return queryset.filter(content_type_id=self.value()) if self.value().isdigit() else queryset.none()


class UserFilter(admin.SimpleListFilter):
    title = "user"
    parameter_name = "user"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = ChangeSet.objects.order_by("user_name").values_list("user_name", flat=True).distinct()
        return [(name or "-", name or "system") for name in names[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() is None:
            return queryset
        return queryset.filter(user_name="" if self.value() == "-" else self.value())


class UTCDateFilter(admin.DateFieldListFilter):
    """Django's date presets, plus the page's from/to form: a bare date means that day's 00:00 UTC."""

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        for key, values in self.used_parameters.items():
            listed = values if isinstance(values, list) else [values]
            aware = [f"{value} 00:00:00+00:00" if len(str(value)) == 10 else value for value in listed]
            self.used_parameters[key] = aware if isinstance(values, list) else aware[0]
        return super().queryset(request, queryset)


class ChangeSetFilter(admin.SimpleListFilter):
    """Versions written together: one import, one bulk action, one command."""

    title = "change set"
    parameter_name = "change_set"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        recent = list(ChangeSet.objects.order_by("-created_at")[:10])
        selected = self.value()
        if selected and all(str(change_set.pk) != selected for change_set in recent):
            recent += list(ChangeSet.objects.filter(pk=selected)) if _is_uuid(selected) else []
        return [(str(cs.pk), f"{cs.created_at:%Y-%m-%d %H:%M} {cs}") for cs in recent]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        if not _is_uuid(self.value()):
            return queryset.none()
        return queryset.filter(change_set_id=self.value())


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@admin.register(ChangeRecord)
class ChangeLogAdmin(admin.ModelAdmin):
    change_list_template = "admin/models_registry/changerecord/change_list.html"
    list_display = (
        "when",
        "object_link",
        "change_type",
        "who",
        "reason",
        "field_diff",
        "change_set_link",
    )
    list_display_links = None
    list_filter = (
        ObjectTypeFilter,
        UserFilter,
        "change_type",
        ("at", UTCDateFilter),
        ChangeSetFilter,
    )
    search_fields = ("reason", "object_repr", "object_pk", "user_name")
    list_select_related = ("content_type", "change_set")
    list_per_page = 50
    show_full_result_count = False  # one COUNT for the filtered page, not a second for the whole log

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        set_size = (
            ChangeRecord.objects.filter(change_set=OuterRef("change_set"))
            .order_by()
            .values("change_set")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return super().get_queryset(request).annotate(change_set_size=Subquery(set_size))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit trail is never rewritten

    @admin.display(description="time (UTC)", ordering="at")
    def when(self, record: ChangeRecord) -> str:
        return f"{record.at:%Y-%m-%d %H:%M:%S} UTC"

    @admin.display(description="object · version", ordering="object_repr")
    def object_link(self, record: ChangeRecord) -> str:
        ct = record.content_type
        try:
            url = reverse(f"admin:{ct.app_label}_{ct.model}_history", args=[record.object_pk])
        except NoReverseMatch:
            return format_html("{} v{}", record.object_repr, record.version)
        return format_html(
            '<span class="quiet object-type">{}</span><br><a href="{}#version-{}">{}</a> v{}',
            ct.name,
            url,
            record.version,
            record.object_repr,
            record.version,
        )

    @admin.display(description="user", ordering="user_name")
    def who(self, record: ChangeRecord) -> str:
        return record.changed_by

    @admin.display(description="changes")
    def field_diff(self, record: ChangeRecord) -> str:
        if record.change_type == ChangeType.CREATED:  # every field: the object's history has them
            return format_html('<span class="quiet">created with {} field(s) set</span>', len(record.diff))
        lines = record.diff[:DIFF_LINES_SHOWN]
        rows = format_html_join(
            "", "<li><b>{}</b>: {} → {}</li>", ((d["field"], d["old"], d["new"]) for d in lines)
        )
        more = len(record.diff) - len(lines)
        tail = format_html('<li class="quiet">… {} more field(s)</li>', more) if more > 0 else ""
        return format_html('<ul class="diff-lines">{}{}</ul>', rows, tail)

    @admin.display(description="change set")
    def change_set_link(self, record: ChangeRecord) -> str:
        url = reverse("admin:models_registry_changerecord_changelist") + f"?change_set={record.change_set_id}"
        change_set = record.change_set
        label = change_set.summary or change_set.reason
        return format_html(
            '<a href="{}" class="change-set" title="{}">{} by {} — {} version(s)</a>',
            url,
            label,
            Truncator(label).chars(40),
            change_set.user_name or "system",
            record.change_set_size,
        )
