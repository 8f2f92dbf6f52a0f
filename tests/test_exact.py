"""optimiser/exact.py against an independent brute force on random tiny customers.

The brute force shares no code with the kernel: it enumerates every assignment that sends
each candidate by at most one option, evaluates each indicator as the OR of its members and
every row and floor exactly, and takes the best weight. Random batches cover caps, indicator
rows, mandatory candidates, lower-bounded rows and floors with negative coefficients,
repeated entries, fixings and shuffled option positions; the kernel must agree on status and
value, and its `chosen` must be feasible and attain the value.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pytest

from optimiser.exact import (
    INFEASIBLE,
    LIMIT,
    NO_LB,
    NO_UB,
    OPTIMAL,
    UNSUPPORTED,
    CustomerArrays,
    solve_batch,
)


@dataclass
class Customer:
    """One customer in local numbering; a row entry is (is_indicator, index, coef)."""

    cand: list[int]  # candidate key per option
    weight: list[int]
    fixed: list[int]
    indicators: list[list[int]] = field(default_factory=list)
    rows: list[tuple[list[tuple[bool, int, int]], int, int]] = field(default_factory=list)


def assemble(customers: list[Customer]) -> CustomerArrays:
    """Concatenate customers into the batch layout (options, then indicators, then rows)."""
    n = sum(len(c.cand) for c in customers)
    n_ind_before = np.cumsum([0] + [len(c.indicators) for c in customers])
    opt_ptr, ind_ptr, row_ptr = [0], [0], [0]
    cand, member_ptr, members, entry_ptr, var, coef, lb, ub = [], [0], [], [0], [], [], [], []
    for k, c in enumerate(customers):
        a = opt_ptr[-1]
        cand += c.cand
        for mem in c.indicators:
            members += [a + o for o in mem]
            member_ptr.append(len(members))
        for entries, lo, hi in c.rows:
            for is_ind, i, v in entries:
                var.append(n + n_ind_before[k] + i if is_ind else a + i)
                coef.append(v)
            entry_ptr.append(len(var))
            lb.append(lo)
            ub.append(hi)
        opt_ptr.append(a + len(c.cand))
        ind_ptr.append(ind_ptr[-1] + len(c.indicators))
        row_ptr.append(row_ptr[-1] + len(c.rows))

    def i64(x: list[int]) -> np.ndarray:
        return np.array(x, dtype=np.int64)

    return CustomerArrays(
        i64(opt_ptr), i64(cand), i64(ind_ptr), i64(member_ptr), i64(members), i64(row_ptr),
        i64(entry_ptr), i64(var), i64(coef), i64(lb), i64(ub),
    )  # fmt: skip


def brute_force(c: Customer, floors: list[tuple[np.ndarray, int]]) -> int | None:
    """Best value over every one-option-per-candidate assignment, None if none is feasible."""
    by_cand: dict[int, list[int]] = {}
    for o, key in enumerate(c.cand):
        by_cand.setdefault(key, []).append(o)
    best = None
    for combo in itertools.product(*[[None, *opts] for opts in by_cand.values()]):
        x = np.zeros(len(c.cand), dtype=np.int64)
        x[[o for o in combo if o is not None]] = 1
        if violates(c, x, floors):
            continue
        value = int(np.dot(c.weight, x))
        best = value if best is None else max(best, value)
    return best


def violates(c: Customer, x: np.ndarray, floors: list[tuple[np.ndarray, int]]) -> bool:
    """True when assignment x breaks a fixing, a row (indicators as ORs) or a floor."""
    if any((f == 0 and xo) or (f == 1 and not xo) for f, xo in zip(c.fixed, x, strict=True)):
        return True
    y = [int(any(x[o] for o in mem)) for mem in c.indicators]
    for entries, lo, hi in c.rows:
        act = sum(v * (y[i] if is_ind else x[i]) for is_ind, i, v in entries)
        if act < lo or act > hi:
            return True
    return any(int(np.dot(fc, x)) < flb for fc, flb in floors)


def random_customer(rng: np.random.Generator, max_cands: int = 6, max_opts: int = 3) -> Customer:
    n_opts = rng.integers(1, max_opts + 1, size=rng.integers(1, max_cands + 1))
    keys = rng.choice(1000, size=len(n_opts), replace=False) - 500
    cand = [int(k) for k, no in zip(keys, n_opts, strict=True) for _ in range(no)]
    rng.shuffle(cand)  # a candidate's options need not be adjacent
    m = len(cand)
    fixed = [int(rng.choice([-1, 0, 1], p=[0.85, 0.1, 0.05])) for _ in range(m)]
    c = Customer(cand, [int(w) for w in rng.integers(-5, 21, size=m)], fixed)
    for key in keys:  # the candidate row, mandatory sometimes
        opts = [o for o in range(m) if cand[o] == key]
        c.rows.append(([(False, o, 1) for o in opts], 1 if rng.random() < 0.12 else NO_LB, 1))
    for _ in range(rng.integers(0, 4)):  # caps, mostly unit, sometimes an entry repeated
        subset = list(rng.choice(m, size=rng.integers(1, m + 1), replace=False))
        subset += list(rng.choice(subset, size=int(rng.random() < 0.2)))
        coefs = rng.choice([1, 1, 1, 1, 2], size=len(subset))
        entries = [(False, int(o), int(v)) for o, v in zip(subset, coefs, strict=True)]
        c.rows.append((entries, NO_LB, int(rng.integers(0, 4))))
    for _ in range(rng.integers(0, 4)):  # indicators
        c.indicators.append([int(o) for o in rng.choice(m, size=rng.integers(1, 3))])
    q = len(c.indicators)
    for _ in range(rng.integers(0, 3) if q else 0):  # never together, or a mixed cap
        a, b = (int(j) for j in rng.integers(0, q, size=2))
        if rng.random() < 0.6:
            c.rows.append(([(True, a, 1), (True, b, 1)], NO_LB, 1))
        else:
            o = int(rng.integers(0, m))
            c.rows.append(([(True, a, 2), (False, o, 1), (False, o, 1)], NO_LB, 2))
    if rng.random() < 0.3:  # a lower-bounded row over options, possibly with negative coefs
        picked = rng.choice(m, size=rng.integers(1, m + 1), replace=False)
        entries = [(False, int(o), int(rng.integers(-2, 4))) for o in picked]
        hi = NO_UB if any(v < 0 for _, _, v in entries) else int(rng.integers(1, 5))
        c.rows.append((entries, int(rng.integers(0, 4)), hi))
    return c


def random_batch(
    rng: np.random.Generator, size: int, **kw: int
) -> tuple[list[Customer], CustomerArrays, np.ndarray, np.ndarray]:
    customers = [random_customer(rng, **kw) for _ in range(size)]
    arrays = assemble(customers)
    n, n_floor = len(arrays.opt_cand), 2
    floor_coef = rng.integers(-2, 4, size=(n_floor, n)) * (rng.random((n_floor, n)) < 0.6)
    floor_lb = np.where(
        rng.random((n_floor, size)) < 0.25, rng.integers(-1, 4, (n_floor, size)), NO_LB
    )
    return customers, arrays, floor_coef, floor_lb


def weights_fixed(customers: list[Customer]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([w for c in customers for w in c.weight], dtype=np.int64),
        np.array([f for c in customers for f in c.fixed], dtype=np.int64),
    )


def customer_floors(
    arrays: CustomerArrays, k: int, floor_coef: np.ndarray, floor_lb: np.ndarray
) -> list[tuple[np.ndarray, int]]:
    a, b = arrays.opt_ptr[k], arrays.opt_ptr[k + 1]
    return [
        (floor_coef[f, a:b], int(floor_lb[f, k]))
        for f in range(len(floor_lb))
        if floor_lb[f, k] != NO_LB
    ]


def solve_one(c: Customer, **kw: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = assemble([c])
    m = len(c.cand)
    weights, fixed = weights_fixed([c])
    return solve_batch(
        arrays, weights, fixed, np.zeros((0, m)), np.zeros((0, 1)), np.ones(1, bool), **kw
    )


@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    customers, arrays, floor_coef, floor_lb = random_batch(rng, 150)
    weights, fixed = weights_fixed(customers)
    active = np.ones(len(customers), dtype=bool)
    chosen, value, status = solve_batch(arrays, weights, fixed, floor_coef, floor_lb, active)
    seen = set()
    for k, c in enumerate(customers):
        floors = customer_floors(arrays, k, floor_coef, floor_lb)
        expected = brute_force(c, floors)
        x = chosen[arrays.opt_ptr[k] : arrays.opt_ptr[k + 1]].astype(np.int64)
        seen.add(int(status[k]))
        if expected is None:
            assert status[k] == INFEASIBLE, k
            assert not x.any()
        else:
            assert status[k] == OPTIMAL, k
            assert value[k] == expected, k
            assert int(np.dot(c.weight, x)) == expected
            assert not violates(c, x, floors)
            keys = [c.cand[o] for o in np.flatnonzero(x)]
            assert len(keys) == len(set(keys))  # one option per candidate
    assert seen == {OPTIMAL, INFEASIBLE}


def test_cap_heavy_customer_is_solved_by_the_group_bound() -> None:
    rng = np.random.default_rng(7)
    m = 80
    weight = [int(w) for w in rng.integers(1, 1000, size=m)]
    c = Customer([o // 2 for o in range(m)], weight, [-1] * m)
    c.rows = [([(False, o, 1), (False, o + 1, 1)], NO_LB, 1) for o in range(0, m, 2)]
    c.rows.append(([(False, o, 1) for o in range(m)], NO_LB, 3))
    arrays = assemble([c])
    chosen, value, status = solve_batch(
        arrays,
        np.array(weight),
        np.full(m, -1),
        np.zeros((0, m)),
        np.zeros((0, 1)),
        np.ones(1, bool),
    )
    per_cand = sorted((max(weight[o], weight[o + 1]) for o in range(0, m, 2)), reverse=True)
    assert status[0] == OPTIMAL
    assert value[0] == sum(per_cand[:3])
    assert chosen.sum() == 3


def test_nested_caps_are_both_counted_by_the_bound() -> None:
    # At most 3 sends, at most 2 of them marketing (candidates 0-19): only counting both caps
    # for a marketing candidate keeps the bound tight enough for a small node limit.
    rng = np.random.default_rng(8)
    m = 80
    weight = [int(w) for w in rng.integers(900, 1000, size=m)]
    c = Customer([o // 2 for o in range(m)], weight, [-1] * m)
    c.rows = [([(False, o, 1), (False, o + 1, 1)], NO_LB, 1) for o in range(0, m, 2)]
    c.rows.append(([(False, o, 1) for o in range(m)], NO_LB, 3))
    c.rows.append(([(False, o, 1) for o in range(40)], NO_LB, 2))
    chosen, value, status = solve_one(c, node_limit=2_000)
    best = sorted((max(weight[o], weight[o + 1]) for o in range(0, 40, 2)), reverse=True)
    rest = sorted((max(weight[o], weight[o + 1]) for o in range(40, m, 2)), reverse=True)
    assert status[0] == OPTIMAL
    assert value[0] == max(sum(best[:k]) + sum(rest[: 3 - k]) for k in range(3))


def test_crossing_caps_do_not_make_the_bound_greedy_wrong() -> None:
    # Caps a+b <= 1 and a+c <= 1 cross (a is in both). Counting a against both would leave
    # room for neither b nor c, a bound of 10 under w2 (value 10) that wrongly prunes the
    # optimum w2 + b + c = 28 once w1 + a = 21 is the incumbent.
    w1, w2, a, b, c = range(5)
    cust = Customer([0, 0, 1, 2, 3], [11, 10, 10, 9, 9], [-1] * 5)
    cust.rows = [
        ([(False, a, 1), (False, b, 1)], NO_LB, 1),
        ([(False, a, 1), (False, c, 1)], NO_LB, 1),
        ([(False, w1, 1), (False, b, 1)], NO_LB, 1),
        ([(False, w1, 1), (False, c, 1)], NO_LB, 1),
    ]
    chosen, value, status = solve_one(cust)
    assert status[0] == OPTIMAL and value[0] == 28
    assert chosen.tolist() == [False, True, False, True, True]


def test_the_bound_fills_a_cap_with_the_largest_gains() -> None:
    # Under z2 (39) the cap a+b <= 1 admits one of a (20) and b (18): the bound must count a,
    # since 39 + 18 would not beat the incumbent z1 + b = 58 and would hide z2 + a = 59.
    z1, z2, a, b = range(4)
    cust = Customer([0, 0, 1, 2], [40, 39, 20, 18], [-1] * 4)
    cust.rows = [
        ([(False, a, 1), (False, b, 1)], NO_LB, 1),
        ([(False, z1, 1), (False, a, 1)], NO_LB, 1),
    ]
    chosen, value, status = solve_one(cust)
    assert status[0] == OPTIMAL and value[0] == 59
    assert chosen.tolist() == [False, True, True, False]


def test_node_limit_gives_limit() -> None:
    c = Customer([0, 0, 1, 1, 2], [5, 4, 3, 2, 1], [-1] * 5)
    c.rows = [([(False, o, 1) for o in range(5)], NO_LB, 2)]
    assert solve_one(c, node_limit=1)[2][0] == LIMIT
    assert solve_one(c)[2][0] == OPTIMAL


@pytest.mark.parametrize(
    ("entries", "lb", "ub"),
    [
        ([(False, 0, 1), (False, 1, -1)], NO_LB, 0),  # negative coefficient under a cap
        ([(True, 0, 1), (False, 1, 1)], 1, NO_UB),  # indicator in a lower-bounded row
    ],
)
def test_unsound_rows_are_unsupported(
    entries: list[tuple[bool, int, int]], lb: int, ub: int
) -> None:
    c = Customer([0, 1], [1, 1], [-1, -1], indicators=[[0]], rows=[(entries, lb, ub)])
    chosen, value, status = solve_one(c)
    assert status[0] == UNSUPPORTED
    assert not chosen.any() and value[0] == 0


def test_deterministic_and_inactive_skipped() -> None:
    rng = np.random.default_rng(11)
    customers, arrays, floor_coef, floor_lb = random_batch(rng, 200)
    weights, fixed = weights_fixed(customers)
    weights //= 4  # many ties
    active = rng.random(len(customers)) < 0.7
    first = solve_batch(arrays, weights, fixed, floor_coef, floor_lb, active)
    second = solve_batch(arrays, weights, fixed, floor_coef, floor_lb, active)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    chosen, value, status = first
    for k in np.flatnonzero(~active):
        assert status[k] == OPTIMAL and value[k] == 0
        assert not chosen[arrays.opt_ptr[k] : arrays.opt_ptr[k + 1]].any()


def test_two_options_of_one_candidate_fixed_on_is_infeasible() -> None:
    c = Customer([0, 0, 1], [1, 2, 3], [1, 1, -1])
    assert solve_one(c)[2][0] == INFEASIBLE


def test_malformed_arrays_are_rejected() -> None:
    c = Customer([0, 1], [1, 1], [-1, -1], rows=[([(False, 0, 1)], NO_LB, 1)])
    good = assemble([c, c])
    bad = CustomerArrays(**{**good.__dict__, "entry_var": good.entry_var[::-1].copy()})
    with pytest.raises(ValueError, match="another customer"):
        bad.validate()
    good.validate()  # the arrays it was made from pass


def test_indicators_of_another_customer_are_rejected() -> None:
    c = Customer([0, 1], [1, 1], [-1, -1], indicators=[[0, 1]],
                 rows=[([(True, 0, 1)], NO_LB, 1)])
    good = assemble([c, c])
    good.validate()
    # the first customer's row naming the second customer's indicator
    entry = good.entry_var.copy()
    entry[0] += 1
    with pytest.raises(ValueError, match="another customer"):
        CustomerArrays(**{**good.__dict__, "entry_var": entry}).validate()
    # the second customer's indicator holding an option of the first
    members = good.ind_members.copy()
    members[-1] = 0
    with pytest.raises(ValueError, match="not an option of its customer"):
        CustomerArrays(**{**good.__dict__, "ind_members": members}).validate()


def test_a_cap_over_part_of_a_candidate_does_not_bound_it() -> None:
    # z (11) conflicts with a2; a1, b1 and z share a cap of 1. The optimum a2 + b1 = 17 lies
    # under "z: none", where the cap has room for one of a1/b1 but not for a2, which is outside.
    z, a1, a2, b1 = range(4)
    c = Customer([0, 1, 1, 2], [11, 10, 9, 8], [-1] * 4)
    c.rows = [
        ([(False, z, 1), (False, a1, 1), (False, b1, 1)], NO_LB, 1),
        ([(False, z, 1), (False, a2, 1)], NO_LB, 1),
    ]
    chosen, value, status = solve_one(c)
    assert status[0] == OPTIMAL and value[0] == 17
    assert chosen.tolist() == [False, False, True, True]
