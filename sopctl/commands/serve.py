"""`sopctl serve`: receive member events (HTTP and/or a JSON-lines inbox) and react."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ..errors import PlaybookError, UsageError
from ._common import STATE_DIR_OPTION, STORE_OPTION, port_option


def _secret(value: str | None) -> str | None:
    """A literal from the environment, or file:/path."""
    if value and value.startswith("file:"):
        try:
            return Path(value[5:]).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read secret file {value[5:]}: {exc.strerror}") from None
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
        raise PlaybookError(f"{playbook} does not load; fix it first (sopctl lint)",
                            loaded.findings)
    ledger = Ledger(store_url(store, state_dir or default_state_dir()))
    return EventEngine(loaded.playbook, ledger), ledger


def open_deliverer(engine, ledger, state_dir: Path | None, env: dict[str, str] | None = None):
    """The delivery thread, with the runner's channels for every channel a group's
    reactions use (secrets from the environment; a missing one is a usage error)."""
    from ..errors import SopctlError
    from ..events.deliver import Deliverer
    from ..events.outbound import ChannelSender
    from ..run.ledger import default_state_dir

    names = {engine.channel_of(g) for g in engine.groups} - {""}
    local = {n for n in names if (engine.pb.channels.get(n) is None and n in ("console", "file"))
             or (engine.pb.channels.get(n) is not None
                 and engine.pb.channels[n].type in ("console", "file")
                 and not engine.pb.channels[n].remind)}
    sender = None
    if names - local:
        try:
            sender = ChannelSender.build(engine.pb, names - local,
                                         env=os.environ if env is None else env,
                                         state_dir=state_dir or default_state_dir())
        except SopctlError as exc:
            ledger.close()
            raise UsageError(str(exc), hint=exc.hint) from None
    return Deliverer(ledger, engine.name, engine.pb.channels, sender=sender).start()


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
) -> None:
    """Welcome newcomers, answer keywords, enforce the rules and move buyers up the funnel."""
    import logging
    import signal
    import threading

    from ..events.inbox import read_inbox

    if port is None and inbox is None:
        raise UsageError("nothing to listen to", hint="give --port and/or --inbox")
    if once and inbox is None:
        raise UsageError("--once reads the inbox; give --inbox")
    if playbook is None:
        from ..playbook.discover import find_playbook

        playbook = find_playbook()
    if inbox is not None and not inbox.exists():  # an exporter may create it later
        typer.echo(f"warning: inbox {inbox} does not exist (yet); nothing to read", err=True)
    logging.basicConfig(level=os.environ.get("SOPCTL_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(message)s")
    engine, ledger = open_engine(playbook, store, state_dir)
    deliverer = open_deliverer(engine, ledger, state_dir)
    engine.listeners.append(deliverer)
    if once:
        rep = read_inbox(engine, inbox)
        engine.tick()
        deliverer.stop()
        typer.echo(f"{rep.events} events, {rep.actions} actions, {rep.skipped} skipped")
        ledger.close()
        return
    server = None
    stop = threading.Event()
    if port is not None:
        from ..events.server import EventServer, ServeConfig
        from ..events.wecom_crypto import WeComCrypto, WeComCryptoError

        crypto = None
        if wecom_token or wecom_aes_key:
            if not (wecom_token and wecom_aes_key and wecom_corp_id):
                raise UsageError("WeCom callbacks need --wecom-token, --wecom-aes-key and "
                                 "--wecom-corp-id")
            try:
                crypto = WeComCrypto(_secret(wecom_token) or "", _secret(wecom_aes_key) or "",
                                     wecom_corp_id)
            except WeComCryptoError as exc:
                raise UsageError(f"--wecom-aes-key: {exc}") from None
        cfg = ServeConfig(secret=_secret(secret), wecom=crypto,
                          telegram_secret=_secret(telegram_secret))
        try:
            server = EventServer((host, port), engine, cfg)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        logging.getLogger("sopctl.events").info("listening on http://%s:%d",
                                                *server.server_address[:2])
    from ..events.server import start_ticker

    start_ticker(engine, stop)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(2.0):
        if inbox is not None:
            read_inbox(engine, inbox)
    if server is not None:
        server.shutdown()
    deliverer.stop()
    ledger.close()
