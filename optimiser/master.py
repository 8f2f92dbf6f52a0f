"""The plan master of one decomposition phase: every customer's plans, mixed under the
global rows by one linear program, then rounded and repaired to an exact plan.

A column is one plan of one customer (the sends its own problem chose under some
prices), described by what it earns in the phase's tier, what it gives each
higher tier (held at their totals by floors) and what it uses of every global
row spec. The master LP picks a convex mix of each customer's columns under the
phase's limits; with a few limits and many customers all but a handful of
customers take one column whole (a basic solution mixes at most one customer
per limit), so rounding loses little.

Each customer's columns mix to one (its convexity row, substituted out in the LP: see
`_solve_lp`); a million customers are still too many for one solve. It is solved by
sifting: only the customers whose choice is in doubt are free, every other one is
fixed at the column a price-guided fit gives it (optimiser/price_fit.py: a plan that
keeps every maximum); after each solve, fixed customers whose best column beats theirs
at the new duals join the free set, until none does (the optimum of the whole LP) or
MAX_FREE are free. Free customers bring only the columns that may matter (their two
best at the duals, their fitted and previous ones); another enters when it beats all a
customer has in the LP, and the sifting stops once an LP gains less than
SIFT_TOLERANCE, or its duals prove that the LP over every column is worth at most that
much more.

Rounding gives a mixed customer the whole column that breaks least; `give_back`
moves the customers of least worth off what is still over a cap. Then the
coordinator (optimiser/decomposition.py) mends short floors by moves
(`mend_floors`), sends a few customers back to their previous plan
(`restore_lower`; the previous phase's assignment meets every limit and floor)
until no floor or minimum is short, and drops single sends over a capacity; if
a hard row still breaks, `revert_until_holds` sends back the fewest customers
that make it hold. `improve` (optimiser/improve.py) takes any move that gains and
keeps every limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from ortools.linear_solver.python import model_builder as mb
from scipy import sparse

from optimiser import dual
from optimiser.arrays import ptr_of, ranges
from optimiser.price_fit import fit_by_price, give_back

# GLOP's dual simplex with presolve first: on two sifting LPs of phase 3 at 100k (13k and 11k
# free customers) 0.25 s and 0.72 s, against 1.37 s and 4.03 s for the primal simplex with
# presolve and 0.47 s and 0.94 s for the dual without; the others only if it gives up
GLOP_PARAMETERS = ("use_dual_simplex: true", "use_dual_simplex: false",
                   "use_dual_simplex: true, use_preprocessing: false", "")
# an elastic unit of a hard row costs this many times the most any column earns per unit
# of the row (in the LP's units), so the LP breaks a row only where nothing else is left
ELASTIC_PRICE = 10.0
ELASTIC_CAP = 1e6  # in LP units: steeper leaves GLOP coefficients too far apart
FIRST_FREE = 2000  # customers free in the first sifting solve
SIFT_ROUNDS = 30
# relative: the sifting stops once an LP gains less than this over the last (its last rounds
# at 100k gained 3e-5 and 1e-8 and cost 8 s each), or once its duals prove that the LP over
# every column is worth at most this much more (at 100k that ends phase 3's second master
# one 9 s LP sooner: the one before was within 1.6e-5)
SIFT_TOLERANCE = 1e-4
# most customers free in one sifting LP: GLOP's time grows much faster than its size (at
# 100k: 8k free 1-3 s, 16k free 4-11 s), and what the LP would still move is left to
# rounding and the repairs, which the bound then judges (8k instead: phase 3 at 100k no
# longer converged in PLAN_ROUNDS)
MAX_FREE = 16_000
# cutting-plane steps on the master's dual before its LP: with the dual simplex the sifting
# LPs are cheap, and 20 instead of 60 took the 100k masters 16.2 s instead of 18.5 s (same
# rounds, gap 0.128% vs 0.136%; 10k seed 0 unchanged)
PRICE_EVALUATIONS = 20
ROUND_COMBINATIONS = 4096  # most combinations of mixed columns rounding tries
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
        self._grouped: tuple[np.ndarray, np.ndarray] | None = None  # by customer, offsets

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
        its second best (inf when it has one column). One pass over the columns grouped by
        customer: the dual searches call it dozens of times per solve."""
        if self._grouped is None or len(self._grouped[0]) != len(self):
            order = np.argsort(self.customer, kind="stable")
            self._grouped = order, ptr_of(np.bincount(self.customer,
                                                      minlength=self.n_customers))
        order, ptr = self._grouped
        return _best_of(np.ascontiguousarray(score, dtype=np.float64), order, ptr)


@numba.njit(cache=True)
def _best_of(score: np.ndarray, order: np.ndarray,
             ptr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(ptr) - 1
    best = np.full(n, -1, dtype=np.int64)
    margin = np.full(n, np.inf)
    for c in range(n):
        top = -np.inf
        second = -np.inf
        for k in range(ptr[c], ptr[c + 1]):
            j = order[k]
            value = score[j]
            if best[c] < 0:
                best[c], top = j, value
            elif value > top:
                second, top, best[c] = top, value, j
            elif value > second:
                second = value
        if ptr[c + 1] - ptr[c] > 1:
            margin[c] = top - second
    return best, margin


@dataclass(frozen=True)
class MasterSolution:
    """The LP's value and duals (per limit, per floor; objective units per row unit), and
    per customer the column it takes after rounding."""

    value: float
    limit_prices: np.ndarray
    floor_weights: np.ndarray
    chosen: np.ndarray
    mixed: np.ndarray  # customers the LP mixed


class Master:
    """The phase's LP over `columns` with `limits` and floors (total of higher tier j at
    least `floor_least[j]`). It keeps the customers its last solve mixed: the next solve
    starts with them free."""

    def __init__(self, columns: Columns, limits: list[Limit], floor_least: np.ndarray,
                 start: np.ndarray | None = None,
                 box: tuple[np.ndarray, list[tuple[int, int, float]]] | None = None) -> None:
        self.columns, self.limits, self.floor_least = columns, limits, floor_least
        dim = len(limits) + len(floor_least)
        self.box = box if box is not None else (np.full(dim, 1e12), [])
        self.previous = start
        self.mixed = np.zeros(0, dtype=np.int64)
        # the hard maxima, which the fit and the give-back keep
        self.capped = [r for r, lim in enumerate(limits) if lim.ub is not None and not lim.soft]
        self.capped_specs = [limits[r].spec for r in self.capped]
        self.capped_upper = np.array([limits[r].ub for r in self.capped], dtype=float)
        # the minima, hard or soft, which the give-back keeps from falling short
        self.minimum_specs = [lim.spec for lim in limits if lim.ub is None]
        self.minimum = np.array([lim.lb for lim in limits if lim.ub is None], dtype=float)

    def reduced(self, limit_prices: np.ndarray, floor_weights: np.ndarray) -> np.ndarray:
        """Every column's value at these duals: value + w.floors - sum of priced usage."""
        cols = self.columns
        score = cols.value + cols.floors @ floor_weights if cols.n_floors else cols.value.copy()
        for price, limit in zip(limit_prices, self.limits, strict=True):
            if price:
                sign = -1.0 if limit.ub is not None else 1.0
                score = score + sign * price * cols.usage[:, limit.spec]
        return score

    def solve(self, prices: np.ndarray, weights: np.ndarray) -> MasterSolution:
        """The LP optimum by sifting, and its rounded choice.

        Customers undecided at the duals given (smallest margin between their two best
        columns) start free, with those the last solve mixed; every other customer holds
        the column the price-guided fit gives it at these duals (a plan that keeps every
        maximum) until the LP's duals say it would gain by moving. Limits and floors are
        elastic at a steep price, so the LP always has a solution.
        """
        cols = self.columns
        prices, weights = self.dual_optimum(prices, weights)
        score = self.reduced(prices, weights)
        best, margin = cols.best(score)
        fixed = self._fit(score, prices)
        free = np.union1d(_smallest(margin, FIRST_FREE), self.mixed)
        inside = self._contenders(score, best, margin, free, fixed)
        solved_free, solved_inside = np.zeros(0, dtype=np.int64), inside[:0]
        column_weights = np.zeros(0)
        value = totals(cols, fixed).value
        for _ in range(SIFT_ROUNDS):
            solved = self._solve_lp(free, fixed, inside)
            if solved is None:
                # GLOP gave up on this LP (it happens on large, degenerate ones): keep what
                # the last LP that solved said; the repairs and the bound judge the rest
                free, inside = solved_free, solved_inside
                break
            gained = solved[1] - value if len(solved_free) else np.inf
            solved_free, solved_inside = free, inside
            column_weights, value, prices, weights = solved
            score = self.reduced(prices, weights)
            best, margin = cols.best(score)
            if 0 <= gained <= SIFT_TOLERANCE * abs(value):
                break  # the last LP hardly moved: what more sifting would add is noise
            tolerance = REDUCED_TOLERANCE * max(1.0, float(np.abs(value))) / max(
                1, cols.n_customers)
            beyond, gain = _sift_gains(cols, score, best, free, inside, fixed)
            if _left_to_gain(cols, beyond, gain) <= SIFT_TOLERANCE * abs(value):
                break  # the whole LP is within the tolerance of this one (a certificate)
            entering = np.flatnonzero(beyond > tolerance)
            wrong = np.flatnonzero(gain > tolerance)  # fixed customers, most gain first
            room = max(0, min(max(len(free), FIRST_FREE), MAX_FREE - len(free)))
            more = wrong[np.argsort(-gain[wrong], kind="stable")][:room]
            if len(more):
                free = np.union1d(free, more)
                entering = np.union1d(entering, self._contenders(score, best, margin, more,
                                                                 fixed))
            if len(entering) == 0:
                # the LP over every column is solved, or it is as large as it may grow
                # (MAX_FREE): rounding and the repairs take over
                break
            inside = np.union1d(inside, entering)
        chosen, mixed = self._round(solved_inside, fixed, column_weights)
        # what the LP left over a maximum (its elastic share, a mixed customer rounded up)
        # the customers of least worth per priced unit give back, for their next best fit
        chosen = give_back(cols.customer, score, np.maximum(prices[self.capped], 1e-12),
                           cols.usage[:, self.capped_specs], self.capped_upper,
                           cols.floors, chosen, totals(cols, chosen).floors - self.floor_least,
                           cols.usage[:, self.minimum_specs], self.minimum)
        self.mixed = mixed
        return MasterSolution(value, prices, weights, chosen, mixed)

    def _contenders(self, score: np.ndarray, best: np.ndarray, margin: np.ndarray,
                    of: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """The columns customers `of` bring into the LP: those that score at least their
        second best (two, or more on ties), the ones an LP at about these duals mixes, and
        their fitted and previous columns, which keep the maxima and floors (without them
        the LP breaks a floor and its duals are the elastic price); the sifting adds any
        other column that would enter."""
        customer = self.columns.customer
        wanted = np.zeros(len(best), dtype=bool)
        wanted[of] = True
        threshold = score[np.maximum(best, 0)] - np.where(np.isfinite(margin), margin, 0.0)
        picked = wanted[customer] & (score >= threshold[customer])
        for held in (fixed, self.previous):
            if held is not None:
                at = held[of]
                picked[at[at >= 0]] = True
        return np.flatnonzero(picked)

    def _fit(self, score: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """A column per customer within every hard maximum (optimiser.price_fit), at the
        columns' `score` and the limits' `prices`; customers with a previous plan move only
        to columns that give each floor at least as much, so the floors stay met."""
        cols = self.columns
        allowed = None
        if self.previous is not None and cols.n_floors:
            was = self.previous[cols.customer]
            allowed = (was < 0) | (cols.floors >= cols.floors[np.maximum(was, 0)]).all(axis=1)
        return fit_by_price(cols.customer, score, np.maximum(prices[self.capped], 1e-12),
                            cols.usage[:, self.capped_specs], self.capped_upper,
                            fallback=self.previous if self.previous is not None
                            else np.full(cols.n_customers, -1, dtype=np.int64),
                            allowed=allowed)

    def dual_optimum(self, prices: np.ndarray,
                     weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Near-optimal duals of the LP, found in price space: its dual is the Lagrangian
        of the limits and floors over each customer's columns,

            M(y, z) = sum_c max_j [value + z.floors - y.usage](j) + y.b - z.least,

        a convex piecewise-linear function of a dozen multipliers that costs one pass over
        the columns to evaluate. A few dozen cutting-plane steps (optimiser.dual) bring it
        near its minimum, where few customers are undecided between two columns: the LP
        then needs only those free."""
        cols, limits, n_limits = self.columns, self.limits, len(self.limits)
        constant_slope = np.array([lim.ub if lim.ub is not None else -(lim.lb or 0.0)
                                   for lim in limits] + [-x for x in self.floor_least])
        signs = np.array([-1.0 if lim.ub is not None else 1.0 for lim in limits])
        pieces = min(64, max(1, cols.n_customers)) + 1
        group = np.arange(cols.n_customers) * (pieces - 1) // max(1, cols.n_customers)
        usage = cols.usage[:, [lim.spec for lim in limits]]

        def evaluate(point: np.ndarray) -> dual.Evaluation:
            y, z = point[:n_limits], point[n_limits:]
            score = self.reduced(y, z)
            best, _ = cols.best(score)
            cut_values = np.bincount(group, score[best], minlength=pieces)
            cut_values[-1] = float(constant_slope @ point)
            slopes = np.zeros((pieces, len(point)))
            for r in range(n_limits):
                slopes[:, r] = signs[r] * np.bincount(group, usage[best, r], minlength=pieces)
            for j in range(len(self.floor_least)):
                slopes[:, n_limits + j] = np.bincount(group, cols.floors[best, j],
                                                      minlength=pieces)
            slopes[-1] = constant_slope
            return dual.Evaluation(float(cut_values.sum()), cut_values, slopes)

        upper, links = self.box
        start = np.minimum(np.concatenate([prices, weights]), upper)
        found = dual.minimise(evaluate, start, upper, links, PRICE_EVALUATIONS, 1e-9)
        return found.point[:n_limits], found.point[n_limits:]

    def _round(self, members: np.ndarray, fixed: np.ndarray,
               column_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whole columns for the free customers: the one the LP gives each whole, and for
        the few it mixes the combination of their mixed columns that leaves no floor or
        minimum short if any does, then breaks a maximum least, then gains most.
        Returns (a column per customer, customers mixed)."""
        cols = self.columns
        chosen = fixed.copy()
        if len(members) == 0:
            return chosen, np.zeros(0, dtype=np.int64)
        used = column_weights > 1e-9
        order = np.lexsort((-column_weights, cols.customer[members]))
        heaviest_first = members[order]
        owner = cols.customer[heaviest_first]
        first = np.r_[True, owner[1:] != owner[:-1]]
        chosen[owner[first]] = heaviest_first[first]
        support = members[used]
        counts = np.bincount(cols.customer[support], minlength=cols.n_customers)
        mixed = np.flatnonzero(counts > 1)
        options = [support[cols.customer[support] == c] for c in mixed]
        combinations = np.prod([len(o) for o in options], dtype=float)
        if len(mixed) and combinations <= ROUND_COMBINATIONS:
            chosen = self._best_combination(chosen, mixed, options)
        return chosen, mixed

    def _best_combination(self, chosen: np.ndarray, mixed: np.ndarray,
                          options: list[np.ndarray]) -> np.ndarray:
        cols = self.columns
        base = chosen.copy()
        base[mixed] = -1
        rest = totals(cols, base)
        units = units_of(cols, self.limits, self.floor_least)
        combos = np.array(np.meshgrid(*options, indexing="ij")).reshape(len(mixed), -1).T
        usage = rest.usage + cols.usage[combos].sum(axis=1)
        floors = rest.floors + cols.floors[combos].sum(axis=1)
        broken = violation(self.limits, self.floor_least, usage, floors, units)
        lower = lower_rows(self.limits, self.floor_least)
        short, over = broken[:, lower].sum(axis=1), broken[:, ~lower].sum(axis=1)
        value = cols.value[combos].sum(axis=1)
        for lim in self.limits:  # this phase's soft limits charge its own value
            if lim.soft and lim.floor is None:
                value = value - lim.rate * lim.excess(usage[:, lim.spec])
        # a short floor or minimum costs a customer's whole plan to mend, a send over a
        # maximum only that send: keep every floor first
        pick = int(np.lexsort((-value, np.round(over, 12), np.round(short, 12)))[0])
        out = chosen.copy()
        out[mixed] = combos[pick]
        return out

    def _solve_lp(self, free: np.ndarray, fixed: np.ndarray, members: np.ndarray
                  ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray] | None:
        """The LP with customers `free` mixing their columns `members` (columns of free
        customers only, at least one each) and every other customer on its `fixed` column:
        (weights of the `members`, LP value, |duals| per limit
        and per floor in objective units per row unit). Hard limits and floors are elastic at
        a steep price, so the LP always has a solution; a broken one shows in its value.

        Each free customer's convexity row is substituted out: its first column is its
        reference, taken whole, and every other column enters as the difference it makes
        (weight in [0, 1]); only a customer with three or more columns keeps a row (its
        differences' weights sum to at most 1). The LP is the same, its duals on the limits
        and floors too, but a simplex basis the size of the few limits instead of the
        thousands of customers (most bring two columns)."""
        cols, limits = self.columns, self.limits
        n_limits, n_floors = len(limits), len(self.floor_least)
        is_free = np.zeros(cols.n_customers, dtype=bool)
        is_free[free] = True
        held = fixed[~is_free & (fixed >= 0)]
        local = np.full(cols.n_customers, -1, dtype=np.int64)
        local[free] = np.arange(len(free))
        owner = local[cols.customer[members]]
        first = np.full(len(free), len(members), dtype=np.int64)
        np.minimum.at(first, owner, np.arange(len(members)))
        reference = members[first]
        is_reference = np.zeros(len(members), dtype=bool)
        is_reference[first] = True
        moves = np.flatnonzero(~is_reference)  # positions in `members`
        moved = members[moves]
        mover_owner = owner[moves]
        unit_value = max(1.0, float(np.abs(cols.value).max(initial=0.0)))
        unit_limit = np.array([max(1.0, float(np.abs(cols.usage[:, lim.spec]).max(initial=0.0)),
                                   abs(lim.lb or 0.0), abs(lim.ub or 0.0)) for lim in limits])
        unit_floor = np.array([max(1.0, float(np.abs(cols.floors[:, j]).max(initial=0.0)))
                               for j in range(n_floors)])
        specs = [lim.spec for lim in limits]
        of_reference = reference[mover_owner]
        usage = (cols.usage[moved][:, specs] - cols.usage[of_reference][:, specs]) / unit_limit
        floors = (cols.floors[moved] - cols.floors[of_reference]) / unit_floor
        base = np.concatenate([held, reference])
        base_usage = cols.usage[base][:, specs].sum(axis=0)
        base_floor = cols.floors[base].sum(axis=0) if n_floors else np.zeros(0)
        low = np.full(n_limits + n_floors, -np.inf)
        high = np.full(n_limits + n_floors, np.inf)
        for r, lim in enumerate(limits):
            if lim.ub is not None:
                high[r] = (lim.ub - base_usage[r]) / unit_limit[r]
            else:
                assert lim.lb is not None
                low[r] = (lim.lb - base_usage[r]) / unit_limit[r]
        for j in range(n_floors):
            low[n_limits + j] = (self.floor_least[j] - base_floor[j]) / unit_floor[j]
        rows, cols_at, values = [], [], []
        for block, offset in ((usage, 0), (floors, n_limits)):
            at_row, at_col = np.nonzero(block.T)
            rows.append(offset + at_row)
            cols_at.append(at_col)
            values.append(block.T[at_row, at_col])
        objective = [(cols.value[moved] - cols.value[of_reference]) / unit_value]
        n_columns = len(moved)
        extra = 0
        for r, lim in enumerate(limits):  # a slack per soft limit, elastic per hard one
            sign = -1.0 if lim.ub is not None else 1.0
            price = (lim.rate * unit_limit[r] if lim.soft
                     else _steep(cols.usage[:, lim.spec], unit_limit[r]) * unit_value)
            rows.append(np.array([r]))
            cols_at.append(np.array([n_columns + extra]))
            if lim.soft and lim.floor is not None:
                # a unit beyond costs the floor `charge` of its units: the slack is counted
                # in units that make its larger entry 1, or GLOP may give up on the
                # ill-scaled column (a charge of 3e5 beside entries of 1e-3 did, at 100k)
                charge = price / unit_floor[lim.floor]
                size = max(1.0, charge)
                values.append(np.array([sign / size]))
                objective.append(np.zeros(1))
                rows.append(np.array([n_limits + lim.floor]))
                cols_at.append(np.array([n_columns + extra]))
                values.append(np.array([-charge / size]))
            else:
                values.append(np.array([sign]))
                objective.append(np.array([-price / unit_value]))
            extra += 1
        for j in range(n_floors):  # floors are elastic too
            rows.append(np.array([n_limits + j]))
            cols_at.append(np.array([n_columns + extra]))
            values.append(np.array([1.0]))
            objective.append(np.array([-_steep(cols.floors[:, j], unit_floor[j])]))
            extra += 1
        n_rows = n_limits + n_floors
        # a row per customer with two or more moves: their weights sum to at most 1
        count = np.bincount(mover_owner, minlength=len(free))
        grouped = np.flatnonzero(count >= 2)
        row_of = np.full(len(free), -1, dtype=np.int64)
        row_of[grouped] = n_rows + np.arange(len(grouped))
        in_row = np.flatnonzero(row_of[mover_owner] >= 0)
        rows.append(row_of[mover_owner[in_row]])
        cols_at.append(in_row)
        values.append(np.ones(len(in_row)))
        matrix = sparse.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols_at))),
            shape=(n_rows + len(grouped), n_columns + extra))
        model = mb.Model()
        helper: Any = model.helper  # its stub's array types name no valid ndarray shape
        helper.fill_model_from_sparse_data(
            np.zeros(n_columns + extra), np.r_[np.ones(n_columns), np.full(extra, np.inf)],
            np.concatenate(objective), np.r_[low, np.full(len(grouped), -np.inf)],
            np.r_[high, np.ones(len(grouped))], matrix)
        helper.set_maximize(True)
        for parameters in GLOP_PARAMETERS:  # the fast settings first, GLOP's own if they fail
            solver = mb.Solver("glop")
            solver.set_solver_specific_parameters(parameters)
            status = solver.solve(model)
            if status == mb.SolveStatus.OPTIMAL:
                break
        else:
            return None
        taken = solver.values(model.get_variables()).to_numpy()[:n_columns]
        weights = np.zeros(len(members))
        weights[moves] = taken
        weights[first] = 1.0 - np.bincount(mover_owner, weights=taken, minlength=len(free))
        value = (solver.objective_value * unit_value + float(cols.value[base].sum()))
        constraints = model.get_linear_constraints()
        duals = np.abs(solver.dual_values(constraints).to_numpy()[:n_rows]) * unit_value
        return (weights, value, duals[:n_limits] / unit_limit,
                duals[n_limits:] / unit_floor if n_floors else np.zeros(0))


def _sift_gains(columns: Columns, score: np.ndarray, best: np.ndarray, free: np.ndarray,
                inside: np.ndarray, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What moving would gain at a sifting LP's duals (`score`): per column, how far it
    beats the best column its free customer has in the LP (`inside`; -inf for fixed
    customers' columns), and per customer, how far its best column beats its `fixed` one
    (0 for free customers)."""
    top = np.full(columns.n_customers, np.inf)
    top[free] = -np.inf
    np.maximum.at(top, columns.customer[inside], score[inside])
    gain = score[best] - score[fixed]
    gain[free] = 0.0
    return score - top[columns.customer], gain


def _left_to_gain(columns: Columns, beyond: np.ndarray, gain: np.ndarray) -> float:
    """How much more the LP over every column can be worth than a sifting LP, at its duals
    (LP duality: the whole LP is at most the Lagrangian of its rows at any duals): what
    each fixed customer gains by its best column, and each free one by its best column
    left out over the best it has in (`_sift_gains`)."""
    gaining = np.flatnonzero(beyond > 0)
    per_customer = np.zeros(columns.n_customers)
    np.maximum.at(per_customer, columns.customer[gaining], beyond[gaining])
    return float(per_customer.sum() + gain.sum())


def _steep(entries: np.ndarray, unit: float) -> float:
    """An elastic unit's price (LP objective per LP row unit) for a row whose entries are
    `entries` scaled by `unit`: a column earns at most 1 per entry of least size."""
    positive = np.abs(entries[entries != 0])
    least = float(positive.min()) if len(positive) else unit
    return min(ELASTIC_PRICE * unit / least, ELASTIC_CAP)


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


IMPROVE_CANDIDATES = 100_000


def restore_lower(columns: Columns, chosen: np.ndarray, limits: list[Limit],
                  floor_least: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """`chosen` with customers sent back to their previous plan until no floor and no hard
    minimum is short, those that gained least per unit they took from it first (all
    customers on their previous plan is the previous phase's plan, which meets them).

    A customer goes back if that mends a short row, whatever it adds over a maximum: what
    is left over a maximum the caller drops send by send (one send of the phase's tier or a
    lower one is cheaper to drop than a customer's whole plan to change; weighing the two
    in one sum sent everyone back at 10k, a full day's capacity outweighing any floor).
    """
    units = units_of(columns, limits, floor_least)
    now = totals(columns, chosen)
    short = violation(limits, floor_least, now.usage, now.floors, units)[0]
    lower = lower_rows(limits, floor_least)
    if not (short[lower] > 0).any():
        return chosen
    if previous is None:
        raise RuntimeError("the decomposition found no plan that meets every hard global rule")
    chosen = chosen.copy()
    movers = np.flatnonzero(chosen != previous)
    was, back = chosen[movers], previous[movers]
    delta_usage = columns.usage[back] - columns.usage[was]
    delta_floors = columns.floors[back] - columns.floors[was]
    after = violation(limits, floor_least, now.usage + delta_usage, now.floors + delta_floors,
                      units)[:, lower].sum(axis=1)
    mended = short[lower].sum() - after
    loss = np.maximum(columns.value[was] - columns.value[back], 0.0)
    useful = np.flatnonzero(mended > 0)
    for i in useful[np.argsort(-(mended[useful] / (loss[useful] + 1.0)), kind="stable")]:
        usage = now.usage + delta_usage[i]
        floors = now.floors + delta_floors[i]
        trial = violation(limits, floor_least, usage, floors, units)[0]
        if trial[lower].sum() >= short[lower].sum():
            continue  # those sent back mended it already
        chosen[movers[i]] = back[i]
        now = Totals(now.value + columns.value[back[i]] - columns.value[was[i]], floors, usage)
        short = trial
        if not (short[lower] > 0).any():
            return chosen
    return previous.copy()


def _rows_of(columns: Columns, limits: list[Limit]) -> np.ndarray:
    """Per column, what it adds to each row `violation` reports: usage per limit, then
    each floor."""
    return np.column_stack([columns.usage[:, lim.spec] for lim in limits] + [columns.floors])


def mend_floors(columns: Columns, chosen: np.ndarray, limits: list[Limit],
                floor_least: np.ndarray) -> np.ndarray:
    """`chosen` with customers moved, least value lost per unit of short floor or minimum
    mended first, to columns that mend a short floor or hard minimum without breaking a
    maximum that held or making another row short, until none is short (or no such move
    is left). Rounding the master's mixed customers and giving back what is over a cap
    can leave a floor a little short; a few moves to other columns bring it back."""
    units = units_of(columns, limits, floor_least)
    now = totals(columns, chosen)
    broken = violation(limits, floor_least, now.usage, now.floors, units)[0]
    lower = lower_rows(limits, floor_least)
    short = broken * lower
    if not (short > 0).any():
        return chosen
    chosen = chosen.copy()
    was = chosen[columns.customer]
    ok = was >= 0
    cand = np.flatnonzero(ok)
    was = was[ok]
    rows_of = _rows_of(columns, limits)
    sign = np.where(lower, 1.0, -1.0)  # a lower row mends by more, a maximum by less
    gain_rows = (rows_of[cand] - rows_of[was]) * sign / units
    mends = (gain_rows * (short > 0)).clip(min=0).sum(axis=1)
    loss = np.maximum(columns.value[was] - columns.value[cand], 0.0)
    useful = np.flatnonzero(mends > 0)
    order = useful[np.argsort(loss[useful] / mends[useful], kind="stable")]
    for i in order[:IMPROVE_CANDIDATES].tolist():
        column, customer = int(cand[i]), int(columns.customer[cand[i]])
        old = int(chosen[customer])
        if old == column or old != was[i]:
            continue
        usage = now.usage + columns.usage[column] - columns.usage[old]
        floors = now.floors + columns.floors[column] - columns.floors[old]
        trial = violation(limits, floor_least, usage, floors, units)[0]
        if (trial[~lower] > broken[~lower]).any() or trial[lower].sum() >= short.sum():
            continue
        chosen[customer] = column
        now = Totals(now.value + columns.value[column] - columns.value[old], floors, usage)
        broken, short = trial, trial * lower
        if not (short > 0).any():
            break
    return chosen


def revert_until_holds(columns: Columns, chosen: np.ndarray, limits: list[Limit],
                       floor_least: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """`chosen` with the fewest customers sent back to `previous` (which meets every hard
    limit and floor) for the whole to meet them too: customers whose move back mends the
    broken rows most per value it costs go first, then the rest by value; the shortest
    such prefix that holds. Sending everyone back is the previous plan, so one exists."""
    units = units_of(columns, limits, floor_least)
    movers = np.flatnonzero((chosen != previous) & (previous >= 0))
    if len(movers) == 0 or holds(columns, chosen, limits, floor_least):
        return chosen
    now = totals(columns, chosen)
    broken = violation(limits, floor_least, now.usage, now.floors, units)[0] > 0
    lower = lower_rows(limits, floor_least)
    cur, back = chosen[movers], previous[movers]
    cur_safe = np.maximum(cur, 0)
    rows_of = _rows_of(columns, limits)
    now_rows = np.where(cur[:, None] >= 0, rows_of[cur_safe], 0.0)
    delta = rows_of[back] - now_rows  # what each move back changes per row
    sign = np.where(lower, 1.0, -1.0)
    mends = ((delta * sign / units).clip(min=0) * broken).sum(axis=1)
    cost = np.where(cur >= 0, columns.value[cur_safe], 0.0) - columns.value[back]
    key = np.where(mends > 0, cost / np.maximum(mends, 1e-12), np.inf)
    order = np.lexsort((movers, cost, key))
    base = np.concatenate([now.usage[[lim.spec for lim in limits]], now.floors])
    prefix = base + np.cumsum(delta[order], axis=0)
    bound_hi = np.array([lim.ub if (lim.ub is not None and not lim.soft) else np.inf
                         for lim in limits] + [np.inf] * len(floor_least))
    bound_lo = np.array([lim.lb if (lim.lb is not None and not lim.soft) else -np.inf
                         for lim in limits] + list(floor_least))
    ok = ((prefix <= bound_hi + 1e-9) & (prefix >= bound_lo - 1e-9)).all(axis=1)
    first = int(np.argmax(ok)) if ok.any() else len(order) - 1
    out = chosen.copy()
    taken = movers[order[: first + 1]]
    out[taken] = previous[taken]
    return out if holds(columns, out, limits, floor_least) else previous.copy()


def lower_rows(limits: list[Limit], floor_least: np.ndarray) -> np.ndarray:
    """Which rows of `violation` are minimums or floors."""
    return np.r_[np.array([lim.ub is None for lim in limits], dtype=bool),
                 np.ones(len(floor_least), dtype=bool)]


def holds(columns: Columns, chosen: np.ndarray, limits: list[Limit],
          floor_least: np.ndarray) -> bool:
    """Whether an assignment meets every hard limit and floor exactly."""
    now = totals(columns, chosen)
    units = units_of(columns, limits, floor_least)
    return not (violation(limits, floor_least, now.usage, now.floors, units) > 0).any()
