from django.db import migrations

from models_registry.roles import EDITORS, VIEWERS, grant

APP = "models_registry"


def create_roles(apps, schema_editor):
    viewer_perms = [(APP, "view_aimodel"), (APP, "view_provider")]
    editor_perms = viewer_perms + [
        (APP, "add_aimodel"),
        (APP, "change_aimodel"),
        (APP, "import_aimodel"),
        (APP, "export_aimodel"),
        (APP, "add_provider"),
        (APP, "change_provider"),
    ]
    grant(apps, VIEWERS, viewer_perms)
    grant(apps, EDITORS, editor_perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[EDITORS, VIEWERS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("models_registry", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
