"""The engine's daily draws over every member, from 8 random bits a member.

A member's uniform U is drawn in two parts: a byte ``h`` places it in [h/256, (h+1)/256),
and 24 more bits place it inside that interval, drawn only where the byte alone cannot
decide. Comparing U with a chance ``p`` needs the extra bits only when ``p`` falls inside
the member's interval (for a chance below 1, one member in 256); a candidate for the day's
events needs them to pick its event. The result is exactly ``U < p`` for a uniform U (to
float32 rounding), at an eighth of the random bits of a full 64-bit draw per member: the
draws were most of the engine's time.

Every daily draw starts at a place of the run's stream fixed by the day and the purpose
(the stream is advanced there), and the extra bits are a hash of the member's index under a
key drawn with the bytes. So a member's U depends on the day and its place in the arrays
alone, not on how many joined, how many needed more bits or what other draws consumed, and
a day's joins and messages do not shift later days' draws. Two forecasts from one seed that
differ by an edit keep drawing alike (common random numbers: ``--compare`` and the what-if
tests see the edit more than the dice).
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
STEP = F32(1 / 256)  # width of a byte's interval
_GOLDEN, _MIX1, _MIX2 = (np.uint64(x) for x in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9,
                                                 0x94D049BB133111EB))


SPEAK, EVENTS, JOINS, MESSAGES, NEGLECT = range(5)  # a day's draws, by purpose


class Draws:
    """One run's daily draws: purpose ``which`` of day ``day`` starts at word
    ``(8 * day + which) << 40`` of a stream seeded from the run's generator."""

    def __init__(self, rng: np.random.Generator):
        self.bg = np.random.PCG64(rng.bit_generator.random_raw(4))
        self.gen = np.random.Generator(self.bg)
        self.base = self.bg.state

    def at(self, day: int, which: int) -> np.random.Generator:
        """The generator, placed at the start of purpose ``which`` of day ``day``."""
        self.bg.state = self.base
        self.bg.advance((8 * day + which) << 40)
        return self.gen

    def _bytes(self, day: int, which: int, n: int) -> tuple[np.ndarray, np.uint64]:
        """One random byte per member, and the key of their further bits."""
        raw = self.at(day, which).bit_generator.random_raw(1 + (n + 7) // 8)
        return raw[1:].view(np.uint8)[:n], raw[0]

    def bernoulli(self, day: int, p256: np.ndarray, out: np.ndarray, d: np.ndarray,
                  edge: np.ndarray) -> np.ndarray:
        """``U < p`` for each member into the bool array ``out``, given ``p256 = 256 p``
        (``d``: float32 scratch of the same length, ``edge`` bool). ``256 p - h``
        decides unless it lies in (0, 1); scaled by 256 (exact in floating point), the byte
        needs no conversion pass. A mask, not indices: listing the ~8 % who speak costs
        more than the draw (np.nonzero mispredicts on a random mask), listing 1 in 256
        does not."""
        h, key = self._bytes(day, SPEAK, len(out))
        np.subtract(p256, h, out=d)
        np.greater(d, 0, out=out)
        np.less(d, 1, out=edge)
        edge &= out
        idx = np.flatnonzero(edge)
        if len(idx):
            out[idx] = fine(key, idx) < d[idx]
        return out

    def below(self, day: int, thr256: np.ndarray,
              mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The members whose U is below a chance, given ``thr256``, 256 times the chance,
        and their U (``mask``: bool scratch of the same length). Those whose byte is at or
        above ``thr256`` are out; the others get their 24 further bits."""
        h, key = self._bytes(day, EVENTS, len(mask))
        cand = np.flatnonzero(np.less(h, thr256, out=mask))
        uc = h[cand] + fine(key, cand)  # 256 U
        keep = uc < thr256[cand]
        return cand[keep], uc[keep] * STEP


def fine(key: np.uint64, idx: np.ndarray) -> np.ndarray:
    """A uniform in [0, 1) with 24 bits for each index of ``idx``: the top 24 bits of the
    SplitMix64 output function of ``index * golden + key`` (uint64 arithmetic wraps). Its
    last step, ``z ^= z >> 31``, leaves the top 24 bits as they are, so it is not done."""
    z = np.multiply(idx, _GOLDEN, dtype=np.uint64, casting="unsafe")
    z += key
    z ^= z >> 30
    z *= _MIX1
    z ^= z >> 27
    z *= _MIX2
    z >>= 40
    return np.multiply(z, F32(2.0 ** -24), dtype=F32)
