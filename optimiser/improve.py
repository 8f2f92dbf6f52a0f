"""The last step of settling a phase's plan: every single move that gains and keeps every
limit, best gain first.

After rounding and repairs, some customers sit on a column worse than another of theirs
that still fits (a capacity freed by a repair, a floor with room again). Trying each
candidate move means summing a dozen rows and checking each limit: a few microseconds of
arithmetic, but a Python loop over 100,000 candidates paid 116,000 calls of
`master.violation` for it (8.6 s of the 100k plan). The loop is compiled here; it makes
the same decisions in the same order, with the same floating-point sums.
"""

from __future__ import annotations

import numba
import numpy as np

from optimiser.master import IMPROVE_CANDIDATES, Columns, Limit, totals, units_of


def improve(columns: Columns, chosen: np.ndarray, limits: list[Limit],
            floor_least: np.ndarray) -> np.ndarray:
    """Take, best gain first, every move to another column that gains value (less the
    phase's own soft penalties it adds) and keeps every hard limit and floor (the
    assignment given keeps them)."""
    chosen = chosen.copy()
    units = units_of(columns, limits, floor_least)
    gain = columns.value - columns.value[chosen[columns.customer]]
    candidates = np.flatnonzero(gain > 0)
    candidates = candidates[np.argsort(-gain[candidates], kind="stable")][:IMPROVE_CANDIDATES]
    now = totals(columns, chosen)
    is_max = np.array([lim.ub is not None for lim in limits], dtype=bool)
    bound = np.array([lim.ub if lim.ub is not None else (lim.lb or 0.0) for lim in limits],
                     dtype=float)
    _moves(candidates.astype(np.int64), columns.customer, chosen, columns.value,
           np.ascontiguousarray(columns.usage, dtype=float),
           np.ascontiguousarray(columns.floors, dtype=float).reshape(len(columns),
                                                                      columns.n_floors),
           now.usage.astype(float), np.asarray(now.floors, dtype=float).reshape(-1),
           np.array([lim.spec for lim in limits], dtype=np.int64), is_max, bound,
           np.array([lim.soft for lim in limits], dtype=bool),
           np.array([lim.rate for lim in limits], dtype=float),
           np.array([-1 if lim.floor is None else lim.floor for lim in limits], dtype=np.int64),
           np.asarray(floor_least, dtype=float).reshape(-1), units.astype(float))
    return chosen


@numba.njit(cache=True)
def _moves(candidates: np.ndarray, customer: np.ndarray, chosen: np.ndarray,
           value: np.ndarray, usage: np.ndarray, floors: np.ndarray, now_usage: np.ndarray,
           now_floors: np.ndarray, spec: np.ndarray, is_max: np.ndarray, bound: np.ndarray,
           soft: np.ndarray, rate: np.ndarray, floor_of: np.ndarray,
           floor_least: np.ndarray, units: np.ndarray) -> None:
    """Apply the moves to `chosen` in place (`now_usage`, `now_floors` follow them)."""
    n_limits, n_floors = len(spec), len(floor_least)
    trial_usage = np.empty_like(now_usage)
    trial_floors = np.empty_like(now_floors)
    charged = np.empty(n_floors)
    own_now = _own_penalty(now_usage, spec, is_max, bound, soft, rate, floor_of)
    for column in candidates:
        who = customer[column]
        was = chosen[who]
        if was == column:
            continue
        for s in range(len(now_usage)):
            trial_usage[s] = now_usage[s] + usage[column, s] - usage[was, s]
        for j in range(n_floors):
            trial_floors[j] = now_floors[j] + floors[column, j] - floors[was, j]
        broken = False
        charged[:] = 0.0
        for r in range(n_limits):
            excess = _excess(trial_usage[spec[r]], is_max[r], bound[r])
            if soft[r]:
                if floor_of[r] >= 0:
                    charged[floor_of[r]] += rate[r] * excess
            elif excess / units[r] > 0:
                broken = True
        for j in range(n_floors):
            short = max(floor_least[j] - (trial_floors[j] - charged[j]), 0.0)
            if short / units[n_limits + j] > 0:
                broken = True
        if broken:
            continue
        own = _own_penalty(trial_usage, spec, is_max, bound, soft, rate, floor_of)
        if value[column] - value[was] - (own - own_now) <= 0:
            continue
        chosen[who] = column
        now_usage[:] = trial_usage
        now_floors[:] = trial_floors
        own_now = own


@numba.njit(cache=True)
def _excess(used: float, is_max: bool, bound: float) -> float:
    return max(used - bound, 0.0) if is_max else max(bound - used, 0.0)


@numba.njit(cache=True)
def _own_penalty(used: np.ndarray, spec: np.ndarray, is_max: np.ndarray, bound: np.ndarray,
                 soft: np.ndarray, rate: np.ndarray, floor_of: np.ndarray) -> float:
    """What the phase's own soft limits charge at this usage (master.penalties' first)."""
    own = 0.0
    for r in range(len(spec)):
        if soft[r] and floor_of[r] < 0:
            own += rate[r] * _excess(used[spec[r]], is_max[r], bound[r])
    return own
