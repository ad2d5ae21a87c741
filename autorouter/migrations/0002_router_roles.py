"""Router permissions for the registry roles.

Registry editors: view and change the router config, view, add and change
model profiles (a new catalog model needs a profile before the router can pick
it), use the "Try the router" page, view the decision log. Registry viewers:
view only.
"""

from django.db import migrations

from models_registry.roles import EDITORS, VIEWERS, grant

APP = "autorouter"

VIEWER_PERMISSIONS = [
    (APP, "view_routerconfig"),
    (APP, "view_modelprofile"),
    (APP, "view_decisionlog"),
]
EDITOR_PERMISSIONS = [
    *VIEWER_PERMISSIONS,
    (APP, "change_routerconfig"),
    (APP, "try_router"),
    (APP, "add_modelprofile"),
    (APP, "change_modelprofile"),
]


def grant_router_permissions(apps, schema_editor):
    grant(apps, VIEWERS, VIEWER_PERMISSIONS)
    grant(apps, EDITORS, EDITOR_PERMISSIONS)


def revoke_router_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label=APP)
    for group in Group.objects.filter(name__in=[EDITORS, VIEWERS]):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("autorouter", "0001_initial"),
        ("models_registry", "0002_registry_roles"),
    ]

    operations = [migrations.RunPython(grant_router_permissions, revoke_router_permissions)]
