"""Compiled scans over a block's rows: greedy fill and "which row blocks this send".

`optimiser.reasons` answers both questions for every unsent option of a plan:
millions of times at scale, each a few array reads. In Python each answer
costs tens of microseconds; compiled it costs well under one. The scans read
the CSR index of `reasons.BlockIndex` and the activities of a `RowState`,
whose `breaks_a_row` and `add` call them too: one rule, in one place. Sending
an option adds its own coefficients and those of every indicator it raises
from 0; a row blocks when that change pushes it over its upper bound (or, for
a negative change, under its lower bound).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def first_blocking(option, value, activity, var_ptr, var_rows, var_coefs, ind_ptr, ind_of,
                    lb, ub, counted, delta, touched):  # pragma: no cover - compiled
    """Smallest id of a counted row that sending `option` would break, or -1."""
    n_touched = 0
    for step in range(-1, ind_ptr[option + 1] - ind_ptr[option]):
        if step < 0:
            var = option
        else:
            var = ind_of[ind_ptr[option] + step]
            if value[var] != 0:
                continue
        for at in range(var_ptr[var], var_ptr[var + 1]):
            row = var_rows[at]
            if delta[row] == 0:
                touched[n_touched] = row
                n_touched += 1
            delta[row] += var_coefs[at]
    best = -1
    for i in range(n_touched):
        row = touched[i]
        change = delta[row]
        delta[row] = 0
        if not counted[row] or (best >= 0 and row >= best):
            continue
        after = activity[row] + change
        if (change > 0 and after > ub[row]) or (change < 0 and after < lb[row]):
            best = row
    return best


@numba.njit(cache=True)
def send(option, value, activity, var_ptr, var_rows, var_coefs, ind_ptr, ind_of):
    """Mark `option` sent: its rows and those of the indicators it raises."""
    for step in range(-1, ind_ptr[option + 1] - ind_ptr[option]):
        var = option if step < 0 else ind_of[ind_ptr[option] + step]
        if step >= 0 and value[var] != 0:
            continue
        value[var] = 1
        for at in range(var_ptr[var], var_ptr[var + 1]):
            activity[var_rows[at]] += var_coefs[at]


@numba.njit(cache=True)
def fill_scan(order, cand, cand_sent, value, activity, var_ptr, var_rows, var_coefs, ind_ptr,
              ind_of, lb, ub):  # pragma: no cover - compiled
    """Send, in `order`, every option whose candidate is unsent and that breaks no row.

    Updates value, activity and cand_sent in place; returns the options added.
    """
    counted = np.ones(len(ub), dtype=np.bool_)
    delta = np.zeros(len(ub), dtype=np.int64)
    touched = np.empty(len(ub), dtype=np.int64)
    added = np.empty(len(order), dtype=np.int64)
    n_added = 0
    for option in order:
        if cand_sent[cand[option]]:
            continue
        if first_blocking(option, value, activity, var_ptr, var_rows, var_coefs, ind_ptr,
                           ind_of, lb, ub, counted, delta, touched) >= 0:
            continue
        send(option, value, activity, var_ptr, var_rows, var_coefs, ind_ptr, ind_of)
        cand_sent[cand[option]] = True
        added[n_added] = option
        n_added += 1
    return added[:n_added]


@numba.njit(cache=True)
def blocking_scan(order, cand, decided, value, activity, var_ptr, var_rows, var_coefs,
                  ind_ptr, ind_of, lb, ub, counted, paying):  # pragma: no cover - compiled
    """For each undecided candidate, the first option (in `order`) that some counted row
    blocks gives that row; an option no row blocks and that does not pay marks it -2.

    `decided[c]` starts True for sent candidates; returns row (>= 0), -2, or -1 (no option
    of the candidate was blocked or unpaying: nothing to say) per candidate.
    """
    out = np.full(len(decided), -1, dtype=np.int64)
    delta = np.zeros(len(ub), dtype=np.int64)
    touched = np.empty(len(ub), dtype=np.int64)
    for option in order:
        c = cand[option]
        if decided[c]:
            continue
        row = first_blocking(option, value, activity, var_ptr, var_rows, var_coefs, ind_ptr,
                              ind_of, lb, ub, counted, delta, touched)
        if row >= 0:
            out[c] = row
            decided[c] = True
        elif not paying[option]:
            out[c] = -2
            decided[c] = True
    return out


def as_int64(*arrays: np.ndarray) -> list[np.ndarray]:
    """The kernels take contiguous int64 arrays only (one compiled signature)."""
    return [np.ascontiguousarray(a, dtype=np.int64) for a in arrays]
