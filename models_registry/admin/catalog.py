"""Minimal admin registration: browse the catalog and its history.

The full admin (reasons on save, revert, import/export) builds on this.
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from ..models import AIModel, Provider


@admin.register(Provider)
class ProviderAdmin(SimpleHistoryAdmin):
    list_display = ("slug", "name")
    search_fields = ("slug", "name")


@admin.register(AIModel)
class AIModelAdmin(SimpleHistoryAdmin):
    list_display = ("model_id", "name", "provider", "status", "input_price", "output_price", "context_window")
    list_filter = ("provider", "status")
    search_fields = ("model_id", "name", "provider__slug", "description")
    list_select_related = ("provider",)
    readonly_fields = ("created_at", "updated_at", "created_by", "updated_by")
