"""System checks of the usage buffer's and the rollout traffic gate's settings: a bad value stops
``manage.py`` and the server at start-up, in words, instead of failing the rollout page or every
record later."""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register(checks.Tags.compatibility)
def check_usage_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from models_registry.rollout.traffic import thresholds
    from models_registry.usage.services import buffer_mode

    errors: list[checks.CheckMessage] = []
    for check, hint, error_id in (
        (buffer_mode, "Set USAGE_BUFFER to '' (direct) or 'redis'.", "models_registry.E101"),
        (
            thresholds,
            "Set ROLLOUT_MIN_TRAFFIC_REQUESTS, ROLLOUT_MAX_ERROR_RATE_DELTA and "
            "ROLLOUT_MAX_COST_PER_TOKEN_RATIO to numbers in range.",
            "models_registry.E102",
        ),
    ):
        try:
            check()
        except (ValueError, TypeError, ArithmeticError) as exc:
            errors.append(checks.Error(str(exc) or type(exc).__name__, hint=hint, id=error_id))
    return errors
