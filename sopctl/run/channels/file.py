"""File channel: a JSON-lines outbox, one object per message, fsync'd before "sent"."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from .. import reasons as R
from ._common import BaseChannel
from .base import OutMessage, SendResult


class FileChannel(BaseChannel):
    type = "file"
    idempotent = True  # a key already in the outbox is not written again

    @property
    def path(self) -> Path:
        p = Path(self.cfg.path).expanduser() if self.cfg.path else Path("outbox.jsonl")
        return p if p.is_absolute() else self.state_dir / p

    def _seen(self) -> set[str]:
        seen = getattr(self, "_keys", None)
        if seen is None:
            seen = set()
            if self.path.exists():
                with self.path.open(encoding="utf-8") as f:
                    for line in f:
                        try:
                            seen.add(json.loads(line)["key"])
                        except (ValueError, KeyError, TypeError):
                            continue  # a torn last line after a crash
            self._keys = seen
        return seen

    async def attempt(self, part: OutMessage) -> SendResult:
        seen = self._seen()
        if part.key in seen:
            return SendResult("sent", R.FILE_DUPLICATE,
                              {"path": str(self.path), "duplicate": True})
        rec = {"key": part.key, "group_id": part.group_id, "group_name": part.group_name,
               "chat_id": part.chat_id, "text": part.text, "format": part.format,
               "mention": part.mention, "mentions": list(part.mentions),
               "attachments": list(part.attachments), "kind": part.kind,
               "due": part.due.isoformat() if part.due else None,
               "written_at": datetime.fromtimestamp(self.ctx.clock.time(), UTC).isoformat()}
        line = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                os.write(fd, line)  # one write: concurrent writers never interleave a line
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            return SendResult("failed", R.FILE_UNWRITABLE.format(path=self.path, why=e.strerror))
        seen.add(part.key)
        return SendResult("sent", response={"path": str(self.path)})


CHANNEL = FileChannel
