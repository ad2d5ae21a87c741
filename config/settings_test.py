"""Settings for the test suite: the normal settings with a throwaway key."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client and the browser tests speak plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# The suite's data lives in one uncommitted transaction per test, which another
# thread's connection cannot see: polls run in the reader's thread here. The
# fault-injection tests turn the production behaviour back on.
REGISTRY_BACKGROUND_REFRESH = False
