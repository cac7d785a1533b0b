"""Real `sopctl serve` processes: several on one store, and a graceful stop.

Platforms retry callbacks, and behind a load balancer the retry may reach another
process: every event here is delivered to both processes at once. The file channel they
share is the receiving end; its log is compared with the ledger.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from sopctl.events.server import sign
from sopctl.run.ledger import Ledger
from tests.events.conftest import unique

SECRET = "s3cret"
PB = """\
version: 1
name: {name}
timezone: Asia/Shanghai
positioning: {{type: product, purpose: 护肤, name_pattern: "护肤群{{n:03}}"}}
roles:
  owner: {{name: 王老师, userid: wang}}
welcome:
  template: "欢迎 {{newcomers}} 加入{{group_name}}!"
  batch_window: 5s
rules:
  items:
    - id: no-ads
      text: 禁止广告和外链
      detect: {{links: true}}
auto_replies:
  - {{id: price, keywords: [多少钱], reply: 价格请看群公告, cooldown: 0s}}
timetable:
  - {{id: morning, kind: good-morning, at: "07:30", text: 早上好}}
channels:
  out: {{type: file, path: "{out}"}}
channel: out
groups:
  - {{id: g001, name: 护肤群001, opened: 2026-11-01}}
  - {{id: g002, name: 护肤群002, opened: 2026-11-01}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(pb: Path, store: str, state: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "SOPCTL_LANG": "en", "SOPCTL_EVENTS_SECRET": SECRET}
    p = subprocess.Popen([sys.executable, "-m", "sopctl", "serve", str(pb), "--port", str(port),
                          "--store", store, "--state-dir", str(state), "--access-log", "json",
                          *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return p, base
        except httpx.TransportError:
            pass
        if p.poll() is not None or time.monotonic() > end:
            _out, err = p.communicate(timeout=5) if p.poll() is not None else ("", "")
            p.kill()
            raise AssertionError(f"serve did not start: {err}")
        time.sleep(0.1)


def _stop(p: subprocess.Popen) -> str:
    p.send_signal(signal.SIGTERM)
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "Traceback" not in err, err
    return err


def _signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"X-Sopctl-Timestamp": ts, "X-Sopctl-Signature": sign(SECRET, ts, body),
            "Content-Type": "application/json"}


def _to_both(bases: list[str], event: dict) -> None:
    """The same event, posted to every process at the same moment."""
    body = json.dumps(event, ensure_ascii=False).encode()
    go = threading.Barrier(len(bases))
    codes: list[int] = []

    def post(base: str) -> None:
        go.wait()
        codes.append(httpx.post(base + "/events", content=body, headers=_signed(body),
                                timeout=10).status_code)

    ts = [threading.Thread(target=post, args=(b,)) for b in bases]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert codes == [200] * len(bases)


def _outbox(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]


def test_two_processes_one_store_react_once(tmp_path, store):
    name = unique("双进程")
    out = tmp_path / "out.jsonl"
    pb = tmp_path / "pb.yaml"
    pb.write_text(PB.format(name=name, out=out), encoding="utf-8")
    procs = [_start(pb, store, tmp_path / f"st{i}") for i in range(2)]
    bases = [b for _p, b in procs]
    members = [f"u{i}" for i in range(8)]
    try:
        for i, m in enumerate(members):  # joins, each to both; g002 gets the odd ones
            _to_both(bases, {"id": f"j-{m}", "type": "join", "group": f"g00{1 + i % 2}",
                             "member": m, "nickname": f"会员{i}"})
        for i in range(6):
            _to_both(bases, {"id": f"ad-{i}", "type": "message", "group": "g001",
                             "member": f"spam{i}", "text": "加我 www.ads.cn"})
            _to_both(bases, {"id": f"q-{i}", "type": "message", "group": "g002",
                             "member": f"q{i}", "text": "这个多少钱"})
        def welcomed() -> list[str]:
            return [m for x in _outbox(out) if x["key"].startswith("welcome/")
                    for m in x["mentions"]]

        end = time.monotonic() + 60
        while (len(welcomed()) < len(members) or len(_outbox(out)) < 2 + 12) \
                and time.monotonic() < end:
            time.sleep(0.2)
        time.sleep(1.5)  # a second welcome or a duplicate would show up by now
    finally:
        errs = [_stop(p) for p, _b in procs]
    lines = _outbox(out)
    keys = [x["key"] for x in lines]
    assert len(keys) == len(set(keys)), (keys, errs)
    assert sorted(k for k in keys if k.startswith(("warn/", "reply/"))) == sorted(
        [f"warn/g001/ad-{i}" for i in range(6)] + [f"reply/g002/q-{i}" for i in range(6)])
    # each newcomer in exactly one welcome: a batch is formed once, by one process (on a
    # slow machine the joins may span more than one batch window: then two batches)
    welcomes = [x for x in lines if x["key"].startswith("welcome/")]
    assert sorted(m for w in welcomes for m in w["mentions"]) == sorted(members)
    assert {w["group_id"] for w in welcomes} == {"g001", "g002"}
    led = Ledger(store)
    try:
        rows = [r for r in led.rows(playbook=name)]
    finally:
        led.close()
    assert sorted(r["key"] for r in rows) == sorted(keys)
    assert {r["status"] for r in rows} == {"sent"}
    assert len({r["claimed_by"] for r in rows}) == 2  # both processes did part of the work


def test_sigterm_finishes_the_request_in_flight_and_flushes(tmp_path, store):
    name = unique("停机")
    out = tmp_path / "out.jsonl"
    pb = tmp_path / "pb.yaml"
    pb.write_text(PB.format(name=name, out=out), encoding="utf-8")
    p, base = _start(pb, store, tmp_path / "st", "--body-timeout", "10")
    body = json.dumps({"id": "q-last", "type": "message", "group": "g001", "member": "u1",
                       "text": "多少钱"}, ensure_ascii=False).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in _signed(body).items())
    port = int(base.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(f"POST /events HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n"
              .encode())
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)  # while the body is still on its way
    time.sleep(0.5)
    with pytest.raises(OSError):  # no new connections are accepted
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    s.sendall(body)
    answer = b""
    while not answer.endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "Traceback" not in err, err
    # flushed before exit: the reaction was sent and recorded, not left claimed
    assert [x["key"] for x in _outbox(out)] == ["reply/g001/q-last"]
    led = Ledger(store)
    try:
        with led.engine.connect() as c:
            from sopctl.run.ledger import deliveries

            st = c.execute(sa.select(deliveries.c.status).where(
                deliveries.c.playbook == name)).scalars().all()
    finally:
        led.close()
    assert st == ["sent"]


def test_workers_accept_on_one_port_and_stop_together(tmp_path, store):
    name = unique("多进程")
    out = tmp_path / "out.jsonl"
    pb = tmp_path / "pb.yaml"
    pb.write_text(PB.format(name=name, out=out), encoding="utf-8")
    p, base = _start(pb, store, tmp_path / "st", "--workers", "2")
    try:
        ts = [threading.Thread(target=_to_both, args=([base], {
            "id": f"w-{i}", "type": "message", "group": "g002", "member": f"w{i}",
            "text": "这个多少钱"})) for i in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        end = time.monotonic() + 30
        while len(_outbox(out)) < 20 and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        err = _stop(p)  # SIGTERM to the parent: every worker stops, flushed, exit 0
    assert err.count("listening on http://") == 2, err
    keys = sorted(x["key"] for x in _outbox(out))
    assert keys == sorted(f"reply/g002/w-{i}" for i in range(20))
    led = Ledger(store)
    try:
        assert {r["status"] for r in led.rows(playbook=name)} == {"sent"}
    finally:
        led.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_while_starting_stops_cleanly(tmp_path, workers):
    """A stop that lands while a process is still starting (between its "listening" line
    and the server taking over the signals) ends it like any other, flushed, exit 0."""
    pb = tmp_path / "pb.yaml"
    pb.write_text(PB.format(name=unique("启动中"), out=tmp_path / "out.jsonl"),
                  encoding="utf-8")
    env = {**os.environ, "SOPCTL_LANG": "en", "SOPCTL_EVENTS_SECRET": SECRET}
    p = subprocess.Popen([sys.executable, "-m", "sopctl", "serve", str(pb), "--port",
                          str(_free_port()), "--store", f"sqlite:///{tmp_path / 'l.db'}",
                          "--state-dir", str(tmp_path / "st"), "--workers", workers],
                         env=env, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    seen = []
    for line in p.stderr:  # the first worker's line: signal at once
        seen.append(line)
        if "listening on" in line:
            break
    p.send_signal(signal.SIGTERM)
    try:
        _out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("serve did not stop: " + "".join(seen)) from None
    err = "".join(seen) + err
    assert p.returncode == 0 and "Traceback" not in err, err
    assert err.count("stopped") == int(workers), err
