"""The nginx configuration in docs/events.md, run as written in front of a real `sopctl serve`:
TLS ends in nginx, the client address `serve` logs is the one nginx saw (a forged
``X-Forwarded-For`` is replaced, not appended to), and connections to `serve` are reused.
Skipped, saying so, where nginx is not installed."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.events.conftest import unique
from tests.events.test_processes import PB, _free_port, _signed, _start, _stop

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    crt, pem = tmp / "cert.pem", tmp / "key.pem"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def _documented_site(listen: int, upstream: int, crt: Path, key: Path) -> str:
    """The doc's nginx block with only the ports and the certificate files changed."""
    block = re.search(r"```nginx\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, "docs/events.md has no nginx block"
    site = block.group(1)
    for pattern, repl in ((r"listen 443\b", f"listen 127.0.0.1:{listen}"),
                          (r"ssl_certificate\s+\S+;", f"ssl_certificate {crt};"),
                          (r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};"),
                          (r"127\.0\.0\.1:8080", f"127.0.0.1:{upstream}")):
        site, n = re.subn(pattern, repl, site)
        assert n == 1, f"the documented nginx block changed shape: {pattern!r}"
    return site


def _time_wait_on(port: int) -> set[tuple[str, str]]:
    """TCP connections in TIME_WAIT with ``port`` at either end (closed ones), by their
    addresses: older ones (another test's, on a reused port) can be told apart."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        ports = {int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16)}
        if f[3] == "06" and port in ports:
            found.add((f[1], f[2]))
    return found


@contextlib.contextmanager
def _nginx(tmp: Path, upstream: int) -> Iterator[str]:
    """nginx serving the documented site in front of ``upstream``; its https URL."""
    crt, key = _self_signed(tmp)
    listen = _free_port()
    temps = "".join(f"    {d}_temp_path {tmp / d};\n"
                    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp / "nginx.conf"
    conf.write_text(("user root;\n" if os.geteuid() == 0 else "")
                    + f"daemon off;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
                    + "events {}\nhttp {\n    access_log off;\n" + temps
                    + _documented_site(listen, upstream, crt, key) + "}\n")
    # -e: the error log from the start (before the configuration is read), as any user
    p = subprocess.Popen([NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"https://127.0.0.1:{listen}"
    try:
        end = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/healthz", verify=False, timeout=2)  # nginx's own 404
                break
            except httpx.TransportError:
                assert p.poll() is None and time.monotonic() < end, (
                    (tmp / "error.log").read_text(errors="replace"))
                time.sleep(0.1)
        yield url
    finally:
        p.terminate()
        p.wait(10)


def test_the_documented_nginx_site_in_front_of_serve(tmp_path):
    out = tmp_path / "out.jsonl"
    pb = tmp_path / "pb.yaml"
    pb.write_text(PB.format(name=unique("代理"), out=out), encoding="utf-8")
    serve, base = _start(pb, f"sqlite:///{tmp_path / 'l.db'}", tmp_path / "st",
                         "--forwarded-allow-ips", "127.0.0.1")
    upstream = int(base.rsplit(":", 1)[1])
    try:
        with _nginx(tmp_path, upstream) as url, httpx.Client(verify=False, timeout=10) as client:
            before = _time_wait_on(upstream)
            for i in range(20):
                ev = {"id": f"px-{i}", "type": "message", "group": "g001",
                      "member": f"u{i}", "text": "多少钱"}
                body = json.dumps(ev, ensure_ascii=False).encode()
                r = client.post(url + "/events", content=body,
                                headers={**_signed(body), "X-Forwarded-For": "203.0.113.9"})
                assert r.status_code == 200 and r.json() == {"accepted": 1, "actions": 1}, r.text
            closed = len(_time_wait_on(upstream) - before)
        err = _stop(serve)
    finally:
        if serve.poll() is None:  # a failure above: never leave serve running
            serve.kill()
            serve.communicate()
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    hits = [x for x in lines if x.get("event") == "http" and x.get("path") == "/events"]
    assert len(hits) == 20
    # nginx sets X-Forwarded-For to the peer it saw, and serve trusts nginx: the forged
    # address never reaches the log
    assert {x["client"] for x in hits} == {"127.0.0.1"}
    # the upstream's keepalive: twenty callbacks, no connection to serve closed
    assert closed == 0, f"{closed} connections to serve were closed: no keep-alive upstream"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 20  # the auto-replies
