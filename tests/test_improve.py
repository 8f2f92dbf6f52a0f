"""The compiled move search that ends each phase's settling (optimiser/improve.py)."""

from __future__ import annotations

import itertools

import numpy as np

from optimiser.improve import improve
from optimiser.master import Columns, Limit, holds, penalties, totals, units_of, violation


def _columns(rng: np.random.Generator, n_customers: int, n_specs: int,
             n_floors: int) -> Columns:
    per = rng.integers(1, 5, size=n_customers)
    customer = np.repeat(np.arange(n_customers), per)
    n = len(customer)
    cols = Columns(n_customers, n_floors, n_specs)
    cols.add(customer, rng.integers(0, 20, size=n).astype(float),
             rng.integers(0, 6, size=(n, n_floors)).astype(float),
             rng.integers(0, 3, size=(n, n_specs)).astype(float),
             np.arange(n + 1, dtype=np.int64), np.arange(n, dtype=np.int64))
    return cols


def _reference(columns: Columns, chosen: np.ndarray, limits: list[Limit],
               least: np.ndarray) -> np.ndarray:
    """The move search written plainly: the loop the compiled one replaced."""
    chosen = chosen.copy()
    units = units_of(columns, limits, least)
    gain = columns.value - columns.value[chosen[columns.customer]]
    candidates = np.flatnonzero(gain > 0)
    candidates = candidates[np.argsort(-gain[candidates], kind="stable")]
    now = totals(columns, chosen)
    own_now = penalties(limits, now.usage, columns.n_floors)[0]
    for column in candidates.tolist():
        customer = int(columns.customer[column])
        was = int(chosen[customer])
        if was == column:
            continue
        usage = now.usage + columns.usage[column] - columns.usage[was]
        floors = now.floors + columns.floors[column] - columns.floors[was]
        if (violation(limits, least, usage, floors, units) > 0).any():
            continue
        own = penalties(limits, usage, columns.n_floors)[0]
        if columns.value[column] - columns.value[was] - (own - own_now) <= 0:
            continue
        chosen[customer] = column
        now.usage, now.floors, own_now = usage, floors, own
    return chosen


def test_moves_match_the_plain_loop_on_random_assignments() -> None:
    rng = np.random.default_rng(7)
    moved = 0
    for _ in range(40):
        cols = _columns(rng, 12, 3, 1)
        first = np.searchsorted(cols.customer, np.arange(cols.n_customers))  # first column
        now = totals(cols, first)
        limits = [Limit(0, None, float(now.usage[0] + 2), False),  # a cap with a little room
                  Limit(1, float(now.usage[1] - 1), None, False),  # a minimum just met
                  Limit(2, None, float(now.usage[2]), True, rate=3.0),  # a soft cap, own
                  Limit(2, None, float(now.usage[2] + 1), True, rate=0.5, floor=0)]
        least = now.floors - 2.0
        out = improve(cols, first, limits, least)
        assert out.tolist() == _reference(cols, first, limits, least).tolist()
        assert holds(cols, out, limits, least)
        moved += int((out != first).sum())
    assert moved > 0  # the instances do leave moves to take


def test_best_move_per_customer_on_a_tiny_instance_is_the_brute_force_optimum() -> None:
    # two customers share a cap of one send: the move search must give it to the customer
    # who gains most (value 9 over 5), which is also the best assignment by brute force
    customer = np.array([0, 0, 1, 1])
    cols = Columns(2, 0, 1)
    cols.add(customer, np.array([0.0, 5.0, 0.0, 9.0]), np.zeros((4, 0)),
             np.array([[0.0], [1.0], [0.0], [1.0]]), np.arange(5, dtype=np.int64),
             np.arange(4, dtype=np.int64))
    limits = [Limit(0, None, 1.0, False)]
    out = improve(cols, np.array([0, 2]), limits, np.zeros(0))
    best = max((pick for pick in itertools.product([0, 1], [2, 3])
                if holds(cols, np.array(pick), limits, np.zeros(0))),
               key=lambda pick: cols.value[list(pick)].sum())
    assert out.tolist() == list(best) == [0, 3]
