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

from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp


@dataclass(frozen=True)
class MasterRow:
    """A global row as the master sees it: usage per option, and its limits. A soft row
    has a penalty per unit of violation (paid in the tier being optimised)."""

    usage: np.ndarray  # per option (row units), 0 where the option is not a member
    lb: float | None
    ub: float | None
    penalty: float | None  # None: hard


@dataclass(frozen=True)
class Choice:
    """The master's answer: the rounded plan, the LP's value and its dual prices (per
    global row, >= 0, and per floor, >= 0), which price the next plans to try."""

    sent: np.ndarray
    lp_value: float
    row_prices: np.ndarray
    floor_weights: np.ndarray


def choose_plans(owner: np.ndarray, n_customers: int, plans: list[np.ndarray],
                 previous: np.ndarray, value: np.ndarray, rows: list[MasterRow],
                 floors: list[tuple[np.ndarray, float]]) -> Choice:
    """The sent options of the best rounded mix of plans.

    owner[o]: customer of option o. Each element of `plans` is an array of sent options
    covering all customers (one dual evaluation); `previous` is the current joint plan,
    feasible for every row and floor. `floors`: (tier value per option, least total).
    """
    candidates = [previous] + plans
    signature = _signatures(owner, n_customers, candidates)
    # distinct plans per customer; customers with one plan are constants in the master
    plan_index = np.zeros((len(candidates), n_customers), dtype=np.int64)
    for p in range(1, len(candidates)):
        same = np.zeros(n_customers, dtype=bool)
        plan_index[p] = p
        for q in range(p):
            match = (signature[q] == signature[p]) & ~same
            plan_index[p][match] = plan_index[q][match]
            same |= match
    measures = [value] + [r.usage for r in rows] + [f for f, _ in floors]
    totals = np.stack([_per_customer(owner, n_customers, plan, measures)
                       for plan in candidates])  # (plan, measure, customer)
    varied = np.flatnonzero((plan_index != 0).any(axis=0))
    master = _solve_master(varied, plan_index, totals, previous_totals=totals[0], rows=rows,
                           floors=floors)
    chosen = np.zeros(n_customers, dtype=np.int64)  # plan number per customer
    lp_value, duals = -np.inf, np.zeros(len(rows) + len(floors))
    if master is not None:
        mix, weights, lp_value, duals = master
        for (customer, plan), weight in zip(mix, weights, strict=True):
            if weight > 1 - 1e-6:
                chosen[customer] = plan  # whole; mixed customers keep their previous plan
    # lower limits the rounding may have broken: the floors, and hard rows' minimums
    limits = [(1 + r, float(row.lb)) for r, row in enumerate(rows)
              if row.lb is not None and row.penalty is None]
    limits += [(1 + len(rows) + f, least) for f, (_, least) in enumerate(floors)]
    chosen = _restore_limits(chosen, totals, limits)
    picked = [np.asarray(candidates[p])[chosen[owner[candidates[p]]] == p]
              for p in range(len(candidates))]
    return Choice(np.sort(np.concatenate(picked)), lp_value, duals[: len(rows)],
                  duals[len(rows):])


def _signatures(owner: np.ndarray, n_customers: int, plans: list[np.ndarray]) -> np.ndarray:
    """A 64-bit fingerprint of each customer's part of each plan (equal parts, equal prints)."""
    rng = np.random.default_rng(20231)
    key = rng.integers(1, 2**62, size=len(owner), dtype=np.int64)
    out = np.zeros((len(plans), n_customers), dtype=np.int64)
    for p, sent in enumerate(plans):
        sums = np.zeros(n_customers, dtype=np.uint64)
        np.add.at(sums, owner[sent], key[sent].astype(np.uint64))
        out[p] = sums.view(np.int64)
    return out


def _per_customer(owner: np.ndarray, n_customers: int, sent: np.ndarray,
                  per_option: list[np.ndarray]) -> np.ndarray:
    """(measures, customers): each per-option measure summed over each customer's sends."""
    return np.stack([np.bincount(owner[sent], measure[sent].astype(float),
                                 minlength=n_customers) for measure in per_option])


def _solve_master(varied: np.ndarray, plan_index: np.ndarray, totals: np.ndarray,
                  previous_totals: np.ndarray, rows: list[MasterRow],
                  floors: list[tuple[np.ndarray, float]]
                  ) -> tuple[list[tuple[int, int]], np.ndarray, float, np.ndarray] | None:
    """max value s.t. rows, floors, one unit of plans per varied customer (LP):
    (the columns, their weights, the LP value, |dual| per row then per floor)."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    inf = solver.infinity()
    fixed = previous_totals.sum(axis=1) - previous_totals[:, varied].sum(axis=1)
    n_rows = len(rows)
    constraints = []
    objective = solver.Objective()
    # each measure in units of its largest per-customer amount, and the floors eased by a
    # hair: GLOP works to a tolerance, and the previous plan meets them with no room at all
    # (rounding below restores them exactly)
    unit = np.maximum(np.abs(totals).max(axis=(0, 2)), 1.0)
    for r, row in enumerate(rows):
        scale = unit[1 + r]
        low = -inf if row.lb is None else (row.lb - fixed[1 + r]) / scale
        high = inf if row.ub is None else (row.ub - fixed[1 + r]) / scale
        constraint = solver.Constraint(low, high)
        if row.penalty is not None:
            slack = solver.NumVar(0, inf, f"slack{r}")  # in scaled row units
            objective.SetCoefficient(slack, -row.penalty * scale / unit[0])
            constraint.SetCoefficient(slack, 1.0 if row.lb is not None else -1.0)
        constraints.append(constraint)
    for f, (_, least) in enumerate(floors):
        measure = 1 + n_rows + f
        need = (least - fixed[measure]) / unit[measure]
        constraints.append(solver.Constraint(need - 1e-6 * max(1.0, abs(need)), inf))
    columns: list[tuple[int, int]] = []
    variables = []
    for customer in varied.tolist():
        one = solver.Constraint(1.0, 1.0)
        for plan in np.unique(plan_index[:, customer]).tolist():
            var = solver.NumVar(0.0, 1.0, "")
            one.SetCoefficient(var, 1.0)
            measures = totals[plan][:, customer] / unit
            objective.SetCoefficient(var, float(measures[0]))
            for c, amount in enumerate(measures[1:]):
                if amount:
                    constraints[c].SetCoefficient(var, float(amount))
            columns.append((customer, plan))
            variables.append(var)
    objective.SetMaximization()
    status = solver.Solve()
    if status != pywraplp.Solver.OPTIMAL:
        return None
    lp_value = objective.Value() * unit[0] + float(fixed[0])
    # back to objective units per row (or floor) unit
    duals = np.abs([c.dual_value() for c in constraints]) * unit[0] / unit[1:]
    return columns, np.array([v.solution_value() for v in variables]), lp_value, duals


def _restore_limits(chosen: np.ndarray, totals: np.ndarray,
                    limits: list[tuple[int, float]]) -> np.ndarray:
    """Send customers back to their previous plan (plan 0) until every (measure, least)
    limit holds, those that gained least per unit they cost first. All customers on their
    previous plan is the previous joint plan, which held every limit."""
    chosen = chosen.copy()
    customers = np.arange(len(chosen))
    while chosen.any():
        now = totals[chosen, :, customers].T  # (measure, customer)
        short = [(m, least) for m, least in limits if now[m].sum() < least]
        if not short:
            break
        measure, least = short[0]
        lost = totals[0, measure] - now[measure]
        gain = now[0] - totals[0, 0]
        order = np.argsort(np.where(lost > 0, gain / np.maximum(lost, 1e-12), np.inf),
                           kind="stable")
        total = now[measure].sum()
        for c in order.tolist():
            if total >= least or lost[c] <= 0:
                break
            chosen[c] = 0
            total += lost[c]
        if total < least:  # nothing more to give back on this limit: all go back
            chosen[:] = 0
    return chosen
