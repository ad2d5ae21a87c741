"""Database routers."""


class SwappedWaffleFlagRouter:
    """Keep waffle's own ``Flag`` table out of the database.

    ``WAFFLE_FLAG_MODEL`` swaps it for ``models_registry.RolloutFlag``, but
    waffle's migrations create ``waffle_flag`` and its many-to-many tables
    anyway. Those tables would reference ``auth_user``/``auth_group`` without
    any installed model owning them, which breaks PostgreSQL's TRUNCATE when a
    test database is flushed, and confuses anyone reading the schema.
    """

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints) -> bool | None:
        if app_label == "waffle" and model_name == "flag":
            return False
        return None
