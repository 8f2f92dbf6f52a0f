"""The plan master of one decomposition phase: every customer's plans, mixed under the
global rows by one linear program, then rounded and repaired to an exact plan.

A column is one plan of one customer (the sends its own problem chose under some
prices), described by what it earns in the phase's tier, what it gives each
higher tier (held at their totals by floors) and what it uses of every global
row spec. The master LP picks a convex mix of each customer's columns under the
phase's limits; with a few limits and many customers all but a handful of
customers take one column whole (a basic solution mixes at most one customer
per limit), so rounding loses little.

The LP has a convexity row per customer: a million customers are too many for
one solve. It is solved by sifting: only the customers whose choice is in doubt
are free, every other one is fixed at its best column under the current duals;
after each solve, fixed customers whose best column changed at the new duals
join the free set, until none does. The result is the optimum of the whole LP.

Rounding gives a mixed customer its heaviest column; `repair` then moves
customers between their columns (the previous phase's plan among them, which
meets every limit by construction) until every hard limit and floor holds
exactly, and `improve` takes any move that gains and keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.linear_solver.python import model_builder as mb
from scipy import sparse

from optimiser.arrays import ranges

GLOP_PARAMETERS = "use_dual_simplex: true, use_preprocessing: false"
ELASTIC_PRICE = 1e4  # per unit of a broken hard limit or floor, in units of the best column
FIRST_FREE = 2000  # customers free in the first sifting solve
SIFT_ROUNDS = 30
REDUCED_TOLERANCE = 1e-7  # relative: a fixed customer's better column must gain this much
_HASH = np.random.default_rng(20261201).integers(1, 2**62, size=64, dtype=np.int64) | 1


@dataclass(frozen=True)
class Limit:
    """One side of a global row spec in the phase: usage of spec `spec` at most `ub` (or at
    least `lb`). Soft: each unit beyond costs `rate`, charged to the phase's objective
    (`floor` None) or out of higher tier `floor`'s total."""

    spec: int
    lb: float | None
    ub: float | None
    soft: bool
    rate: float = 0.0
    floor: int | None = None

    def excess(self, usage: np.ndarray) -> np.ndarray:
        """How far a usage (any shape, of this spec) is beyond the bound."""
        if self.ub is not None:
            return np.maximum(usage - self.ub, 0.0)
        assert self.lb is not None
        return np.maximum(self.lb - usage, 0.0)


class Columns:
    """Every distinct plan of every customer in one phase, and its sends."""

    def __init__(self, n_customers: int, n_floors: int, n_specs: int) -> None:
        self.n_customers, self.n_floors, self.n_specs = n_customers, n_floors, n_specs
        self.customer = np.zeros(0, dtype=np.int64)
        self.value = np.zeros(0)
        self.floors = np.zeros((0, n_floors))
        self.usage = np.zeros((0, n_specs))
        self._sorted = np.zeros(0, dtype=np.int64)  # hashes of the columns, sorted
        self._sorted_column = np.zeros(0, dtype=np.int64)
        self._sends: list[np.ndarray] = []  # per added batch: its columns' sends
        self._send_ptr: list[np.ndarray] = []
        self._batch_of = np.zeros(0, dtype=np.int64)  # column -> (batch, position in batch)
        self._position = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.customer)

    def add(self, customer: np.ndarray, value: np.ndarray, floors: np.ndarray,
            usage: np.ndarray, send_ptr: np.ndarray, sends: np.ndarray) -> np.ndarray:
        """Add one plan per listed customer (their sends: sends[send_ptr[i]:send_ptr[i+1]],
        as global option numbers); plans that cost and earn exactly as a column already
        held are the same column. Returns the column of each plan."""
        table = np.column_stack([customer, value, floors, usage]).astype(np.int64)
        hashes = (table * _HASH[: table.shape[1]]).sum(axis=1)  # wraps: a 64-bit hash
        where = np.full(len(hashes), -1, dtype=np.int64)
        if len(self._sorted):
            at = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
            hit = self._sorted[at] == hashes
            where[hit] = self._sorted_column[at[hit]]
        fresh = np.flatnonzero(where < 0)
        distinct, first, inverse = np.unique(hashes[fresh], return_index=True,
                                             return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)  # new columns in the order given
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        before = len(self)
        where[fresh] = before + rank[inverse]
        new = fresh[np.sort(first)]
        self.customer = np.concatenate([self.customer, customer[new]])
        self.value = np.concatenate([self.value, value[new]])
        self.floors = np.concatenate([self.floors, floors[new]])
        self.usage = np.concatenate([self.usage, usage[new]])
        merged = np.concatenate([self._sorted, distinct])
        column_of = np.concatenate([self._sorted_column, before + rank])
        order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
        self._sorted, self._sorted_column = merged[order], column_of[order]
        lengths = send_ptr[new + 1] - send_ptr[new]
        ptr = np.zeros(len(new) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        self._sends.append(sends[ranges(send_ptr[new], send_ptr[new + 1])])
        self._send_ptr.append(ptr)
        self._batch_of = np.concatenate([self._batch_of,
                                         np.full(len(new), len(self._sends) - 1)])
        self._position = np.concatenate([self._position, np.arange(len(new))])
        return where

    def sends_of(self, columns: np.ndarray) -> np.ndarray:
        """The sends (global option numbers) of the given columns, together."""
        columns = np.asarray(columns, dtype=np.int64)
        parts = []
        for batch in np.unique(self._batch_of[columns]).tolist():
            at = self._position[columns[self._batch_of[columns] == batch]]
            ptr = self._send_ptr[batch]
            parts.append(self._sends[batch][ranges(ptr[at], ptr[at + 1])])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def best(self, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per customer, its column of highest score (the first among equals) and the gap to
        its second best (inf when it has one column)."""
        order = np.lexsort((np.arange(len(score)), -score, self.customer))
        customer = self.customer[order]
        first = np.r_[True, customer[1:] != customer[:-1]]
        best = np.full(self.n_customers, -1, dtype=np.int64)
        best[customer[first]] = order[first]
        second = np.r_[False, first[:-1]] & ~first
        margin = np.full(self.n_customers, np.inf)
        margin[customer[second]] = score[best[customer[second]]] - score[order[second]]
        return best, margin


@dataclass(frozen=True)
class MasterSolution:
    """The LP's value and duals (per limit, per floor; objective units per row unit), and
    per customer the column it takes after rounding."""

    value: float
    limit_prices: np.ndarray
    floor_weights: np.ndarray
    chosen: np.ndarray
    fractional: int  # customers the LP mixed


class Master:
    """The phase's LP over `columns` with `limits` and floors (total of higher tier j at
    least `floor_least[j]`)."""

    def __init__(self, columns: Columns, limits: list[Limit], floor_least: np.ndarray) -> None:
        self.columns, self.limits, self.floor_least = columns, limits, floor_least

    def reduced(self, limit_prices: np.ndarray, floor_weights: np.ndarray) -> np.ndarray:
        """Every column's value at these duals: value + w.floors - sum of priced usage."""
        cols = self.columns
        score = cols.value + cols.floors @ floor_weights if cols.n_floors else cols.value.copy()
        for price, limit in zip(limit_prices, self.limits, strict=True):
            if price:
                sign = -1.0 if limit.ub is not None else 1.0
                score = score + sign * price * cols.usage[:, limit.spec]
        return score

    def solve(self, start_prices: np.ndarray, start_weights: np.ndarray) -> MasterSolution:
        """The LP optimum by sifting from the duals given, and its rounded choice."""
        cols = self.columns
        fixed, margin = cols.best(self.reduced(start_prices, start_weights))
        free = _smallest(margin, FIRST_FREE)
        for _ in range(SIFT_ROUNDS):
            solved = self._solve_lp(free, fixed)
            if solved is None:
                raise RuntimeError("the plan master LP could not be solved")
            weights, value, prices, floor_weights = solved
            score = self.reduced(prices, floor_weights)
            best, margin = cols.best(score)
            is_free = np.zeros(cols.n_customers, dtype=bool)
            is_free[free] = True
            gain = score[best] - score[fixed]
            scale = max(1.0, float(np.abs(value)))
            wrong = np.flatnonzero(~is_free & (gain > REDUCED_TOLERANCE * scale
                                               / max(1, cols.n_customers) ** 0.5))
            if len(wrong) == 0:
                break
            fixed[wrong] = best[wrong]
            more = wrong[np.argsort(-gain[wrong], kind="stable")][: max(len(free), FIRST_FREE)]
            free = np.union1d(free, more)
        chosen = fixed.copy()
        mixed = 0
        members = np.flatnonzero(np.isin(cols.customer, free))
        heaviest = np.full(cols.n_customers, -1, dtype=np.int64)
        weight_of = np.full(cols.n_customers, -1.0)
        for column, weight in zip(members.tolist(), weights.tolist(), strict=True):
            customer = int(cols.customer[column])
            if weight > weight_of[customer] + 1e-9:
                heaviest[customer], weight_of[customer] = column, weight
        mixed = int(((weight_of > 1e-6) & (weight_of < 1 - 1e-6)).sum())
        chosen[free] = heaviest[free]
        return MasterSolution(value, prices, floor_weights, chosen, mixed)

    def _solve_lp(self, free: np.ndarray, fixed: np.ndarray
                  ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray] | None:
        """The LP with customers `free` mixing their columns and every other customer on its
        `fixed` column: (weights of the free customers' columns, LP value, |duals| per limit
        and per floor in objective units per row unit). Hard limits and floors are elastic at
        a steep price, so the LP always has a solution; a broken one shows in its value."""
        cols, limits = self.columns, self.limits
        n_limits, n_floors = len(limits), len(self.floor_least)
        is_free = np.zeros(cols.n_customers, dtype=bool)
        is_free[free] = True
        held = fixed[~is_free & (fixed >= 0)]
        members = np.flatnonzero(is_free[cols.customer])
        local = np.full(cols.n_customers, -1, dtype=np.int64)
        local[free] = np.arange(len(free))
        unit_value = max(1.0, float(np.abs(cols.value).max(initial=0.0)))
        unit_limit = np.array([max(1.0, float(np.abs(cols.usage[:, lim.spec]).max(initial=0.0)),
                                   abs(lim.lb or 0.0), abs(lim.ub or 0.0)) for lim in limits])
        unit_floor = np.array([max(1.0, float(np.abs(cols.floors[:, j]).max(initial=0.0)))
                               for j in range(n_floors)])
        usage = cols.usage[members][:, [lim.spec for lim in limits]] / unit_limit
        floors = cols.floors[members] / unit_floor
        base_usage = cols.usage[held][:, [lim.spec for lim in limits]].sum(axis=0)
        base_floor = cols.floors[held].sum(axis=0) if n_floors else np.zeros(0)
        low = np.full(n_limits + n_floors, -np.inf)
        high = np.full(n_limits + n_floors, np.inf)
        for r, lim in enumerate(limits):
            if lim.ub is not None:
                high[r] = (lim.ub - base_usage[r]) / unit_limit[r]
            else:
                assert lim.lb is not None
                low[r] = (lim.lb - base_usage[r]) / unit_limit[r]
        for j in range(n_floors):
            need = (self.floor_least[j] - base_floor[j]) / unit_floor[j]
            # eased by a hair: GLOP works to a tolerance (repair restores floors exactly)
            low[n_limits + j] = need - 1e-7 * max(1.0, abs(need))
        rows, cols_at, values = [], [], []
        for block, offset in ((usage, 0), (floors, n_limits)):
            at_row, at_col = np.nonzero(block.T)
            rows.append(offset + at_row)
            cols_at.append(at_col)
            values.append(block.T[at_row, at_col])
        objective = [cols.value[members] / unit_value]
        n_columns = len(members)
        extra = 0
        for r, lim in enumerate(limits):  # a slack per soft limit, elastic per hard one
            sign = -1.0 if lim.ub is not None else 1.0
            price = (lim.rate if lim.soft else ELASTIC_PRICE * unit_value) * unit_limit[r]
            rows.append(np.array([r]))
            cols_at.append(np.array([n_columns + extra]))
            values.append(np.array([sign]))
            if lim.soft and lim.floor is not None:
                objective.append(np.zeros(1))
                rows.append(np.array([n_limits + lim.floor]))
                cols_at.append(np.array([n_columns + extra]))
                values.append(np.array([-price / unit_floor[lim.floor]]))
            else:
                objective.append(np.array([-price / unit_value]))
            extra += 1
        for j in range(n_floors):  # floors are elastic too
            rows.append(np.array([n_limits + j]))
            cols_at.append(np.array([n_columns + extra]))
            values.append(np.array([1.0]))
            objective.append(np.array([-ELASTIC_PRICE * unit_floor[j] / unit_value]))
            extra += 1
        n_rows = n_limits + n_floors
        rows.append(n_rows + local[cols.customer[members]])
        cols_at.append(np.arange(n_columns))
        values.append(np.ones(n_columns))
        matrix = sparse.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols_at))),
            shape=(n_rows + len(free), n_columns + extra))
        ones = np.ones(len(free))
        model = mb.Model()
        helper: Any = model.helper  # its stub's array types name no valid ndarray shape
        helper.fill_model_from_sparse_data(
            np.zeros(n_columns + extra), np.full(n_columns + extra, np.inf),
            np.concatenate(objective), np.r_[low, ones], np.r_[high, ones], matrix)
        helper.set_maximize(True)
        solver = mb.Solver("glop")
        solver.set_solver_specific_parameters(GLOP_PARAMETERS)
        if solver.solve(model) != mb.SolveStatus.OPTIMAL:
            return None
        weights = solver.values(model.get_variables()).to_numpy()[:n_columns]
        value = solver.objective_value * unit_value + float(cols.value[held].sum())
        duals = np.abs([solver.dual_value(model.linear_constraint_from_index(i))
                        for i in range(n_rows)]) * unit_value
        return (weights, value, duals[:n_limits] / unit_limit,
                duals[n_limits:] / unit_floor if n_floors else np.zeros(0))


def _smallest(margin: np.ndarray, count: int) -> np.ndarray:
    """The `count` customers of smallest (finite) margin, ascending by customer."""
    candidates = np.flatnonzero(np.isfinite(margin))
    picked = candidates[np.argsort(margin[candidates], kind="stable")[:count]]
    return np.sort(picked)


@dataclass
class Totals:
    """What an assignment of columns adds up to."""

    value: float
    floors: np.ndarray
    usage: np.ndarray


def totals(columns: Columns, chosen: np.ndarray) -> Totals:
    picked = chosen[chosen >= 0]
    return Totals(float(columns.value[picked].sum()), columns.floors[picked].sum(axis=0),
                  columns.usage[picked].sum(axis=0))


def penalties(limits: list[Limit], usage: np.ndarray, n_floors: int) -> tuple[float,
                                                                              np.ndarray]:
    """(penalty the phase's own soft limits charge, penalty charged to each higher tier)
    at a total `usage` (one row per assignment, or one vector)."""
    own = 0.0
    per_floor = np.zeros(n_floors)
    for lim in limits:
        if not lim.soft:
            continue
        cost = lim.rate * float(lim.excess(usage[lim.spec]))
        if lim.floor is None:
            own += cost
        else:
            per_floor[lim.floor] += cost
    return own, per_floor


def violation(limits: list[Limit], floor_least: np.ndarray, usage: np.ndarray,
              floors: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Per hard limit and per floor, how far (in row units / `units`) it is broken; `usage`
    and `floors` may hold one assignment per row (2-D)."""
    usage = np.atleast_2d(usage)
    floors = np.atleast_2d(floors)
    out = []
    charged = np.zeros((len(usage), len(floor_least)))
    for lim in limits:
        broken = lim.excess(usage[:, lim.spec])
        if lim.soft:
            if lim.floor is not None:
                charged[:, lim.floor] += lim.rate * broken
            out.append(np.zeros(len(usage)))
        else:
            out.append(broken)
    for j, least in enumerate(floor_least):
        out.append(np.maximum(least - (floors[:, j] - charged[:, j]), 0.0))
    return np.column_stack(out) / units if out else np.zeros((len(usage), 0))


def units_of(columns: Columns, limits: list[Limit], floor_least: np.ndarray) -> np.ndarray:
    """A scale per hard limit and floor, so that their violations compare."""
    out = [max(1.0, float(np.abs(columns.usage[:, lim.spec]).max(initial=0.0)))
           for lim in limits]
    out += [max(1.0, float(np.abs(columns.floors[:, j]).max(initial=0.0)))
            for j in range(len(floor_least))]
    return np.array(out)


REPAIR_ROUNDS = 10_000


def repair(columns: Columns, chosen: np.ndarray, limits: list[Limit], floor_least: np.ndarray,
           previous: np.ndarray | None) -> np.ndarray:
    """Move customers between their columns until every hard limit and floor holds: each
    move the one that mends most violation per value lost. When no move mends anything,
    every customer returns to its `previous` column (which meets everything), and
    `improve` wins back what it can."""
    chosen = chosen.copy()
    units = units_of(columns, limits, floor_least)
    for _ in range(REPAIR_ROUNDS):
        now = totals(columns, chosen)
        broken = violation(limits, floor_least, now.usage, now.floors, units)[0]
        if not (broken > 1e-12).any():
            return chosen
        move = _best_mending_move(columns, chosen, limits, floor_least, units, now,
                                  float(broken.sum()))
        if move is None:
            break
        customer, column = move
        chosen[customer] = column
    if previous is None:
        raise RuntimeError("the decomposition found no plan that meets every hard global rule")
    return improve(columns, previous.copy(), limits, floor_least)


def _best_mending_move(columns: Columns, chosen: np.ndarray, limits: list[Limit],
                       floor_least: np.ndarray, units: np.ndarray, now: Totals,
                       broken_now: float) -> tuple[int, int] | None:
    current = chosen[columns.customer]
    candidates = np.flatnonzero(np.arange(len(columns)) != current)
    if len(candidates) == 0:
        return None
    delta_usage = columns.usage[candidates] - columns.usage[current[candidates]]
    delta_floors = columns.floors[candidates] - columns.floors[current[candidates]]
    after = violation(limits, floor_least, now.usage + delta_usage, now.floors + delta_floors,
                      units).sum(axis=1)
    mended = broken_now - after
    useful = mended > 1e-12
    if not useful.any():
        return None
    loss = columns.value[current[candidates]] - columns.value[candidates]
    for lim in limits:  # this phase's own soft limits change the value too
        if lim.soft and lim.floor is None:
            loss += lim.rate * (lim.excess(now.usage[lim.spec] + delta_usage[:, lim.spec])
                                - lim.excess(now.usage[lim.spec]))
    score = np.where(useful, mended / (np.maximum(loss, 0.0) + 1e-9), -np.inf)
    pick = int(np.argmax(score))
    return int(columns.customer[candidates[pick]]), int(candidates[pick])


IMPROVE_CANDIDATES = 100_000


def improve(columns: Columns, chosen: np.ndarray, limits: list[Limit],
            floor_least: np.ndarray) -> np.ndarray:
    """Take, best gain first, every move to another column that gains value and keeps every
    hard limit and floor (the assignment given must keep them)."""
    chosen = chosen.copy()
    units = units_of(columns, limits, floor_least)
    current = chosen[columns.customer]
    gain = columns.value - columns.value[current]  # soft penalties are judged per move
    candidates = np.flatnonzero(gain > 0)
    candidates = candidates[np.argsort(-gain[candidates], kind="stable")][:IMPROVE_CANDIDATES]
    now = totals(columns, chosen)
    own_now = penalties(limits, now.usage, columns.n_floors)[0]
    for column in candidates.tolist():
        customer = int(columns.customer[column])
        was = int(chosen[customer])
        if was == column:
            continue
        usage = now.usage + columns.usage[column] - columns.usage[was]
        floors = now.floors + columns.floors[column] - columns.floors[was]
        if (violation(limits, floor_least, usage, floors, units) > 1e-12).any():
            continue
        own = penalties(limits, usage, columns.n_floors)[0]
        if columns.value[column] - columns.value[was] - (own - own_now) <= 0:
            continue
        chosen[customer] = column
        now = Totals(now.value + columns.value[column] - columns.value[was], floors, usage)
        own_now = own
    return chosen
