"""Rollout flags in the admin, with their history."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from ..models import RolloutFlag


@admin.register(RolloutFlag)
class RolloutFlagAdmin(SimpleHistoryAdmin):
    list_display = ("name", "everyone", "percent", "modified")
