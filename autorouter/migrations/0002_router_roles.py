"""Router permissions for the registry roles (see autorouter/roles.py)."""

from django.db import migrations

from models_registry.roles import EDITORS, VIEWERS, grant

# Frozen as they were when this migration was written: later permissions (drafts) belong to models
# this migration's state does not have yet; the post_migrate sync grants those (autorouter/roles.py).
ROUTER_VIEWER_PERMISSIONS = [
    ("autorouter", "view_routerconfig"),
    ("autorouter", "view_modelprofile"),
    ("autorouter", "view_decisionlog"),
]
ROUTER_EDITOR_PERMISSIONS = [
    *ROUTER_VIEWER_PERMISSIONS,
    ("autorouter", "change_routerconfig"),
    ("autorouter", "try_router"),
    ("autorouter", "add_modelprofile"),
    ("autorouter", "change_modelprofile"),
]


def grant_router_permissions(apps, schema_editor):
    grant(apps, VIEWERS, ROUTER_VIEWER_PERMISSIONS)
    grant(apps, EDITORS, ROUTER_EDITOR_PERMISSIONS)


def revoke_router_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="autorouter")
    for group in Group.objects.filter(name__in=[EDITORS, VIEWERS]):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("autorouter", "0001_initial"),
        ("models_registry", "0002_registry_roles"),
    ]

    operations = [migrations.RunPython(grant_router_permissions, revoke_router_permissions)]
