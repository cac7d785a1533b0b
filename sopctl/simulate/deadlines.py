"""Members filed by the day their stage's deadline falls, so that a day looks only at the
members due then instead of comparing every member's ``due`` with it."""

from __future__ import annotations

import numpy as np

from .model import INF_DAY

_NONE = np.zeros(0, np.int64)


class Deadlines:
    """Indices by due day. Entries go stale when a member converts or leaves (their
    ``due`` changes, and their index may be filed twice): ``due_on`` keeps those whose
    ``due`` still is that day."""

    def __init__(self) -> None:
        self.by_day: dict[int, list[np.ndarray]] = {}

    def add(self, idx: np.ndarray, due: np.ndarray | int) -> None:
        if np.ndim(due) == 0:
            if due < INF_DAY and len(idx):
                self.by_day.setdefault(int(due), []).append(idx)
            return
        if len(due) and (due == due[0]).all():
            self.add(idx, int(due[0]))
            return
        for d in np.unique(due[due < INF_DAY]):
            self.by_day.setdefault(int(d), []).append(idx[due == d])

    def due_on(self, t: int, due: np.ndarray) -> np.ndarray:
        """Members due on day ``t`` (``due``: every member's due day). Their ``due`` is set
        to -1 on the way, so that a member filed twice is taken once; the caller gives
        them their next deadline."""
        parts = self.by_day.pop(t, None)
        if not parts:
            return _NONE
        taken = []
        for idx in parts:
            idx = idx[due[idx] == t]
            due[idx] = -1
            taken.append(idx)
        return np.concatenate(taken)

    def remap(self, keep: np.ndarray) -> None:
        """After compaction: ``keep`` lists, in order, the old indices that stay."""
        for parts in self.by_day.values():
            for i, old in enumerate(parts):
                new = np.searchsorted(keep, old)
                ok = new < len(keep)
                ok[ok] = keep[new[ok]] == old[ok]
                parts[i] = new[ok]
