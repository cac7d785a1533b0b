"""The engine's arrays: one entry per member (grown by doubling, compacted when many have
left) and one per group (today's operations, looked up from one plan per opening date)."""

from __future__ import annotations

import numpy as np

from ..playbook.model import Group
from .model import World

F32 = np.float32
# per-day temporaries, not member state
SCRATCH = {"buf": F32, "buf2": F32, "mask": bool, "mask2": bool}
# member state; ``acoef`` is the hazard and mute chance per unit of annoyance, ``dnd`` whether
# the member has muted the group (do-not-disturb: posts no longer reach them)
ARRAYS = {"alive": bool, "alive_f": F32, "grp": np.int32, "stage": np.int16, "e": F32,
          "talk_s": F32, "joined": F32, "g": F32, "c0": F32, "c1": F32,
          "hmul": F32, "annoy": F32, "acoef": F32, "dnd": bool, "k1": F32, "viol": np.int16,
          "mute_until": np.int32, "due": np.int32, "pconv": F32, "conv": bool, "msgs": F32}
# member state a newcomer starts at zero: kept zero past the last member (fresh arrays are,
# compaction clears what it leaves behind), so that adding members need not write it
ZERO_AT_JOIN = ("annoy", "dnd", "viol", "mute_until", "conv", "msgs")


class State:
    """Member arrays, grown by doubling and compacted when many have left."""

    def __init__(self, size: int):
        self.n = 0
        self.n_init = 0  # members present at the start come first; later ones by join day
        self.dead = 0
        # members lie in runs of one group: the first ``nruns`` entries (group, length)
        self.run_g, self.run_k, self.nruns = np.zeros(64, np.int64), np.zeros(64, np.int64), 0
        for name, dt in (ARRAYS | SCRATCH).items():
            setattr(self, name, np.zeros(size, dt))

    def reserve(self, extra: int) -> None:
        if self.n + extra <= len(self.alive):
            return
        size = max(self.n + extra, 2 * len(self.alive))
        for name in SCRATCH:
            setattr(self, name, np.zeros(size, SCRATCH[name]))
        for name in ARRAYS:
            old = getattr(self, name)
            new = np.zeros(size, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def compact(self) -> np.ndarray:
        """Drop departed members; returns the old indices kept, in order."""
        keep = np.flatnonzero(self.alive[: self.n])
        for name in ARRAYS:
            arr = getattr(self, name)
            arr[: len(keep)] = arr[keep]
        self.n_init = int(np.searchsorted(keep, self.n_init))
        self.alive[len(keep): self.n] = False
        for name in ZERO_AT_JOIN:
            getattr(self, name)[len(keep): self.n] = 0
        self.n, self.dead = len(keep), 0
        grp = self.grp[: self.n]
        starts = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]]) if self.n else \
            np.zeros(0, np.int64)
        self.nruns = len(starts)
        self.run_g[: self.nruns] = grp[starts]
        self.run_k[: self.nruns] = np.diff(np.r_[starts, self.n])
        return keep

    def add_run(self, gi: int, k: int) -> None:
        m = self.nruns
        if m and self.run_g[m - 1] == gi:
            self.run_k[m - 1] += k
            return
        if m == len(self.run_g):
            self.run_g, self.run_k = (np.concatenate([a, np.zeros_like(a)])
                                      for a in (self.run_g, self.run_k))
        self.run_g[m], self.run_k[m], self.nruns = gi, k, m + 1

    def end_first_week(self, day: int, early: np.float32) -> None:
        """Drop the first-week hazard (``early``, on the scale of ``c0``) of the members who
        joined on ``day``."""
        if early == 0:
            return
        later = self.joined[self.n_init: self.n]  # sorted by join day
        lo, hi = np.searchsorted(later, [day, day + 0.5])
        idx = np.arange(self.n_init + lo, self.n_init + hi)
        if day <= 0:  # members present at the start joined on scattered days
            idx = np.concatenate([np.flatnonzero(self.joined[: self.n_init] == day), idx])
        idx = idx[self.alive[idx]]
        self.c0[idx] -= early * self.hmul[idx]

    def spread(self, per_group: np.ndarray) -> np.ndarray:
        """A per-group value for every member (runs make this a repeat, not a gather)."""
        m = self.nruns
        return np.repeat(per_group[self.run_g[:m]], self.run_k[:m])


class Groups:
    """Group-level arrays; operations come from one plan per distinct opening date."""

    def __init__(self, world: World, stage_of: dict[str, int]):
        self.world, self.stage_of = world, stage_of
        self.size = 0
        cap = max(16, 2 * len(world.groups))
        self.counts = np.zeros(cap, np.int64)
        self.stage = np.zeros(cap, np.int16)
        self.row = np.zeros(cap, np.int64)
        self.quiet = np.zeros(cap, np.int64)  # days in a row without any operation
        self.rows: dict = {}
        # one row per opening date: those at the start plus at most one new date a day
        # (zeros are mapped lazily, so the rows cost nothing until used)
        rows = len({g.opened for g in world.groups}) + world.days + 1
        self.mats = [np.zeros((rows, world.days), dt) for dt in (float, float, np.int8, np.int64)]
        for g in world.groups:
            self.add(g)

    def add(self, g: Group) -> None:
        if self.size == len(self.counts):
            for name in ("counts", "stage", "row", "quiet"):
                old = getattr(self, name)
                new = np.zeros(2 * len(old), old.dtype)
                new[: self.size] = old
                setattr(self, name, new)
        i = self.size
        self.stage[i] = self.stage_of.get(g.stage or "", 0)
        if g.opened not in self.rows:
            r = self.rows[g.opened] = len(self.rows)
            if r == len(self.mats[0]):
                self.mats = [np.concatenate([m, np.zeros_like(m)]) for m in self.mats]
            ops = self.world.ops.get(g.opened)
            for m, f in zip(self.mats, (ops.units, ops.posts, ops.sale, ops.sent), strict=True):
                m[r] = f
        self.row[i] = self.rows[g.opened]
        self.size += 1

    def today(self, t: int) -> tuple[np.ndarray, ...]:
        r = self.row[: self.size]
        return tuple(m[:, t][r] for m in self.mats)
