"""The catalog version: the database is the truth, Redis makes the news fast."""

from decimal import Decimal

import pytest
from django.test import override_settings

from models_registry.catalog.services import update_model
from models_registry.models import AIModel
from models_registry.read import catalog_version

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.mark.django_db
def test_a_commit_while_redis_is_down_succeeds_and_moves_the_database_version(
    seeded, editor, django_capture_on_commit_callbacks, caplog
):
    generation = catalog_version.local_generation
    before = catalog_version.database_version()
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0", CACHES=UNREACHABLE_REDIS):
        with django_capture_on_commit_callbacks(execute=True):
            update_model(
                AIModel.objects.get(model_id="openai:gpt-5"),
                user=editor,
                reason="price drop",
                changes={"input_price": Decimal("2")},
            )
        # The write stands, this process already sees it, and the database row announces it.
        assert AIModel.objects.get(model_id="openai:gpt-5").input_price == Decimal("2")
        assert catalog_version.local_generation != generation
        assert catalog_version.database_version() == before + 1
        # A reader that cannot reach Redis polls the database instead of failing.
        assert catalog_version.current_version() == ("database", before + 1)


@pytest.mark.django_db
def test_with_redis_the_database_row_is_still_checked(seeded, settings):
    settings.REDIS_URL = "redis://local-stand-in"  # the test's local-memory cache plays Redis
    settings.REGISTRY_DB_CHECK_SECONDS = 0
    first = catalog_version.current_version()
    catalog_version.bump_database_version()  # a write whose Redis announcement was lost
    second = catalog_version.current_version()
    assert first[:2] == second[:2] and first != second  # Redis says nothing; the database check does
