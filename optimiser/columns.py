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
from typing import Any

import numpy as np
from ortools.linear_solver.python import model_builder as mb
from scipy import sparse


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


GLOP_PARAMETERS = "use_dual_simplex: true, use_preprocessing: false"  # see PlanMaster
ELASTIC_PRICE = 1e4  # per unit of a broken hard limit, in units of the best send's value


class PlanMaster:
    """The restricted master of one phase: every customer's distinct plans, and one LP
    over all of them (a convexity row per customer, a row per global limit and floor).

    The LP goes to GLOP in one call, built from sparse arrays, and is solved by the dual
    simplex without presolve: from the slack basis it needs few pivots, since only the
    few limits couple customers, and GLOP's presolve costs more than it saves here (on
    30,000 generated customers, 0.6 s against 7.4 s with the defaults).
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

    def solve(self) -> Choice:
        """The LP's value and duals, and its plan rounded: a customer takes a plan the LP
        gives it whole, a mixed one keeps its previous plan; then lower limits the rounding
        broke are restored. If the plans so far cannot meet a hard limit (the first phase's
        stand-in previous plan need not), the limits become elastic at a steep price."""
        solved = self._solve_lp(elastic=False) or self._solve_lp(elastic=True)
        if solved is None:  # numerical trouble: the previous plan
            chosen = np.arange(self.n_customers)
            lp_value, duals = -np.inf, np.zeros(self.n_rows + self.n_floors)
        else:
            chosen, lp_value, duals = solved
        now = self.totals[:, chosen]
        chosen = _restore_limits(chosen, now, self.previous, self._shortfalls)
        plan_of = self.plan[chosen]
        picked = [plan[plan_of[self.owner[plan]] == p] for p, plan in enumerate(self.plans)]
        return Choice(np.sort(np.concatenate(picked)), lp_value, duals[: self.n_rows],
                      duals[self.n_rows:])

    def _solve_lp(self, elastic: bool) -> tuple[np.ndarray, float, np.ndarray] | None:
        """(column per customer, LP value, |duals| per row and floor), None when the LP
        has no solution. Every measure is in its `unit` (GLOP's tolerances are absolute).

        Variables: one weight per column, then one slack per soft row (and, if `elastic`,
        per hard limit and floor). Constraints: the rows, the floors, then one convexity
        row per customer."""
        unit, n_rows, n_floors = self.unit, self.n_rows, self.n_floors
        n_columns, n_limits = len(self.customer), n_rows + n_floors
        scaled = self.totals / unit[:, None]
        limit_at, column_at = np.nonzero(scaled[1:])
        entries = [(limit_at, column_at, scaled[1:][limit_at, column_at])]
        objective = [scaled[0]]
        low, high = np.full(n_limits, -np.inf), np.full(n_limits, np.inf)
        for r, row in enumerate(self.rows):
            if row.lb is not None:
                low[r] = row.lb / unit[1 + r]
            if row.ub is not None:
                high[r] = row.ub / unit[1 + r]
        for f, (_, least) in enumerate(self.floors):
            # eased by a hair: the previous plan meets a floor with no room at all, and
            # GLOP works to a tolerance (rounding restores the floors exactly)
            need = least / unit[1 + n_rows + f]
            low[n_rows + f] = need - 1e-6 * max(1.0, abs(need))
        slacks: list[tuple[int, float, float, int | None]] = []  # limit, sign, price, floor
        for r, row in enumerate(self.rows):
            sign = 1.0 if row.lb is not None else -1.0
            if row.penalty is not None:  # in this tier's objective, or out of a floor's
                slacks.append((r, sign, row.penalty * unit[1 + r], row.floor))
            elif elastic:
                slacks.append((r, sign, ELASTIC_PRICE * unit[0], None))
        if elastic:
            slacks += [(n_rows + f, 1.0, ELASTIC_PRICE * unit[0], None)
                       for f in range(n_floors)]
        for k, (limit, sign, price, floor) in enumerate(slacks):
            variable = np.array([n_columns + k])
            entries.append((np.array([limit]), variable, np.array([sign])))
            if floor is None:
                objective.append(np.array([-price / unit[0]]))
            else:
                objective.append(np.zeros(1))
                measure = 1 + n_rows + floor
                entries.append((np.array([measure - 1]), variable,
                                np.array([-price / unit[measure]])))
        entries.append((n_limits + self.customer, np.arange(n_columns), np.ones(n_columns)))
        n_variables = n_columns + len(slacks)
        matrix = sparse.csr_matrix(
            (np.concatenate([e[2] for e in entries]),
             (np.concatenate([e[0] for e in entries]), np.concatenate([e[1] for e in entries]))),
            shape=(n_limits + self.n_customers, n_variables))
        ones = np.ones(self.n_customers)
        model = mb.Model()
        helper: Any = model.helper  # its stub's array types name no valid ndarray shape
        helper.fill_model_from_sparse_data(
            np.zeros(n_variables), np.r_[np.ones(n_columns), np.full(len(slacks), np.inf)],
            np.concatenate(objective), np.r_[low, ones], np.r_[high, ones], matrix)
        helper.set_maximize(True)
        solver = mb.Solver("glop")
        solver.set_solver_specific_parameters(GLOP_PARAMETERS)
        if solver.solve(model) != mb.SolveStatus.OPTIMAL:
            return None
        weights = solver.values(model.get_variables()).to_numpy()[:n_columns]
        chosen = np.arange(self.n_customers)  # a mixed customer keeps its previous plan
        whole = np.flatnonzero(weights > 1 - 1e-6)
        chosen[self.customer[whole]] = whole
        lp_value = solver.objective_value * unit[0]
        # back to objective units per row (or floor) unit
        duals = np.abs([solver.dual_value(model.linear_constraint_from_index(i))
                        for i in range(n_limits)]) * unit[0] / unit[1:]
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
