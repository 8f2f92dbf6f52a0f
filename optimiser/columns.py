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


class PlanMaster:
    """The restricted master of one phase, grown plan by plan and re-solved warm.

    A customer enters the LP only once it has a second distinct plan; until then its
    previous plan is a constant, folded into the rows' limits. GLOP re-solves from the
    last basis when columns are added, so a round costs what the new columns cost.
    """

    def __init__(self, owner: np.ndarray, n_customers: int, previous: np.ndarray,
                 value: np.ndarray, rows: list[MasterRow],
                 floors: list[tuple[np.ndarray, float]]) -> None:
        self.owner, self.n_customers, self.rows, self.floors = owner, n_customers, rows, floors
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
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        self.fixed = self.previous.sum(axis=1)  # measures of customers not in the LP
        self.in_lp = np.zeros(n_customers, dtype=bool)
        self.column_customer: list[int] = []
        self.column_plan: list[int] = []
        self.column_totals: list[np.ndarray] = []
        self.variables: list[pywraplp.Variable] = []
        self.convexity: dict[int, pywraplp.Constraint] = {}
        self._build_rows()

    def _build_rows(self) -> None:
        solver, inf = self.solver, self.solver.infinity()
        self.objective = solver.Objective()
        self.objective.SetMaximization()
        self.constraints: list[pywraplp.Constraint] = []
        for _ in range(len(self.rows) + len(self.floors)):
            self.constraints.append(solver.Constraint(-inf, inf))
        n_rows = len(self.rows)
        for r, row in enumerate(self.rows):
            if row.penalty is None:
                continue
            slack = solver.NumVar(0, inf, f"slack{r}")  # in scaled row units
            self.constraints[r].SetCoefficient(slack, 1.0 if row.lb is not None else -1.0)
            if row.floor is None:
                self.objective.SetCoefficient(slack,
                                              -row.penalty * self.unit[1 + r] / self.unit[0])
            else:  # the penalty comes out of that tier's total
                measure = 1 + n_rows + row.floor
                self.constraints[measure - 1].SetCoefficient(
                    slack, -row.penalty * self.unit[1 + r] / self.unit[measure])
        self._set_limits()

    def _set_limits(self) -> None:
        """Row limits minus what the customers outside the LP use. The floors are eased by
        a hair: the previous plan meets them with no room at all, and GLOP works to a
        tolerance (rounding restores them exactly)."""
        inf = self.solver.infinity()
        n_rows = len(self.rows)
        for r, row in enumerate(self.rows):
            scale, used = self.unit[1 + r], self.fixed[1 + r]
            low = -inf if row.lb is None else (row.lb - used) / scale
            high = inf if row.ub is None else (row.ub - used) / scale
            self.constraints[r].SetBounds(low, high)
        for f, (_, least) in enumerate(self.floors):
            measure = 1 + n_rows + f
            need = (least - self.fixed[measure]) / self.unit[measure]
            self.constraints[measure - 1].SetBounds(need - 1e-6 * max(1.0, abs(need)), inf)

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
        entering = new[~self.in_lp[new]]
        if len(entering):  # their previous plan becomes a column, no longer a constant
            self.fixed -= self.previous[:, entering].sum(axis=1)
            self.in_lp[entering] = True
            for customer in entering.tolist():
                self.convexity[customer] = self.solver.Constraint(1.0, 1.0)
                self._column(customer, 0, self.previous[:, customer])
            self._set_limits()
        for customer in new.tolist():
            self._column(customer, len(self.plans) - 1, totals[:, customer])
        return len(new)

    def _column(self, customer: int, plan: int, totals: np.ndarray) -> None:
        var = self.solver.NumVar(0.0, 1.0, "")
        self.convexity[customer].SetCoefficient(var, 1.0)
        scaled = totals / self.unit
        self.objective.SetCoefficient(var, float(scaled[0]))
        for c in np.flatnonzero(scaled[1:]).tolist():
            self.constraints[c].SetCoefficient(var, float(scaled[1 + c]))
        self.column_customer.append(customer)
        self.column_plan.append(plan)
        self.column_totals.append(totals)
        self.variables.append(var)

    def solve(self) -> Choice:
        """The LP's value and duals, and its plan rounded: a customer takes a plan the LP
        gives it whole, a mixed one keeps its previous plan; then lower limits the rounding
        broke are restored."""
        n_rows = len(self.rows)
        chosen = np.zeros(self.n_customers, dtype=np.int64)  # plan number per customer
        now = self.previous.copy()
        lp_value, duals = -np.inf, np.zeros(n_rows + len(self.floors))
        if self.variables and self.solver.Solve() == pywraplp.Solver.OPTIMAL:
            lp_value = self.objective.Value() * self.unit[0] + float(self.fixed[0])
            # back to objective units per row (or floor) unit
            duals = (np.abs([c.dual_value() for c in self.constraints]) * self.unit[0]
                     / self.unit[1:])
            for column, var in enumerate(self.variables):
                if var.solution_value() > 1 - 1e-6:
                    customer = self.column_customer[column]
                    chosen[customer] = self.column_plan[column]
                    now[:, customer] = self.column_totals[column]
        elif not self.variables:
            lp_value = float(self.fixed[0])
        chosen = _restore_limits(chosen, now, self.previous, self._shortfalls)
        picked = [plan[chosen[self.owner[plan]] == p] for p, plan in enumerate(self.plans)]
        return Choice(np.sort(np.concatenate(picked)), lp_value, duals[:n_rows],
                      duals[n_rows:])


    def _floor_totals(self, used: np.ndarray) -> np.ndarray:
        """Each floor's tier total for measure totals `used`: value less the penalties of
        that tier's soft rows."""
        n_rows = len(self.rows)
        out = np.array([used[1 + n_rows + f] for f in range(len(self.floors))], dtype=float)
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
        n_rows = len(self.rows)
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
    """Send customers back to their previous plan (plan 0) until no lower limit is short,
    those that gained least per unit they took from it first. All customers on their
    previous plan is the previous joint plan, which held every limit."""
    chosen, now = chosen.copy(), now.copy()
    while chosen.any():
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
            back = np.flatnonzero(chosen)
        chosen[back] = 0
        now[:, back] = previous[:, back]
    return chosen
