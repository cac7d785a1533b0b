"""The receiver facing the internet: whatever a client does, the server answers or closes
within its limits, logs one line, prints no traceback, and keeps serving."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import threading
import time

import httpx
import pytest

from sopctl.events.engine import EventEngine
from sopctl.events.http import AccessLog, HttpLimits
from sopctl.events.server import ServeConfig, sign
from sopctl.run.ledger import Ledger
from tests.events.conftest import serving, unique

SECRET = "s3cret"
LIMITS = HttpLimits(header_timeout=0.5, body_timeout=0.5, keep_alive=2, max_body=4096,
                    max_connections=500)


@pytest.fixture
def http(pb, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    log = io.StringIO()
    with serving(engine, ServeConfig(secret=SECRET, max_body=LIMITS.max_body),
                 limits=LIMITS, access=AccessLog("json", log)) as (server, base):
        yield server, base, engine, log
    ledger.close()
    # whatever the clients did: no traceback anywhere in the logs
    assert not [r for r in caplog.records if r.exc_info], \
        [r.getMessage() for r in caplog.records if r.exc_info]
    assert "Traceback" not in caplog.text


def _sock(server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _read_all(s: socket.socket, timeout: float = 5.0) -> tuple[bytes, float]:
    """Everything until the server closes; and how long that took."""
    s.settimeout(timeout)
    t0, out = time.monotonic(), b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        out += chunk
    return out, time.monotonic() - t0


def _signed(body: bytes) -> bytes:
    ts = str(int(time.time()))
    return (f"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Sopctl-Timestamp: {ts}\r\nX-Sopctl-Signature: {sign(SECRET, ts, body)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _lines(log: io.StringIO) -> list[dict]:
    return [json.loads(x) for x in log.getvalue().splitlines() if x.strip()]


def test_hang_up_before_reading_the_answer(http):
    server, base, engine, _log = http
    body = json.dumps({"id": "h1", "type": "message", "group": "g001", "member": "u1",
                       "text": "多少钱"}).encode()
    for raw in (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", _signed(body)):
        s = _sock(server)
        s.sendall(raw)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST: the answer meets a closed socket
    deadline = time.monotonic() + 5
    while not engine.store.seen("h1") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.store.seen("h1")  # the event was stored all the same
    assert httpx.get(base + "/healthz").json() == {"ok": True}


def test_headers_and_no_body_get_408_within_the_body_timeout(http):
    server, _base, _engine, log = http
    s = _sock(server)
    s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")
    out, took = _read_all(s)
    assert out.startswith(b"HTTP/1.1 408") and b"connection: close" in out.lower()
    assert took < LIMITS.body_timeout + 1.5
    assert _lines(log)[-1]["status"] == 408


def test_a_partial_head_or_silence_is_closed_within_the_header_timeout(http):
    server, base, _engine, _log = http
    for raw in (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Le", b""):
        s = _sock(server)
        s.sendall(raw)
        out, took = _read_all(s)
        assert out == b"" and took < LIMITS.header_timeout + 1.5
    # the same limit applies to the second request on a kept-alive connection
    s = _sock(server)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHo")
    out, took = _read_all(s)
    assert out.count(b"HTTP/1.1 200") == 1 and took < LIMITS.header_timeout + 1.5
    assert httpx.get(base + "/healthz").status_code == 200


def test_oversized_bodies_are_refused_before_they_are_read(http):
    server, _base, _engine, log = http
    s = _sock(server)
    s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\nxx")
    out, _ = _read_all(s)
    assert out.startswith(b"HTTP/1.1 413")
    chunk = b"x" * 3000
    s = _sock(server)  # chunked: no length to check up front; counted while read
    s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n")
    out, _ = _read_all(s)
    assert out.startswith(b"HTTP/1.1 413")
    assert [x["status"] for x in _lines(log)[-2:]] == [413, 413]
    assert server.receiver.rejected == 2


def test_garbage_and_bad_lengths_get_400(http):
    server, base, _engine, _log = http
    for raw in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # TLS hello
                b"HELLO\r\n\r\n",
                b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"):
        s = _sock(server)
        s.sendall(raw)
        out, _ = _read_all(s)
        assert out.startswith(b"HTTP/1.1 400"), out[:60]
    assert httpx.get(base + "/healthz").status_code == 200


def test_keep_alive_serves_many_requests_on_one_connection(http):
    server, _base, engine, log = http
    s = _sock(server)
    for i in range(5):
        body = json.dumps({"id": f"k{i}", "type": "checkin", "group": "g001",
                           "member": f"u{i}"}).encode()
        s.sendall(_signed(body))
        got = b""
        while b"\r\n\r\n" not in got or not got.endswith(b"}"):
            got += s.recv(4096)
        assert got.startswith(b"HTTP/1.1 200"), got
    s.close()
    assert all(engine.store.seen(f"k{i}") for i in range(5))
    assert len({(x["client"], x["status"]) for x in _lines(log)}) == 1


def test_stalled_connections_hold_no_thread_and_others_are_served(http):
    server, base, _engine, _log = http
    before = threading.active_count()
    stalled = [_sock(server) for _ in range(100)]
    for i, s in enumerate(stalled):
        s.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
                  if i % 2 else b"GET /heal")
    with httpx.Client(base_url=base) as c:
        assert all(c.get("/healthz").status_code == 200 for _ in range(20))
    assert threading.active_count() <= before + 2  # the server's threads, not one each
    t0 = time.monotonic()
    for s in stalled:
        out, _ = _read_all(s, timeout=5)
        assert out in (b"",) or out.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - t0 < max(LIMITS.header_timeout, LIMITS.body_timeout) + 2.5


@pytest.mark.parametrize(("allow", "expect"), [(None, "127.0.0.1"),
                                                ("10.9.9.9", "127.0.0.1"),
                                                ("127.0.0.1", "203.0.113.7")])
def test_x_forwarded_for_only_from_configured_proxies(pb, tmp_path, allow, expect):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    log = io.StringIO()
    with serving(engine, ServeConfig(secret=SECRET), access=AccessLog("json", log),
                 forwarded_allow_ips=allow) as (_server, base):
        httpx.get(base + "/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    ledger.close()
    assert _lines(log)[-1]["client"] == expect


def test_text_access_log_is_one_translated_line(pb, tmp_path):
    from sopctl.i18n import setup

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    log = io.StringIO()
    try:
        for lang, word, why in (("en", " ms", "generic events are disabled"),
                                ("zh-CN", "毫秒", "未启用通用事件")):
            setup(lang)
            access = AccessLog("text", log, tz="Asia/Shanghai")
            with serving(engine, ServeConfig(), access=access) as (_s, base):
                r = httpx.post(base + "/events", content=b"{}")
            line = log.getvalue().splitlines()[-1]
            assert "POST /events -> 403" in line and word in line and why in line
            # stamped on the playbook's clock, the zone named
            assert re.match(r"\d\d:\d\d:\d\d Asia/Shanghai ", line), line
            # the answer itself is a machine surface: the same in every language
            assert r.json() == {"error": "generic events are disabled (no --secret)"}
    finally:
        setup("en")
        ledger.close()


def test_connections_beyond_the_bound_are_answered_503(pb, tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    limits = HttpLimits(header_timeout=5, max_connections=4)
    with serving(engine, ServeConfig(), limits=limits) as (server, base):
        held = [_sock(server) for _ in range(4)]
        time.sleep(0.2)
        assert httpx.get(base + "/healthz").status_code == 503
        for s in held:
            s.close()
        time.sleep(0.2)
        assert httpx.get(base + "/healthz").status_code == 200
    ledger.close()


def test_a_request_head_over_the_bound_is_refused_431(http):
    """httptools (unlike h11) has no bound of its own on the request head: the server
    counts its bytes, answers 431 past ``max_header`` and closes, whether the head ever
    ends or not; a head under the bound is served."""
    server, base, _engine, _log = http
    for end in (b"\r\n\r\n", b""):
        s = _sock(server)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # closed early
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "
                      + b"a" * (LIMITS.max_header + 1024) + end)
        out, took = _read_all(s)
        assert out.startswith(b"HTTP/1.1 431") and took < LIMITS.header_timeout + 1.5, out[:80]
    pad = "a" * (LIMITS.max_header - 1024)
    assert httpx.get(base + "/healthz", headers={"X-Pad": pad}).status_code == 200
