"""Shared fixtures. Integration tests run against the real local stack (`pobi stack up`), which this file
starts when it is not running and stops afterwards only if it started it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from foundation.connect import redis_client
from foundation.settings import Settings, load_settings
from pobi.stack.manager import Stack


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A second stack in the secure profile, on its own ports; yields its administrator's settings. The
    ACLs each test needs are applied by the test (``pobi access apply`` in its namespace)."""
    from tests.secure_helpers import secure_settings

    admin = secure_settings(tmp_path_factory.mktemp("secure"))
    stack = Stack(admin, secure=True)
    stack.up(report=lambda _msg: None)
    yield admin
    stack.down(report=lambda _msg: None)


@pytest.fixture(params=["plaintext", "secure"])
def profile_settings(request: pytest.FixtureRequest) -> Settings:
    """The deployment's settings on the plaintext stack, then on the secure one: the same test runs on both."""
    if request.param == "secure":
        return request.getfixturevalue("secure_stack")
    request.getfixturevalue("live_stack")
    return request.getfixturevalue("settings")


@pytest.fixture(scope="session")
def live_stack(settings: Settings) -> Iterator[Stack]:
    stack = Stack(settings)
    already = all(s.state == "running" for s in stack.status())
    if not already:
        stack.up(report=lambda _msg: None)
    yield stack
    _remove_test_namespaces(settings)
    if not already:
        stack.down(report=lambda _msg: None)


def _remove_test_namespaces(settings: Settings) -> None:
    """Topics and Redis keys of the tests' private namespaces (``t<10 hex>``), so a developer's stack does
    not fill up run after run."""
    import re

    from topics.admin import admin_client

    admin = admin_client(settings)
    ours = [t for t in admin.list_topics(timeout=10).topics if re.match(r"^t[0-9a-f]{10}\.", t)]
    if ours:
        for future in admin.delete_topics(ours).values():
            future.exception(timeout=30)
    client = redis_client(settings)
    keys = list(client.scan_iter("pobi:t??????????:*", count=10_000))
    for start in range(0, len(keys), 10_000):
        client.delete(*keys[start:start + 10_000])


@pytest.fixture
def unique() -> str:
    """A short suffix that keeps one test's topics, groups and tables apart from every other test's."""
    return uuid.uuid4().hex[:10]
