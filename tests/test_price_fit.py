"""The price-guided fit and the small repairs the master uses after rounding."""

from __future__ import annotations

import itertools

import numpy as np

from optimiser.master import Columns, Limit, holds, revert_until_holds, totals
from optimiser.price_fit import fit_by_price, give_back


def _tied_days(n_customers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every customer: a call on day 0, the same call on day 1 (equal score), or nothing."""
    customer = np.repeat(np.arange(n_customers), 3)
    score = np.tile([5.0, 5.0, 0.0], n_customers)
    usage = np.tile(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), (n_customers, 1))
    return customer, score, usage


def test_tied_customers_spread_over_the_days_with_room() -> None:
    customer, score, usage = _tied_days(10)
    chosen = fit_by_price(customer, score, np.ones(2), usage, np.array([4.0, 4.0]))
    used = usage[chosen].sum(axis=0)
    assert used.tolist() == [4.0, 4.0]  # argmax would put all ten on day 0
    assert int((score[chosen] > 0).sum()) == 8


def test_preferred_column_is_kept_when_it_fits_and_fallback_when_nothing_does() -> None:
    customer, score, usage = _tied_days(3)
    preferred = np.array([1, 4, -1])  # customer 0 on day 1, customer 1 on day 1
    chosen = fit_by_price(customer, score, np.ones(2), usage, np.array([0.0, 2.0]),
                          preferred=preferred)
    assert chosen[0] == 1 and chosen[1] == 4
    assert chosen[2] == 8  # day 0 has no room and day 1 is full: nothing

    fallback = np.array([2, 5, 8])  # all on nothing; customer 0 may only keep it
    allowed = np.ones(len(score), dtype=bool)
    allowed[[0, 1]] = False
    chosen = fit_by_price(customer, score, np.ones(2), usage, np.array([5.0, 5.0]),
                          fallback=fallback, allowed=allowed)
    assert chosen[0] == 2 and score[chosen[1]] == 5.0 and score[chosen[2]] == 5.0


def test_give_back_moves_the_least_worth_off_a_full_row() -> None:
    customer, score, usage = _tied_days(3)
    score = score * np.repeat([1.0, 2.0, 3.0], 3)  # customer 0 is worth least
    chosen = np.array([0, 3, 6])  # all on day 0, which holds two
    floors = np.zeros((len(score), 0))
    out = give_back(customer, score, np.ones(2), usage, np.array([2.0, 2.0]), floors, chosen,
                    np.zeros(0))
    assert out.tolist() == [1, 3, 6]  # customer 0 moved to day 1, the rest untouched
    assert (usage[out].sum(axis=0) <= 2.0).all()


def test_revert_until_holds_sends_back_the_fewest_customers() -> None:
    cols = Columns(4, 0, 1)
    customer = np.repeat(np.arange(4), 2)
    value = np.array([0.0, 3.0, 0.0, 5.0, 0.0, 1.0, 0.0, 4.0])
    usage = np.array([[0.0], [1.0]] * 4)
    cols.add(customer, value, np.zeros((8, 0)), usage, np.zeros(9, dtype=np.int64),
             np.zeros(0, dtype=np.int64))
    limits = [Limit(0, None, 2.0, False)]
    previous = np.array([0, 2, 4, 6])  # nobody sends: holds
    chosen = np.array([1, 3, 5, 7])  # everybody sends: 4 > 2
    out = revert_until_holds(cols, chosen, limits, np.zeros(0), previous)
    assert holds(cols, out, limits, np.zeros(0))
    best = max((totals(cols, np.array(c)).value, c)
               for c in itertools.product(*[(2 * k, 2 * k + 1) for k in range(4)])
               if holds(cols, np.array(c), limits, np.zeros(0)))
    assert totals(cols, out).value == best[0] == 9.0  # the two worth least went back
