"""The JSON-lines inbox: a file, or a directory of *.jsonl, that any exporter appends to.

The read offset of each file is kept in the store, so reading again only sees new lines.
Only complete lines (ending in a newline) are consumed: a writer caught mid-line is read
next time. A file that shrank or was replaced (new inode) is read from the start.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..i18n import _
from .engine import EventEngine
from .types import event_from_dict

log = logging.getLogger("sopctl.events")


@dataclass(slots=True)
class InboxReport:
    events: int = 0
    actions: int = 0
    skipped: int = 0


def inbox_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(x for x in p.glob("*.jsonl") if x.is_file())
    return [p] if p.is_file() else []


def read_inbox(engine: EventEngine, path: str | Path) -> InboxReport:
    rep = InboxReport()
    for f in inbox_files(path):
        _read_file(engine, f, rep)
    return rep


def _read_file(engine: EventEngine, f: Path, rep: InboxReport) -> None:
    key = str(f.resolve())
    st = f.stat()
    inode = f"{st.st_dev}:{st.st_ino}"
    offset, line_no, known = engine.store.offset(key)
    if known != inode or st.st_size < offset:
        offset, line_no = 0, 0
    with f.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n")
    if end < 0:
        return
    for raw in data[:end + 1].splitlines():
        line_no += 1
        if not raw.strip():
            continue
        try:
            ev = event_from_dict(json.loads(raw))
            group = engine.resolve_group(ev.group)
            if group != ev.group:
                from dataclasses import replace

                ev = replace(ev, group=group)
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            if isinstance(exc, json.JSONDecodeError):  # where, not Python's English
                reason = _("malformed JSON (column {col})").format(col=exc.colno)
            elif isinstance(exc, UnicodeDecodeError):
                reason = _("not UTF-8 text")
            else:
                reason = str(exc)
            log.warning(_("{path}:{line}: skipped: {reason}").format(path=f, line=line_no,
                                                                    reason=reason))
            rep.skipped += 1
            continue
        rep.actions += len(engine.handle(ev))
        rep.events += 1
    engine.store.set_offset(key, offset + end + 1, inode, line_no)
