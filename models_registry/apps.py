from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ModelsRegistryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from models_registry import roles
        from models_registry.rollout import checks  # noqa: F401  (registers the settings' checks)

        roles.declare(roles.VIEWERS, roles.REGISTRY_VIEWER_PERMISSIONS)
        roles.declare(roles.EDITORS, roles.REGISTRY_EDITOR_PERMISSIONS)
        roles.declare(roles.VIEWERS, roles.CHANGE_LOG_PERMISSIONS)
        roles.declare(roles.EDITORS, roles.CHANGE_LOG_PERMISSIONS)
        roles.declare(roles.VIEWERS, roles.SYNC_VIEWER_PERMISSIONS)
        roles.declare(roles.EDITORS, roles.SYNC_EDITOR_PERMISSIONS)
        post_migrate.connect(roles.sync_declared_roles, dispatch_uid="models_registry.sync_roles")
