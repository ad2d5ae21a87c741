"""Registry roles as Django groups.

Superusers can do everything; everyone else gets rights through one of these
groups. A data migration creates them; in addition, every ``migrate`` (and a
test database flush, which emits the same signal) re-applies the declared
permissions, so a deleted group or permission comes back. Apps declare their
permissions with :func:`declare` in ``AppConfig.ready()``.
"""

from __future__ import annotations

from collections.abc import Iterable

EDITORS = "Registry editors"
VIEWERS = "Registry viewers"

_APP = "models_registry"
REGISTRY_VIEWER_PERMISSIONS = [(_APP, "view_aimodel"), (_APP, "view_provider")]
REGISTRY_EDITOR_PERMISSIONS = [
    *REGISTRY_VIEWER_PERMISSIONS,
    (_APP, "add_aimodel"),
    (_APP, "change_aimodel"),
    (_APP, "import_aimodel"),
    (_APP, "export_aimodel"),
    (_APP, "add_provider"),
    (_APP, "change_provider"),
]

# Added after the roles' data migration; applied by the post_migrate sync.
CHANGE_LOG_PERMISSIONS = [(_APP, "view_changerecord")]
SYNC_VIEWER_PERMISSIONS = [
    (_APP, "view_syncrun"),
    (_APP, "view_proposedchange"),
    (_APP, "view_sourcemapping"),
]
SYNC_EDITOR_PERMISSIONS = [
    *SYNC_VIEWER_PERMISSIONS,
    (_APP, "review_syncrun"),  # accept, reject and apply proposed changes
    (_APP, "add_sourcemapping"),
    (_APP, "change_sourcemapping"),
]
# The usage dashboard (the usage rollups' list page): editors and viewers alike.
USAGE_PERMISSIONS = [(_APP, "view_usagerollup")]

# Usage is declared here rather than in AppConfig.ready(): both roles hold it from the start.
_declared: dict[str, set[tuple[str, str]]] = {
    EDITORS: set(USAGE_PERMISSIONS),
    VIEWERS: set(USAGE_PERMISSIONS),
}


def declare(group_name: str, permissions: Iterable[tuple[str, str]]) -> None:
    """Declare that ``group_name`` holds these ``(app_label, codename)`` permissions."""
    _declared.setdefault(group_name, set()).update(permissions)


def grant(apps, group_name: str, permissions: Iterable[tuple[str, str]]) -> None:
    """Give ``group_name`` the ``(app_label, codename)`` permissions, creating what is missing.

    Permissions are normally created after ``migrate`` finishes; creating them
    here lets a fresh database get its groups in the same run.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    permissions = list(permissions)
    for app_label in {app_label for app_label, _ in permissions}:
        create_permissions(global_apps.get_app_config(app_label), verbosity=0, apps=apps)

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=group_name)
    for app_label, codename in permissions:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def sync_declared_roles(**kwargs) -> None:
    """``post_migrate`` receiver: make sure every declared group has its permissions."""
    from django.apps import apps as global_apps

    for group_name, permissions in _declared.items():
        grant(global_apps, group_name, sorted(permissions))
