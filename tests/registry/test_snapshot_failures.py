"""A snapshot whose source fails keeps serving, backs off, and never makes every reader wait."""

from __future__ import annotations

import os

import pytest
from django.db import OperationalError

from models_registry.read import catalog_version
from models_registry.read.snapshot import VersionedSnapshot


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.fail: BaseException | None = None

    def __call__(self) -> int:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return self.calls


@pytest.fixture
def source(settings, monkeypatch):
    settings.REGISTRY_REFRESH_SECONDS = 0.05
    versions = iter(range(1, 10_000))
    monkeypatch.setattr(catalog_version, "current_version", lambda area="": next(versions))  # always moving
    return Source()


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OperationalError("gone"), AttributeError("bad stored value")])
def test_after_a_local_write_a_failing_source_is_tried_once_per_back_off(source, error):
    snapshot = VersionedSnapshot(source, name="test-sync")
    assert snapshot.get() == 1
    source.fail = error
    catalog_version.mark_local_snapshots_stale()  # a write of this process: the read-your-writes path
    for _ in range(50):
        assert snapshot.get() == 1  # the last good value, for every reader
    assert source.calls == 2  # one try, then the back-off, not one try per read
    assert snapshot.degraded


def test_a_forked_child_polls_again(source, settings):
    settings.REGISTRY_BACKGROUND_REFRESH = True
    snapshot = VersionedSnapshot(source, name="test-fork")
    assert snapshot.get() == 1
    pid = os.fork()
    if pid == 0:  # the child: its inherited poll machinery must work
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and snapshot.get() < 2:
            time.sleep(0.05)
        os._exit(0 if snapshot.get() >= 2 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
