from django.apps import AppConfig


class AutorouterConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "autorouter"
    verbose_name = "Auto-router"
