"""Registry roles as Django groups, created by data migrations.

Superusers can do everything; everyone else gets rights through one of these
groups. Other apps' migrations call :func:`grant` to add their permissions.
"""

from __future__ import annotations

from collections.abc import Iterable

EDITORS = "Registry editors"
VIEWERS = "Registry viewers"


def grant(apps, group_name: str, permissions: Iterable[tuple[str, str]]) -> None:
    """Give ``group_name`` the ``(app_label, codename)`` permissions, creating what is missing.

    Permissions are normally created after ``migrate`` finishes; creating them
    here lets a fresh database get its groups in the same run.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_label in {app_label for app_label, _ in permissions}:
        app_config = global_apps.get_app_config(app_label)
        create_permissions(app_config, verbosity=0, apps=apps)

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=group_name)
    for app_label, codename in permissions:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
