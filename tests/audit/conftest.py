"""Fixtures for the audit tests: two editors in two browsers, and admin form data as a browser posts it."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.audit.admin_forms import form_data  # noqa: F401  (used by the tests of this folder)
from tests.autorouter.conftest import router_db  # noqa: F401  (the seeded catalog, config and profiles)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_superuser("alice", "alice@example.com", "pw")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_superuser("bob", "bob@example.com", "pw")


@pytest.fixture
def as_alice(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def as_bob(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client
