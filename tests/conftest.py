"""Set-up for the whole test session."""

from __future__ import annotations

import compileall
from pathlib import Path

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):  # a worker: the controller has done it
        return
    # the suite starts sopctl in a few hundred subprocesses (runners, serve and its commit
    # process, the CLI); where PYTHONDONTWRITEBYTECODE is set, nothing caches the package's
    # bytecode and each would compile it again (~0.15 s a start here). compileall writes
    # the cache whatever that variable says; imports only read it.
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "sopctl", quiet=1)
