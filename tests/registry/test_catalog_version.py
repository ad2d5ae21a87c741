"""The shared catalog version when Redis misbehaves."""

from decimal import Decimal

import pytest
from django.core.cache import cache
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
def test_a_commit_while_redis_is_down_succeeds_and_is_announced_later(
    seeded, editor, django_capture_on_commit_callbacks
):
    generation = catalog_version.local_generation
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0", CACHES=UNREACHABLE_REDIS):
        with django_capture_on_commit_callbacks(execute=True):
            update_model(
                AIModel.objects.get(model_id="openai:gpt-5"),
                user=editor,
                reason="price drop",
                changes={"input_price": Decimal("2")},
            )
        # The write stands, this process already sees it, and the bump is owed, not lost.
        assert AIModel.objects.get(model_id="openai:gpt-5").input_price == Decimal("2")
        assert catalog_version.local_generation != generation
        assert catalog_version._bump_owed
    # The version store answers again (here the test's local cache stands in for Redis):
    # the next poll pays the owed bump.
    with override_settings(REDIS_URL="redis://back-again"):
        before = int(cache.get(catalog_version.CACHE_KEY) or 0)
        assert catalog_version.current_version() == before + 1
        assert not catalog_version._bump_owed
