"""Choose each customer's plan among the plans the dual search produced (a restricted
Dantzig-Wolfe master, solved as an LP by GLOP, then rounded).

Every evaluation of the Lagrangian dual solves every customer exactly under some prices,
so each customer leaves the dual search with a handful of plans that are each feasible
for its own rules. Near the optimal prices these plans are the building blocks of a
near-optimal joint plan: by Shapley-Folkman, a master LP that picks a convex mix of
plans per customer, subject to the few global rows and the higher tiers' totals, mixes
at most one customer per global row; all others take one plan whole.

The master is what per-customer floors cannot be: a higher tier must keep its total,
not each customer's share of it, so a service message may move from a customer with a
sales opportunity to one without. Rounding keeps the higher tiers' totals exactly: a
customer the LP mixed takes its previous plan, and if a total still fell short the
customers that gained least for it go back to their previous plans too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp


@dataclass(frozen=True)
class MasterRow:
    """A global row as the master sees it: usage per option, and its limits. A soft row
    has a penalty per unit of violation, paid in the tier being optimised or, for a
    higher tier's row, out of that tier's floor."""

    usage: np.ndarray  # per option (row units), 0 where the option is not a member
    lb: float | None
    ub: float | None
    penalty: float | None  # None: hard
    floor: int | None = None  # the floor (index) whose tier pays the penalty; None: this one


@dataclass(frozen=True)
class Choice:
    """The master's answer: the rounded plan, the LP's value and its dual prices (per
    global row, >= 0, and per floor, >= 0), which price the next plans to try."""

    sent: np.ndarray
    lp_value: float
    row_prices: np.ndarray
    floor_weights: np.ndarray


FREE_CUSTOMERS = 3000  # customers the master LP may mix; the rest take their best plan


class PlanMaster:
    """The restricted master of one phase: every customer's distinct plans, and an LP over
    those of the customers the prices leave undecided.

    Under the current prices each customer has a best plan; most prefer it by a wide
    margin, and any sensible mix gives it to them whole. The LP is solved over the
    FREE_CUSTOMERS customers with the smallest margins, the others fixed at their best
    plan, so its size does not grow with the customer base. Fixed customers may ask a
    limit for more than the free ones can make up: then four times as many are free, and
    if that is still not enough only customers whose best plan asks no limit for more than
    their previous plan are fixed (the previous plan proves that LP feasible), and four
    times FREE_CUSTOMERS of the others, those that gain most, are free.
    """

    def __init__(self, owner: np.ndarray, n_customers: int, previous: np.ndarray,
                 value: np.ndarray, rows: list[MasterRow],
                 floors: list[tuple[np.ndarray, float]]) -> None:
        self.owner, self.n_customers, self.rows = owner, n_customers, rows
        self.n_rows, self.n_floors = len(rows), len(floors)
        self.measures = [value] + [r.usage for r in rows] + [f for f, _ in floors]
        self.plans = [previous]
        self.previous = self._totals(previous)  # (measure, customer)
        # a repair since a floor was set may have cost its tier a little: the previous plan
        # is the fallback, so no floor asks more than it holds
        held = self._floor_totals(self.previous.sum(axis=1))
        self.floors = [(m, min(least, float(held[f]))) for f, (m, least) in enumerate(floors)]
        self.key = np.random.default_rng(20231).integers(1, 2**62, size=len(self.measures),
                                                          dtype=np.int64).astype(np.uint64)
        self.known = np.sort(self._keys(self.previous))  # (customer, plan) prints seen
        # every measure in units of its largest amount per send (GLOP's tolerances): the
        # previous plan alone may not show the scale (nothing of this tier sent yet)
        self.unit = np.array([max(float(np.abs(m).max(initial=0.0)), 1.0)
                              for m in self.measures])
        # the columns: each customer's previous plan first, then what `add` brings
        self.customer = np.arange(n_customers)
        self.plan = np.zeros(n_customers, dtype=np.int64)
        self.totals = self.previous.copy()  # (measure, column)
        # a row's price costs its users (a maximum) or rewards them (a minimum)
        self.sign = np.array([-1.0 if r.ub is not None else 1.0 for r in rows]
                             + [1.0] * len(floors))

    def _totals(self, sent: np.ndarray) -> np.ndarray:
        """(measure, customer): each measure summed over each customer's sends."""
        return np.stack([np.bincount(self.owner[sent], m[sent].astype(float),
                                     minlength=self.n_customers) for m in self.measures])

    def _keys(self, totals: np.ndarray) -> np.ndarray:
        """A 64-bit fingerprint per customer of its measures (customer mixed in). Two plans
        of one customer with equal measures are the same column to the LP (a send moved to
        another day, say), so only the first of them enters."""
        whole = np.round(totals).astype(np.int64).view(np.uint64)  # integer units
        with np.errstate(over="ignore"):
            prints = (whole * self.key[:, None]).sum(axis=0, dtype=np.uint64)
            salt = np.arange(self.n_customers, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return (prints ^ salt).view(np.int64)

    def add(self, plan: np.ndarray) -> int:
        """Offer every customer its part of `plan`; returns how many were new to it."""
        totals = self._totals(plan)
        keys = self._keys(totals)
        new = np.flatnonzero(~np.isin(keys, self.known))
        if len(new) == 0:
            return 0
        self.known = np.sort(np.concatenate([self.known, keys[new]]))
        self.plans.append(plan)
        self.customer = np.concatenate([self.customer, new])
        self.plan = np.concatenate([self.plan, np.full(len(new), len(self.plans) - 1)])
        self.totals = np.concatenate([self.totals, totals[:, new]], axis=1)
        return len(new)

    def solve(self, row_prices: np.ndarray, floor_weights: np.ndarray) -> Choice:
        """The LP's value and duals, and its plan rounded: a customer takes a plan the LP
        gives it whole, a mixed one keeps its previous plan; then lower limits the rounding
        broke are restored. The prices (objective units per row or floor unit) decide which
        customers the LP may mix."""
        prices = np.concatenate([row_prices, floor_weights]) * self.sign
        reduced = self.totals[0] + prices @ self.totals[1:]
        # per customer, its best column (the earliest among equals) and the margin to the next
        order = np.lexsort((np.arange(len(reduced)), -reduced, self.customer))
        first = np.r_[True, self.customer[order][1:] != self.customer[order][:-1]]
        best = np.empty(self.n_customers, dtype=np.int64)
        best[self.customer[order][first]] = order[first]
        margin = np.full(self.n_customers, np.inf)
        second = np.r_[False, first[:-1]] & ~first
        margin[self.customer[order][second]] = (reduced[best[self.customer[order][second]]]
                                                 - reduced[order][second])
        undecided = np.flatnonzero(np.isfinite(margin))
        by_margin = undecided[np.argsort(margin[undecided], kind="stable")]
        choice = None
        for count in (FREE_CUSTOMERS, 4 * FREE_CUSTOMERS):
            choice = self._solve_lp(best, by_margin[:count])
            if choice is not None:
                break
        if choice is None:
            # the customers fixed at their best take more of some limit than the free ones
            # can make up: fix only those whose best plan is safe (asks no limit for more
            # than their previous plan); the LP decides for the others that gain most
            unsafe = self._unsafe(best)
            gain = reduced[best] - reduced[np.arange(self.n_customers)]
            ranked = unsafe[np.argsort(-gain[unsafe], kind="stable")]
            safe_best = best.copy()
            safe_best[unsafe] = unsafe  # column c is customer c's previous plan
            choice = self._solve_lp(safe_best, ranked[: 4 * FREE_CUSTOMERS])
        if choice is None:  # numerical trouble: the previous plan
            chosen, lp_value = np.arange(self.n_customers), -np.inf
            duals = np.zeros(len(prices))
        else:
            chosen, lp_value, duals = choice
        now = self.totals[:, chosen]
        chosen = _restore_limits(chosen, now, self.previous, self._shortfalls)
        plan_of = self.plan[chosen]
        picked = [plan[plan_of[self.owner[plan]] == p] for p, plan in enumerate(self.plans)]
        return Choice(np.sort(np.concatenate(picked)), lp_value, duals[: self.n_rows],
                      duals[self.n_rows:])

    def _unsafe(self, best: np.ndarray) -> np.ndarray:
        """Customers whose `best` column asks some limit for more than their previous plan:
        more of a maximum, less of a hard minimum or of a floor."""
        customers = np.arange(self.n_customers)
        mine, before = self.totals[:, best], self.totals[:, customers]
        worse = np.zeros(self.n_customers, dtype=bool)
        for r, row in enumerate(self.rows):
            if row.penalty is not None and row.floor is None:
                continue  # priced in this tier's objective: never infeasible
            if row.ub is not None:
                worse |= mine[1 + r] > before[1 + r]
            if row.lb is not None:
                worse |= mine[1 + r] < before[1 + r]
        for f in range(self.n_floors):
            measure = 1 + self.n_rows + f
            worse |= mine[measure] < before[measure]
        return np.flatnonzero(worse)

    def _solve_lp(self, best: np.ndarray, free: np.ndarray
                  ) -> tuple[np.ndarray, float, np.ndarray] | None:
        """(column per customer, LP value, |duals|) with `free` customers mixed and the
        others on their `best` column; None when that LP has no solution."""
        solver = pywraplp.Solver.CreateSolver("GLOP")
        inf = solver.infinity()
        unit, n_rows = self.unit, self.n_rows
        is_free = np.zeros(self.n_customers, dtype=bool)
        is_free[free] = True
        fixed = self.totals[:, best[~is_free]].sum(axis=1)
        objective = solver.Objective()
        objective.SetMaximization()
        constraints = []
        for r, row in enumerate(self.rows):
            low = -inf if row.lb is None else (row.lb - fixed[1 + r]) / unit[1 + r]
            high = inf if row.ub is None else (row.ub - fixed[1 + r]) / unit[1 + r]
            constraints.append(solver.Constraint(low, high))
        for f, (_, least) in enumerate(self.floors):
            # eased by a hair: the previous plan meets a floor with no room at all, and
            # GLOP works to a tolerance (rounding restores the floors exactly)
            need = (least - fixed[1 + n_rows + f]) / unit[1 + n_rows + f]
            constraints.append(solver.Constraint(need - 1e-6 * max(1.0, abs(need)), inf))
        for r, row in enumerate(self.rows):
            if row.penalty is None:
                continue
            slack = solver.NumVar(0, inf, f"slack{r}")  # in scaled row units
            constraints[r].SetCoefficient(slack, 1.0 if row.lb is not None else -1.0)
            if row.floor is None:
                objective.SetCoefficient(slack, -row.penalty * unit[1 + r] / unit[0])
            else:  # the penalty comes out of that tier's total
                measure = 1 + n_rows + row.floor
                constraints[measure - 1].SetCoefficient(
                    slack, -row.penalty * unit[1 + r] / unit[measure])
        columns = np.flatnonzero(is_free[self.customer])
        scaled = self.totals[:, columns] / unit[:, None]
        convexity = {int(c): solver.Constraint(1.0, 1.0) for c in free}
        variables = []
        for position, column in enumerate(columns.tolist()):
            var = solver.NumVar(0.0, 1.0, "")
            convexity[int(self.customer[column])].SetCoefficient(var, 1.0)
            objective.SetCoefficient(var, float(scaled[0, position]))
            for c in np.flatnonzero(scaled[1:, position]).tolist():
                constraints[c].SetCoefficient(var, float(scaled[1 + c, position]))
            variables.append(var)
        if solver.Solve() != pywraplp.Solver.OPTIMAL:
            return None
        chosen = best.copy()
        chosen[free] = free  # a mixed customer keeps its previous plan (column = customer)
        weights = np.array([v.solution_value() for v in variables])
        whole = columns[weights > 1 - 1e-6]
        chosen[self.customer[whole]] = whole
        lp_value = objective.Value() * unit[0] + float(fixed[0])
        # back to objective units per row (or floor) unit
        duals = np.abs([c.dual_value() for c in constraints]) * unit[0] / unit[1:]
        return chosen, lp_value, duals

    def _floor_totals(self, used: np.ndarray) -> np.ndarray:
        """Each floor's tier total for measure totals `used`: value less the penalties of
        that tier's soft rows."""
        n_rows = self.n_rows
        out = np.array([used[1 + n_rows + f] for f in range(self.n_floors)], dtype=float)
        for r, row in enumerate(self.rows):
            if row.floor is not None and row.penalty is not None:
                over = max(0.0, used[1 + r] - row.ub) if row.ub is not None else 0.0
                under = max(0.0, row.lb - used[1 + r]) if row.lb is not None else 0.0
                out[row.floor] -= row.penalty * (over + under)
        return out

    def _shortfalls(self, now: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """Each lower limit `now` (per customer) breaks, as (amount short, what each customer
        took from it against its previous plan): a hard row's minimum, or a floor (its
        tier's value less the penalties of its soft rows that are broken)."""
        n_rows = self.n_rows
        used = now.sum(axis=1)
        taken = self.previous - now
        out = [(float(row.lb) - used[1 + r], -taken[1 + r])
               for r, row in enumerate(self.rows)
               if row.lb is not None and row.penalty is None and used[1 + r] < row.lb]
        for f, total in enumerate(self._floor_totals(used)):
            if total >= self.floors[f][1]:
                continue
            lost = taken[1 + n_rows + f].copy()
            for r, row in enumerate(self.rows):
                if row.floor != f or row.penalty is None:
                    continue
                if row.lb is not None and used[1 + r] < row.lb:
                    lost += row.penalty * taken[1 + r]  # fewer units under a minimum
                if row.ub is not None and used[1 + r] > row.ub:
                    lost -= row.penalty * taken[1 + r]  # more units over a maximum
            out.append((self.floors[f][1] - total, lost))
        return out


def _restore_limits(chosen: np.ndarray, now: np.ndarray, previous: np.ndarray,
                    shortfalls: Callable[[np.ndarray], list[tuple[float, np.ndarray]]]
                    ) -> np.ndarray:
    """Send customers back to their previous plan (column c for customer c) until no lower
    limit is short, those that gained least per unit they took from it first. All
    customers on their previous plan is the previous joint plan, which held every limit."""
    chosen, now = chosen.copy(), now.copy()
    customers = np.arange(len(chosen))
    while (chosen != customers).any():
        short = shortfalls(now)
        if not short:
            break
        missing, lost = short[0]
        gain = now[0] - previous[0]
        order = np.argsort(np.where(lost > 0, gain / np.maximum(lost, 1e-12), np.inf),
                           kind="stable")
        given = np.maximum(lost[order], 0)
        back = order[(np.cumsum(given) - given < missing) & (given > 0)]
        if len(back) == 0:  # nothing more to give back on this limit: all go back
            back = np.flatnonzero(chosen != customers)
        chosen[back] = back
        now[:, back] = previous[:, back]
    return chosen
