"""`sopctl members export|forget|dedup`: what is held about members, and removing it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Member data: export, forget, and find members in several groups.",
                  no_args_is_help=True)

_STORE = typer.Option(None, "--store", help="Database URL (default: the state directory).")
_STATE = typer.Option(None, "--state-dir", help="State directory.")


def _store(playbook: str, store: str | None, state_dir: Path | None):
    from ..events.store import MemberStore
    from ..run.ledger import Ledger, default_state_dir, store_url

    return MemberStore(Ledger(store_url(store, state_dir or default_state_dir())), playbook)


@app.command("export")
def export(member: str = typer.Argument(..., help="The member's platform user id."),
           store: str = _STORE, state_dir: Path = _STATE) -> None:
    """Print, as JSON, everything held about MEMBER in every group."""
    typer.echo(json.dumps(_store("", store, state_dir).export(member), ensure_ascii=False,
                          indent=2))


@app.command("forget")
def forget(member: str = typer.Argument(..., help="The member's platform user id."),
           store: str = _STORE, state_dir: Path = _STATE) -> None:
    """Delete MEMBER's rows. A blacklist entry survives only as a one-way digest."""
    n = _store("", store, state_dir).forget(member)
    typer.echo(f"deleted {n} member row(s) for {member}")


@app.command("dedup")
def dedup(playbook: str = typer.Argument(..., help="The playbook's name (as in the ledger)."),
          mark: bool = typer.Option(False, "--mark", help="Tag later copies 'duplicate'."),
          store: str = _STORE, state_dir: Path = _STATE) -> None:
    """List members present in more than one group (群成员去重)."""
    dups = _store(playbook, store, state_dir).duplicates(mark=mark)
    for m, groups in dups.items():
        typer.echo(f"{m}\t{', '.join(groups)}")
    typer.echo(f"{len(dups)} member(s) in several groups" + (" (marked)" if mark else ""))
