"""Shared fixtures. Integration tests run against the real local stack (`pobi stack up`), which this file
starts when it is not running and stops afterwards only if it started it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pobi.settings import Settings, load_settings
from pobi.stack.manager import Stack


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def live_stack(settings: Settings) -> Iterator[Stack]:
    stack = Stack(settings)
    already = all(s.state == "running" for s in stack.status())
    if not already:
        stack.up(report=lambda _msg: None)
    yield stack
    if not already:
        stack.down(report=lambda _msg: None)


@pytest.fixture
def unique() -> str:
    """A short suffix that keeps one test's topics, groups and tables apart from every other test's."""
    return uuid.uuid4().hex[:10]
