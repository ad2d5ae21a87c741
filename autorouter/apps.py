from django.apps import AppConfig


class AutorouterConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autorouter"
    verbose_name = "Auto-router"

    def ready(self) -> None:
        from models_registry import roles
        from models_registry.rollout.flags import register_flag

        from .flags import ROUTER_CONFIG_FLAG
        from .roles import ROUTER_EDITOR_PERMISSIONS, ROUTER_VIEWER_PERMISSIONS

        roles.declare(roles.VIEWERS, ROUTER_VIEWER_PERMISSIONS)
        roles.declare(roles.EDITORS, ROUTER_EDITOR_PERMISSIONS)
        register_flag(ROUTER_CONFIG_FLAG)
