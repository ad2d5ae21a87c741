from django.db import migrations

from models_registry.roles import (
    EDITORS,
    REGISTRY_EDITOR_PERMISSIONS,
    REGISTRY_VIEWER_PERMISSIONS,
    VIEWERS,
    grant,
)


def create_roles(apps, schema_editor):
    grant(apps, VIEWERS, REGISTRY_VIEWER_PERMISSIONS)
    grant(apps, EDITORS, REGISTRY_EDITOR_PERMISSIONS)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[EDITORS, VIEWERS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("models_registry", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
