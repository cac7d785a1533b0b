"""`sopctl members export|forget|dedup`: what is held about members, and removing it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..i18n import _, ngettext
from ._clitext import Command, Group
from ._common import STATE_DIR_OPTION, STORE_OPTION

app = typer.Typer(help="Member data: export, forget, and find members in several groups.",
                  no_args_is_help=True, cls=Group)

def _store(playbook: str, store: str | None, state_dir: Path | None):
    from ..events.store import MemberStore
    from ..run.ledger import Ledger, default_state_dir, store_url

    return MemberStore(Ledger(store_url(store, state_dir or default_state_dir())), playbook)


@app.command("export", cls=Command)
def export(member: str = typer.Argument(..., metavar="MEMBER",
                                         help="The member's platform user id."),
           store: str = STORE_OPTION, state_dir: Path = STATE_DIR_OPTION) -> None:
    """Print, as JSON, everything held about MEMBER in every group."""
    typer.echo(json.dumps(_store("", store, state_dir).export(member), ensure_ascii=False,
                          indent=2))


@app.command("forget", cls=Command)
def forget(member: str = typer.Argument(..., metavar="MEMBER",
                                         help="The member's platform user id."),
           yes: bool = typer.Option(False, "--yes", "-y",
                                    help="Delete without asking for confirmation."),
           store: str = STORE_OPTION, state_dir: Path = STATE_DIR_OPTION) -> None:
    """Delete MEMBER's rows. A blacklist entry survives only as a one-way digest."""
    held = _store("", store, state_dir)
    if not yes:
        groups = sorted({f"{r['playbook']}/{r['group_id']}" for r in held.export(member)["groups"]})
        if not groups:
            typer.echo(_("nothing held about {member}; nothing to delete").format(member=member))
            return
        typer.echo(ngettext("{member} is held in {n} group: {groups}",
                            "{member} is held in {n} groups: {groups}", len(groups))
                   .format(member=member, n=len(groups), groups=", ".join(groups)))
        if not _yes(_("Delete these rows for good? This cannot be undone")):
            typer.echo(_("nothing deleted"))
            raise typer.Exit(1)
    n = held.forget(member)
    typer.echo(ngettext("deleted {n} member row for {member}",
                        "deleted {n} member rows for {member}", n).format(n=n, member=member))


def _yes(question: str) -> bool:
    """Ask; only y/yes (是) is yes, anything else (Enter, end of input) is no. Unlike
    click's confirm, no answer is "invalid": nothing is said in English."""
    try:
        answer = typer.prompt(f"{question} [y/N]", default="", show_default=False)
    except typer.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise  # Ctrl-C: exit 130 (sopctl.main), not a "no"
        return False  # end of input
    return answer.strip().lower() in ("y", "yes", "是", "是的", "确定")


@app.command("dedup", cls=Command)
def dedup(playbook: str = typer.Argument(..., help="The playbook's name (as in the ledger)."),
          mark: bool = typer.Option(False, "--mark", help="Tag later copies 'duplicate'."),
          store: str = STORE_OPTION, state_dir: Path = STATE_DIR_OPTION) -> None:
    """List members present in more than one group (群成员去重)."""
    dups = _store(playbook, store, state_dir).duplicates(mark=mark)
    for m, groups in dups.items():
        typer.echo(f"{m}\t{', '.join(groups)}")
    n = len(dups)
    typer.echo((ngettext("{n} member in several groups (marked)",
                         "{n} members in several groups (marked)", n) if mark else
                ngettext("{n} member in several groups", "{n} members in several groups", n))
               .format(n=f"{n:,}"))
