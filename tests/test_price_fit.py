"""The price-guided fit and the small repairs the master uses after rounding."""

from __future__ import annotations

import itertools

import numpy as np

from optimiser.column_repair import repair
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


def test_give_back_keeps_a_minimum_from_falling_short() -> None:
    # a day-0 call counts towards a campaign minimum of three; day 0 holds two: customer 0
    # (worth least) may not move to nothing, which mends the day but leaves the minimum
    # short, so customer 1 goes to day 1 instead (its other day-0 send keeps the minimum)
    customer = np.repeat(np.arange(3), 3)
    score = np.array([1.0, 0.5, 0.0, 2.0, 1.0, 0.0, 3.0, 1.0, 0.0])
    usage = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0],
                      [1.0, 0.0], [0.0, 1.0], [0.0, 0.0],
                      [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    counted = np.array([[1.0], [0.0], [0.0], [1.0], [1.0], [0.0], [1.0], [1.0], [0.0]])
    chosen = np.array([0, 3, 6])  # three on day 0, which holds two
    floors = np.zeros((len(score), 0))
    unguarded = give_back(customer, score, np.ones(2), usage, np.array([2.0, 2.0]), floors,
                          chosen, np.zeros(0))
    assert counted[unguarded].sum() < 3.0  # without the minimum: customer 0 to its day 1
    out = give_back(customer, score, np.ones(2), usage, np.array([2.0, 2.0]), floors, chosen,
                    np.zeros(0), counted, np.array([3.0]))
    assert out.tolist() == [0, 4, 6]
    assert (usage[out].sum(axis=0) <= 2.0).all() and counted[out].sum() >= 3.0


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


def _two_floor_trade() -> tuple[Columns, list[Limit], np.ndarray, np.ndarray, np.ndarray]:
    """Three customers, two floors and one day's capacity of two. Customer 0 moved to a
    plan that leaves floor 0 short; sending it back breaks floor 1 and the day, so a
    fix needs customer 1 (or 2) to move too: no single move mends it."""
    cols = Columns(3, 2, 1)
    customer = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    value = np.array([0.0, 6.0, 2.0, 5.0, 0.0, 3.0, 4.0, 1.0])
    floors = np.array([[3, 0], [0, 4], [0, 0], [0, 0], [1, 6], [0, 2], [0, 0], [1, 1]],
                      dtype=float)
    usage = np.array([[1], [0], [0], [1], [0], [0], [1], [0]], dtype=float)
    cols.add(customer, value, floors, usage, np.zeros(9, dtype=np.int64),
             np.zeros(0, dtype=np.int64))
    limits = [Limit(0, None, 2.0, False)]
    least = np.array([3.0, 4.0])
    previous = np.array([0, 4, 7])  # floors 4 and 7, one send: holds
    chosen = np.array([1, 3, 6])  # floors 0 and 4, two sends: floor 0 short
    return cols, limits, least, previous, chosen


def test_column_repair_finds_the_best_plan_a_two_move_fix_needs() -> None:
    cols, limits, least, previous, chosen = _two_floor_trade()
    assert not holds(cols, chosen, limits, least)
    out = repair(cols, chosen, limits, least, np.arange(3), chosen, seed=0)
    assert out is not None and holds(cols, out, limits, least)
    best = max(totals(cols, np.array(c)).value
               for c in itertools.product((0, 1, 2), (3, 4, 5), (6, 7))
               if holds(cols, np.array(c), limits, least))
    assert totals(cols, out).value == best == 4.0
    assert totals(cols, out).value > totals(cols, previous).value  # better than going back


def test_column_repair_keeps_customers_not_choosing_and_says_when_it_cannot() -> None:
    cols, limits, least, previous, chosen = _two_floor_trade()
    out = repair(cols, chosen, limits, least, np.array([0]), chosen, seed=0)
    # customer 0 alone: back to column 0 breaks floor 1, column 2 leaves floor 0 short
    assert out is None
    out = repair(cols, chosen, limits, least, np.array([0, 1]), previous, seed=0)
    assert out is not None and holds(cols, out, limits, least) and out[2] == chosen[2]


def test_best_column_per_customer_matches_a_sort_with_ties() -> None:
    rng = np.random.default_rng(7)
    n_customers, n_columns = 50, 400
    cols = Columns(n_customers + 1, 0, 1)  # the last customer has no column
    customer = rng.integers(0, n_customers, n_columns)
    cols.add(customer, rng.integers(0, 5, n_columns).astype(float), np.zeros((n_columns, 0)),
             np.arange(n_columns, dtype=float)[:, None], np.zeros(n_columns + 1, dtype=np.int64),
             np.zeros(0, dtype=np.int64))
    score = rng.integers(0, 4, len(cols)).astype(float)  # many ties
    best, margin = cols.best(score)
    for c in range(n_customers + 1):
        mine = np.flatnonzero(cols.customer == c)
        if len(mine) == 0:
            assert best[c] == -1 and margin[c] == np.inf
            continue
        ranked = mine[np.lexsort((mine, -score[mine]))]
        assert best[c] == ranked[0]  # highest score, lowest column among equals
        expected = score[ranked[0]] - score[ranked[1]] if len(mine) > 1 else np.inf
        assert margin[c] == expected
