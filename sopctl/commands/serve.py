"""`sopctl serve`: receive member events (HTTP and/or a JSON-lines inbox) and react."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import typer

from ..errors import PlaybookError, UsageError
from ..i18n import _
from ._common import STATE_DIR_OPTION, STORE_OPTION, port_option


class AccessFormat(StrEnum):
    text = "text"
    json = "json"


def _secret(value: str | None) -> str | None:
    """A literal from the environment, or file:/path."""
    if value and value.startswith("file:"):
        try:
            return Path(value[5:]).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            from ..i18n.thirdparty import os_reason

            raise UsageError(_("cannot read secret file {path}: {why}").format(
                path=value[5:], why=os_reason(exc))) from None
    return value or None


def open_engine(playbook: str, store: str | None, state_dir: Path | None):
    from ..events.engine import EventEngine
    from ..playbook.loader import load_playbook
    from ..run.ledger import Ledger, default_state_dir, store_url
    from ._common import check_path

    check_path(playbook)
    loaded = load_playbook(playbook)
    if not loaded.ok:
        for f in loaded.findings:
            typer.echo(f"{f.path}:{f.line}:{f.column}: {f.code} {f.message}", err=True)
        raise PlaybookError(_("{path} does not load; fix it first (sopctl lint)").format(
            path=playbook), loaded.findings)
    ledger = Ledger(store_url(store, state_dir or default_state_dir()))
    return EventEngine(loaded.playbook, ledger), ledger


def open_deliverer(engine, ledger, state_dir: Path | None, env: dict[str, str] | None = None,
                   metrics=None):
    """The delivery thread, with the runner's channels for every channel a group's
    reactions use (secrets from the environment; a missing one is a usage error)."""
    from ..errors import SopctlError
    from ..events.deliver import Deliverer
    from ..run.ledger import default_state_dir

    try:
        return Deliverer.build(engine, ledger, env=os.environ if env is None else env,
                               state_dir=state_dir or default_state_dir(),
                               metrics=metrics).start()
    except SopctlError as exc:
        ledger.close()
        raise UsageError(str(exc), hint=exc.hint) from None


def serve(
    playbook: str = typer.Argument(None, help="The playbook whose groups receive events "
                                   "(default: the one found here)."),
    port: int = port_option("--port", "-p", help="Listen for HTTP events on this port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    inbox: Path = typer.Option(None, "--inbox", help="JSON-lines file or directory of *.jsonl."),
    once: bool = typer.Option(False, "--once", help="Read the inbox once, send due welcomes, "
                              "and exit (for cron)."),
    store: str = STORE_OPTION,
    state_dir: Path = STATE_DIR_OPTION,
    secret: str = typer.Option(None, "--secret", envvar="SOPCTL_EVENTS_SECRET",
                               help="HMAC key for POST /events (env or file:/path)."),
    wecom_token: str = typer.Option(None, "--wecom-token", envvar="SOPCTL_WECOM_TOKEN",
                                    help="The WeCom callback's Token (env or file:/path)."),
    wecom_aes_key: str = typer.Option(None, "--wecom-aes-key", envvar="SOPCTL_WECOM_AES_KEY",
                                      help="The callback's EncodingAESKey (43 characters)."),
    wecom_corp_id: str = typer.Option(None, "--wecom-corp-id", envvar="SOPCTL_WECOM_CORP_ID",
                                      help="The corp id callbacks must carry (receive id)."),
    telegram_secret: str = typer.Option(None, "--telegram-secret",
                                        envvar="SOPCTL_TELEGRAM_SECRET",
                                        help="Expected X-Telegram-Bot-Api-Secret-Token "
                                        "(env or file:/path)."),
    forwarded_allow_ips: str = typer.Option(
        None, "--forwarded-allow-ips", envvar="SOPCTL_FORWARDED_ALLOW_IPS",
        help="Comma-separated proxy addresses (or networks) whose X-Forwarded-For is "
        "believed; '*' trusts every peer. Default: none."),
    header_timeout: float = typer.Option(10.0, "--header-timeout", min=0.1,
                                         help="Seconds a client may take to send a request "
                                         "head."),
    body_timeout: float = typer.Option(10.0, "--body-timeout", min=0.1,
                                       help="Seconds a client may take to send a body."),
    keep_alive: float = typer.Option(5.0, "--keep-alive", min=1,
                                     help="Seconds an idle keep-alive connection stays open."),
    max_connections: int = typer.Option(1000, "--max-connections", min=1,
                                        help="Concurrent connections; beyond, requests get "
                                        "503."),
    max_body: int = typer.Option(1 << 20, "--max-body", min=1,
                                 help="Largest request body in bytes (413 beyond)."),
    access_log: AccessFormat = typer.Option(AccessFormat.text, "--access-log",
                                            help="Access log lines on stderr: text or json."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Processes accepting on the port, each with its own "
                                "writer and sender (one store; PostgreSQL for more than a "
                                "few)."),
) -> None:
    """Welcome newcomers, answer keywords, enforce the rules and move buyers up the funnel."""
    import logging

    if port is None and inbox is None:
        raise UsageError(_("nothing to listen to"), hint=_("give --port and/or --inbox"))
    if once and inbox is None:
        raise UsageError(_("--once reads the inbox; give --inbox"))
    if playbook is None:
        from ..playbook.discover import find_playbook

        playbook = find_playbook()
    if inbox is not None and not inbox.exists():  # an exporter may create it later
        typer.echo(_("warning: inbox {path} does not exist (yet); nothing to read").format(
            path=inbox), err=True)
    from ..run.metrics import ZoneFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(ZoneFormatter())  # on the playbook's clock once it is loaded
    logging.basicConfig(level=os.environ.get("SOPCTL_LOG_LEVEL", "INFO"), handlers=[handler])
    opts = dict(playbook=playbook, port=port, host=host, inbox=inbox, once=once, store=store,
                state_dir=state_dir, secret=secret, wecom_token=wecom_token,
                wecom_aes_key=wecom_aes_key, wecom_corp_id=wecom_corp_id,
                telegram_secret=telegram_secret, forwarded_allow_ips=forwarded_allow_ips,
                header_timeout=header_timeout, body_timeout=body_timeout,
                keep_alive=keep_alive, max_connections=max_connections, max_body=max_body,
                access_log=access_log)
    if workers == 1:
        _serve_process(**opts)
        return
    if port is None or once:
        raise UsageError(_("--workers serves a --port, and does not go with --once"))
    from ..events.http import bind

    _engine, ledger = open_engine(playbook, store, state_dir)  # tables made once, not raced
    ledger.close()
    try:
        sock = bind(host, port)  # one listening socket; every worker accepts on it
    except OSError as exc:
        raise UsageError(_("cannot listen on {host}:{port}: {why}").format(
            host=host, port=port, why=exc.strerror or exc)) from None
    _prefork(workers, lambda i: _serve_process(
        **{**opts, "inbox": inbox if i == 0 else None}, sock=sock))


def _prefork(n: int, run) -> None:
    """``run(i)`` in ``n`` forked processes; SIGTERM/SIGINT are passed on to them and the
    parent exits once all have (1 if any failed)."""
    import contextlib
    import signal

    children = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:  # the worker: it sets its own signal handlers
            code = 0
            try:
                run(i)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # the parent reports the exit code
                typer.echo(f"{type(exc).__name__}: {exc}", err=True)
                code = 2 if isinstance(exc, UsageError) else 1
            finally:
                os._exit(code)
        children.append(pid)

    def forward(*_a) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    if any(codes):
        raise SystemExit(1)


def _serve_process(*, playbook, port, host, inbox, once, store, state_dir, secret, wecom_token,
                   wecom_aes_key, wecom_corp_id, telegram_secret, forwarded_allow_ips,
                   header_timeout, body_timeout, keep_alive, max_connections, max_body,
                   access_log, sock=None) -> None:
    """One receiving process: store, sender, ticker, inbox and/or HTTP, until a stop."""
    import logging
    import signal
    import threading

    from ..events.inbox import read_inbox
    from ..run.metrics import ServeMetrics, ZoneFormatter

    log = logging.getLogger("sopctl.events")
    stop = threading.Event()
    server = receiver = None
    if not once:
        # from the start, not just while uvicorn serves: a SIGTERM that lands before its
        # own handler is in place (a worker still starting) must still stop the process
        def on_signal(*_a: object) -> None:
            stop.set()
            if server is not None:
                server.request_stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
    engine, ledger = open_engine(playbook, store, state_dir)
    for h in logging.getLogger().handlers:
        if isinstance(h.formatter, ZoneFormatter):
            h.formatter.tz = engine.pb.timezone
    metrics = ServeMetrics()
    deliverer = open_deliverer(engine, ledger, state_dir, metrics=metrics)
    engine.listeners.append(deliverer)
    if once:
        rep = read_inbox(engine, inbox)
        engine.tick()
        deliverer.stop(grace=30)  # everything handed in: sent and recorded
        typer.echo(_("events: {events}, actions: {actions}, skipped: {skipped}").format(
            events=rep.events, actions=rep.actions, skipped=rep.skipped))
        ledger.close()
        return
    if port is not None:
        from ..events.http import AccessLog, EventServer, HttpLimits
        from ..events.server import Receiver, ServeConfig

        cfg = ServeConfig(secret=_secret(secret), wecom=_crypto(wecom_token, wecom_aes_key,
                                                                wecom_corp_id),
                          telegram_secret=_secret(telegram_secret), max_body=max_body)
        limits = HttpLimits(header_timeout=header_timeout, body_timeout=body_timeout,
                            keep_alive=keep_alive, max_body=max_body,
                            max_connections=max_connections)
        try:
            writer = _commit_process(engine, metrics)
        except Exception:
            deliverer.stop()
            ledger.close()
            raise
        receiver = Receiver(engine, cfg, names=deliverer.names(), metrics=metrics,
                            writer=writer)
        try:
            access = AccessLog(access_log.value, tz=engine.pb.timezone)
            server = EventServer(receiver, host=host, port=port, limits=limits,
                                 access=access, metrics=metrics,
                                 forwarded_allow_ips=forwarded_allow_ips, sock=sock)
        except OSError as exc:
            receiver.close()
            deliverer.stop()
            ledger.close()
            raise UsageError(_("cannot listen on {host}:{port}: {why}").format(
                host=host, port=port, why=exc.strerror or exc)) from None
    from ..events.server import start_ticker

    start_ticker(engine, stop)
    if inbox is not None:
        def poll() -> None:
            while not stop.wait(2.0):
                try:
                    read_inbox(engine, inbox)
                except Exception as exc:  # a database outage: try again next round
                    log.error(_("reading the inbox failed: {why}").format(why=exc))

        threading.Thread(target=poll, name="sopctl-inbox", daemon=True).start()
    # uvicorn takes SIGTERM/SIGINT while it serves and raises them again once it has
    # stopped: on_signal, not the default handler, then receives them, so the flush below
    # still runs
    if server is not None:
        log.info(_("listening on http://{host}:{port} (process {pid})").format(
            host=host, port=server.port, pid=os.getpid()))
        if not stop.is_set():
            server.run()  # until SIGTERM/SIGINT: stops accepting, finishes what is in flight
    else:
        stop.wait()
    stop.set()
    if receiver is not None:
        receiver.close()  # events handed in are committed
    deliverer.stop()  # sends for 5 s; what has not begun then is handed back (released)
    ledger.close()
    log.info(_("stopped"))


def _commit_process(engine, metrics):
    """The group commit in a process of its own (sopctl/events/committer.py)."""
    from ..events.committer import CommitFailed, ProcessWriter

    try:
        return ProcessWriter(engine, metrics=metrics)
    except CommitFailed as exc:
        raise UsageError(str(exc)) from None


def _crypto(token: str | None, aes_key: str | None, corp_id: str | None):
    from ..events.wecom_crypto import WeComCrypto, WeComCryptoError

    if not (token or aes_key):
        return None
    if not (token and aes_key and corp_id):
        raise UsageError(_("WeCom callbacks need --wecom-token, --wecom-aes-key and "
                           "--wecom-corp-id"))
    try:
        return WeComCrypto(_secret(token) or "", _secret(aes_key) or "", corp_id)
    except WeComCryptoError as exc:
        raise UsageError(_("--wecom-aes-key: {why}").format(why=exc)) from None
