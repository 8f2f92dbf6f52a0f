"""A whole column per customer that keeps the hard maxima, guided by prices.

At near-optimal prices most customers have one clearly best column, but many are
tied between columns that differ only in which capacity they use (a call on
Monday or on Tuesday, at equal prices). Taking every customer's best column then
piles the tied ones on whichever row sorts first. Going through customers in the
order of what they lose per priced unit if squeezed out, each takes its best
column that still fits: the valuable ones get what the prices say, the tied ones
spread over the rows with room left.

A customer may also hold a fallback column (its plan of the previous phase: all
fallbacks together meet every maximum and every higher tier's floor). Its room is
reserved from the start and it only moves to columns that give every floor at
least as much, so the fit keeps the maxima and the floors at once.
"""

from __future__ import annotations

import numba
import numpy as np

from optimiser.arrays import ptr_of


def fit_by_price(customer: np.ndarray, score: np.ndarray, prices: np.ndarray,
                 usage: np.ndarray, upper: np.ndarray,
                 preferred: np.ndarray | None = None,
                 fallback: np.ndarray | None = None,
                 allowed: np.ndarray | None = None) -> np.ndarray:
    """Per customer (0..n-1, n = len(fallback) or max(customer) + 1), the column it takes,
    or -1 if it has none.

    `customer` and `score` are per column, `usage` (columns x rows) what each column uses
    of rows capped at `upper`, `prices` those rows' prices. Customers go in the order of
    what being squeezed out costs them per unit of priced capacity: the gap between their
    best column and their best one that uses no capped row, over the priced use of their
    best column. Each takes the first column that keeps every row within its cap among
    its `preferred` one (say the master LP's choice, where given and not -1), then its
    columns by score. A customer with a `fallback` column (not -1) tries only columns
    `allowed` (a mask per column) and keeps its fallback when none fits; one without
    takes the column that breaks the caps least.
    """
    n_customers = len(fallback) if fallback is not None else int(customer.max(initial=-1)) + 1
    by_customer, ptr = _by_score(customer, score, n_customers)
    counts = np.diff(ptr)
    best = np.full(n_customers, -1, dtype=np.int64)
    has = counts > 0
    best[has] = by_customer[ptr[:-1][has]]
    if preferred is not None:
        best = np.where(preferred >= 0, preferred, best)
    free_of_caps = ~(usage > 0).any(axis=1)
    squeezed = np.full(n_customers, -np.inf)
    np.maximum.at(squeezed, customer[free_of_caps], score[free_of_caps])
    loss = np.where(has, score[np.maximum(best, 0)] - squeezed, 0.0)
    priced = np.where(has, usage[np.maximum(best, 0)] @ prices, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        worth = np.where(priced > 0, loss / priced, np.inf)
    order = np.lexsort((np.arange(n_customers), -worth))
    if fallback is None:
        fallback = np.full(n_customers, -1, dtype=np.int64)
    if allowed is None:
        allowed = np.ones(len(score), dtype=bool)
    return _fit(order, ptr, by_customer, best, np.asarray(fallback, dtype=np.int64), allowed,
                np.ascontiguousarray(usage, dtype=np.float64),
                np.ascontiguousarray(upper, dtype=np.float64))


def _by_score(customer: np.ndarray, score: np.ndarray,
              n_customers: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns grouped by customer, best score first (ties by column), and the groups'
    offsets: customer c's columns are at [ptr[c], ptr[c + 1])."""
    order = np.lexsort((np.arange(len(score)), -score, customer))
    return order, ptr_of(np.bincount(customer, minlength=n_customers))


@numba.njit(cache=True)
def _fit(order: np.ndarray, ptr: np.ndarray, columns: np.ndarray, first: np.ndarray,
         fallback: np.ndarray, allowed: np.ndarray, usage: np.ndarray,
         upper: np.ndarray) -> np.ndarray:
    n_rows = usage.shape[1]
    used = np.zeros(n_rows)
    for c in range(len(fallback)):  # the fallbacks' room is theirs until they move
        if fallback[c] >= 0:
            for r in range(n_rows):
                used[r] += usage[fallback[c], r]
    chosen = np.full(len(ptr) - 1, -1, dtype=np.int64)
    for c in order:
        start, end = ptr[c], ptr[c + 1]
        if start == end:
            continue
        held = fallback[c]
        if held >= 0:
            for r in range(n_rows):
                used[r] -= usage[held, r]
        pick, least = held, np.inf
        for k in range(start - 1, end):
            column = first[c] if k < start else columns[k]
            if column < 0 or (held >= 0 and not allowed[column]):
                continue
            broken = 0.0
            for r in range(n_rows):
                over = used[r] + usage[column, r] - upper[r]
                if usage[column, r] > 0 and over > 1e-9:
                    broken += over / max(upper[r], 1.0)
            if broken == 0.0:
                pick = column
                break
            if held < 0 and broken < least:
                pick, least = column, broken
        chosen[c] = pick
        for r in range(n_rows):
            used[r] += usage[pick, r]
    return chosen


def give_back(customer: np.ndarray, score: np.ndarray, prices: np.ndarray,
              usage: np.ndarray, upper: np.ndarray, floors: np.ndarray,
              chosen: np.ndarray, room: np.ndarray, minimum_usage: np.ndarray | None = None,
              minimum: np.ndarray | None = None) -> np.ndarray:
    """`chosen` (a column per customer, -1 for none) with customers moved off rows over
    their caps until none is: least worth per priced unit first, each to its best-scoring
    column that lessens what is over, breaks no other cap, takes from each floor
    (columns x floors) no more than its `room` left (total less its least), and takes no
    row with a `minimum` (columns x minima: `minimum_usage`) below it or further below.
    What a rounded LP leaves over a cap is a few customers' worth; moving them costs less
    than refitting everyone. The minima matter: a campaign's soft minimum volume charges
    each unit short to a higher tier's floor, and one customer given back one send under
    it left tier 1's floor 5e7 short at 10k (no move mended that)."""
    if minimum_usage is None or minimum is None:
        minimum_usage, minimum = np.zeros((len(score), 0)), np.zeros(0)
    chosen = np.asarray(chosen, dtype=np.int64).copy()
    n_customers = len(chosen)
    by_customer, ptr = _by_score(customer, score, n_customers)
    held = chosen >= 0
    priced = np.zeros(n_customers)
    priced[held] = usage[chosen[held]] @ prices
    worth = np.full(n_customers, np.inf)
    worth[held & (priced > 0)] = score[chosen[held & (priced > 0)]] / priced[held & (priced > 0)]
    order = np.lexsort((np.arange(n_customers), worth))
    return _give_back(order, ptr, by_customer, chosen,
                      np.ascontiguousarray(usage, dtype=np.float64),
                      np.ascontiguousarray(upper, dtype=np.float64),
                      np.ascontiguousarray(floors, dtype=np.float64),
                      np.array(room, dtype=np.float64),
                      np.ascontiguousarray(minimum_usage, dtype=np.float64),
                      np.ascontiguousarray(minimum, dtype=np.float64))


@numba.njit(cache=True)
def _give_back(order: np.ndarray, ptr: np.ndarray, columns: np.ndarray, chosen: np.ndarray,
               usage: np.ndarray, upper: np.ndarray, floors: np.ndarray,
               room: np.ndarray, minimum_usage: np.ndarray, minimum: np.ndarray
               ) -> np.ndarray:
    n_rows, n_floors, n_minima = usage.shape[1], floors.shape[1], minimum_usage.shape[1]
    used = np.zeros(n_rows)
    reached = np.zeros(n_minima)
    for c in range(len(chosen)):
        if chosen[c] >= 0:
            for r in range(n_rows):
                used[r] += usage[chosen[c], r]
            for r in range(n_minima):
                reached[r] += minimum_usage[chosen[c], r]
    over = 0.0
    for r in range(n_rows):
        over += max(used[r] - upper[r], 0.0) / max(upper[r], 1.0)
    for c in order:
        if over <= 1e-12:
            break
        now = chosen[c]
        if now < 0:
            continue
        touches = False
        for r in range(n_rows):
            if usage[now, r] > 0 and used[r] > upper[r] + 1e-9:
                touches = True
        if not touches:
            continue
        for k in range(ptr[c], ptr[c + 1]):
            column = columns[k]
            if column == now:
                continue
            keeps = True
            for j in range(n_floors):
                if floors[column, j] < floors[now, j] - max(room[j], 0.0) - 1e-9:
                    keeps = False
            for r in range(n_minima):
                u = reached[r] - minimum_usage[now, r] + minimum_usage[column, r]
                if u < min(minimum[r], reached[r]) - 1e-9:
                    keeps = False
            if not keeps:
                continue
            after, worse = 0.0, False
            for r in range(n_rows):
                u = used[r] - usage[now, r] + usage[column, r]
                if u > max(upper[r], used[r]) + 1e-9:
                    worse = True
                after += max(u - upper[r], 0.0) / max(upper[r], 1.0)
            if worse or after >= over - 1e-12:
                continue
            for r in range(n_rows):
                used[r] += usage[column, r] - usage[now, r]
            for r in range(n_minima):
                reached[r] += minimum_usage[column, r] - minimum_usage[now, r]
            for j in range(n_floors):
                room[j] += floors[column, j] - floors[now, j]
            chosen[c], over = column, after
            break
    return chosen
