from __future__ import annotations

from pathlib import Path

import pytest

from sopctl.playbook.loader import load_playbook

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def pb():
    loaded = load_playbook(str(HERE / "events_playbook.yaml"))
    assert loaded.ok, loaded.findings
    return loaded.playbook
