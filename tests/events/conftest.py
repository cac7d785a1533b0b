from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sopctl.playbook.loader import load_playbook

HERE = Path(__file__).parent
PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def pb():
    loaded = load_playbook(str(HERE / "events_playbook.yaml"))
    assert loaded.ok, loaded.findings
    return loaded.playbook


def pg_or_skip() -> str:
    import sqlalchemy as sa

    try:
        eng = sa.create_engine(PG.replace("postgresql://", "postgresql+psycopg://"))
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    return PG


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> str:
    """A ledger URL on each backend; on the shared PostgreSQL database every test uses
    its own playbook name (:func:`unique`), so runs never see each other's rows."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return pg_or_skip()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def serving(engine: Any, cfg: Any, **kw: Any) -> Iterator[tuple[Any, str]]:
    """The HTTP receiver on 127.0.0.1 (a free port) in a background thread."""
    from sopctl.events.http import EventServer
    from sopctl.events.server import Receiver

    writer = None
    if kw.pop("process", False):  # the group commit in a child process, as `sopctl serve`
        from sopctl.events.committer import ProcessWriter

        writer = ProcessWriter(engine, metrics=kw.get("metrics"))
    receiver = Receiver(engine, cfg, names=kw.pop("names", None),
                        metrics=kw.get("metrics"), writer=writer)
    server = EventServer(receiver, host="127.0.0.1", port=0, **kw).start()
    try:
        yield server, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
        receiver.close()
