"""The engine's byte-at-a-time draws are exact Bernoulli trials and uniforms, and a member's
draw depends on the day and its place only (common random numbers across forecasts)."""

from __future__ import annotations

import numpy as np

from sopctl.simulate.draws import JOINS, STEP, Draws

F32 = np.float32


def _draws(seed: int = 5) -> Draws:
    return Draws(np.random.Generator(np.random.PCG64(seed)))


def _bernoulli(d: Draws, day: int, p: np.ndarray) -> np.ndarray:
    n = len(p)
    out, dd, edge = np.empty(n, bool), np.empty(n, F32), np.empty(n, bool)
    return d.bernoulli(day, 256 * p.astype(F32), out, dd, edge).copy()


def test_bernoulli_hits_its_chance_also_inside_a_byte() -> None:
    d = _draws()
    # chances on, just off and between the bytes' interval bounds, tiny, certain, none
    chances = [0.0, 1e-5, 1 / 256, 1 / 256 + 1e-4, 0.0123, 0.5 - 1e-4, 0.5, 0.73, 1.0, 1.5]
    n = 400_000
    for c in chances:
        hits = sum(int(_bernoulli(d, day, np.full(n, c)).sum()) for day in range(5))
        trials, q = 5 * n, min(c, 1.0)
        sd = max(np.sqrt(trials * q * (1 - q)), 1.0)
        assert abs(hits - trials * q) <= 5 * sd, (c, hits, trials * q)


def test_below_finds_candidates_and_their_uniform() -> None:
    d = _draws()
    rng = np.random.default_rng(1)
    thr = (rng.random(300_000) * 0.04).astype(F32)
    thr[:1000] = 0  # the departed: never a candidate
    counts, ratios = 0, []
    for day in range(6):
        cand, uc = d.below(day, 256 * thr, np.empty(len(thr), bool))
        assert (cand >= 1000).all() and (uc < thr[cand]).all() and (uc >= 0).all()
        counts += len(cand)
        ratios.append(uc / thr[cand])
    want = 6 * float(thr.sum(dtype=np.float64))
    assert abs(counts - want) <= 5 * np.sqrt(want)
    # given that it is below thr, U is uniform below thr: U / thr is uniform on [0, 1)
    r = np.concatenate(ratios)
    assert abs(r.mean() - 0.5) < 0.01 and abs((r < 0.25).mean() - 0.25) < 0.01


def test_a_members_draw_depends_on_day_and_place_only() -> None:
    rng = np.random.default_rng(2)
    p = (rng.random(50_000) * 0.2).astype(F32)
    longer = np.concatenate([p, (rng.random(7_000) * 0.2).astype(F32)])
    a, b = _draws(9), _draws(9)
    b.at(3, JOINS).poisson(50.0, 40)  # other purposes consume; the day's bytes do not move
    assert (_bernoulli(a, 3, p) == _bernoulli(b, 3, longer)[: len(p)]).all()
    # chances changed for some members leave the others' outcomes as they were
    q = p.copy()
    q[::10] += STEP
    same = np.ones(len(p), bool)
    same[::10] = False
    assert (_bernoulli(a, 4, p)[same] == _bernoulli(b, 4, q)[same]).all()
    # an edit that changes who is a candidate keeps everyone else's uniform
    t1, t2 = p * F32(0.1), p * F32(0.1)
    t2[::7] *= 3
    c1, u1 = a.below(5, 256 * t1, np.empty(len(p), bool))
    c2, u2 = b.below(5, 256 * t2, np.empty(len(p), bool))
    both, i1, i2 = np.intersect1d(c1, c2, return_indices=True)
    assert len(both) > 100 and (u1[i1] == u2[i2]).all()
    # and another day draws anew
    assert not (_bernoulli(a, 6, p) == _bernoulli(a, 7, p)).all()
