"""What every audited admin shares: no deletes, and a history page built from ``versions_of``.

Used by the catalog, the rollout flags and the router's admin, so every
history page shows the same thing: who, when, why, the change type and each
changed field as old → new.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import capfirst

from models_registry.audit.history import versions_of
from models_registry.catalog.services import describe_value


def field_label(model: type, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def version_rows(instance: Any, *, revert_url_name: str | None = None) -> list[dict[str, Any]]:
    """Every version of ``instance``, newest first, with display-ready field changes.

    With ``revert_url_name``, each older version gets the URL of its revert page.
    """
    versions = versions_of(instance)
    model = type(instance)
    rows = []
    for version in reversed(versions):
        is_latest = version.number == len(versions)
        rows.append(
            {
                "number": version.number,
                "change_type": version.change_type,
                "changed_by": version.changed_by,
                "reason": version.reason,
                "at": version.at,
                "is_latest": is_latest,
                "changes": [
                    {
                        "field": change.field,
                        "label": field_label(model, change.field),
                        "old": describe_value(change.old),
                        "new": describe_value(change.new),
                    }
                    for change in version.changes
                ],
                "revert_url": (
                    reverse(revert_url_name, args=[instance.pk, version.number])
                    if revert_url_name and not is_latest
                    else None
                ),
            }
        )
    return rows


class AuditedAdmin(admin.ModelAdmin):
    """No deletes; a history page with who, when, why and field-level diffs."""

    history_template = "admin/audited_object_history.html"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deprecate or reset instead: history and ids stay resolvable

    def revert_url_name(self, request: HttpRequest, obj: Any) -> str | None:
        return None

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"History of {obj}",
            "subtitle": None,
            "module_name": capfirst(self.opts.verbose_name_plural),
            "object": obj,
            "opts": self.opts,
            "versions": version_rows(obj, revert_url_name=self.revert_url_name(request, obj)),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.history_template, context)
