"""Pytest fixtures for the platform fakes (import them in a conftest)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .clock import VirtualClock
from .server import FakeServer


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def start_fake() -> Iterator[Callable[..., Any]]:
    """``start_fake(WeComRobotFake, clock=vclock, keys={...})`` → a running fake, stopped
    after the test."""
    started: list[FakeServer] = []

    def start(cls: type[FakeServer], **kw: Any) -> Any:
        fake = cls(**kw).start()
        started.append(fake)
        return fake

    yield start
    for f in started:
        f.stop()
