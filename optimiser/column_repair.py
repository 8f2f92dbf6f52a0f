"""An exact repair of a rounded master assignment, over the customers it moved.

Rounding the master LP leaves a plan a little off: a floor a few units short, a
full day's capacity one send over. Mending it greedily, one customer at a time,
can fail where the fix needs two moves at once (sending a customer back mends the
tier-2 floor but breaks tier 3's; another customer's move must pay for it), and
the greedy fallback then sends everyone back to the previous phase's plan (at
10k generated customers that lost 9% of the last tier). Here the customers the
master moved (those off their previous plan) choose again among all their columns
in one small CP-SAT model, every other customer held: each row and floor exact,
the phase's value (less its own soft penalties) maximised, the rounding as the
hint (the previous plan, which meets every row, if that finds nothing).

Rows and values are integers already (scaled units); soft rows become one excess
variable each, charged to the phase's value or to the floor of their tier.
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from optimiser.master import Columns, Limit, holds, totals

REPAIR_CUSTOMERS = 5_000  # most moved customers who choose again in one model
REPAIR_WORK = 5.0  # CP-SAT deterministic seconds (at 10k: 2 find nothing, 5 a plan 0.3% off)


def repair(columns: Columns, chosen: np.ndarray, limits: list[Limit],
           floor_least: np.ndarray, choosing: np.ndarray, hint: np.ndarray,
           seed: int) -> np.ndarray | None:
    """`chosen` with customers `choosing` (the first REPAIR_CUSTOMERS of them) choosing
    again among their columns, so that every hard limit and floor holds and the phase's
    value is the most CP-SAT finds in its work limit; `hint` (a column per customer)
    guides it. None when it finds no such assignment."""
    moved = np.unique(choosing[:REPAIR_CUSTOMERS])
    moved = moved[chosen[moved] >= 0]
    if len(moved) == 0:
        return None
    held = chosen.copy()
    held[moved] = -1
    base = totals(columns, held)
    is_moved = np.zeros(columns.n_customers, dtype=bool)
    is_moved[moved] = True
    options = np.flatnonzero(is_moved[columns.customer])
    model = cp_model.CpModel()
    pick = [model.new_bool_var(f"x{j}") for j in range(len(options))]
    owner = columns.customer[options]  # ascending: options are in column order, grouped
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], moved)
    ends = np.searchsorted(owner[order], moved, side="right")
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        model.add_exactly_one(pick[k] for k in order[start:end].tolist())
    Terms = tuple[list[list[cp_model.IntVar]], list[np.ndarray]]  # variables, coefficients
    objective: Terms = ([pick], [columns.value[options]])
    charged: list[Terms] = [([], []) for _ in floor_least]
    for lim in limits:
        usage = columns.usage[options, lim.spec]
        rest = float(base.usage[lim.spec])
        if not lim.soft:
            _add(model, [pick], [usage], lim.lb, lim.ub, rest)
            continue
        reach = int(np.abs(usage).sum() + abs(rest) + abs(lim.lb or lim.ub or 0)) + 1
        excess = model.new_int_var(0, reach, f"excess{lim.spec}")
        side = 1.0 if lim.ub is not None else -1.0  # excess >= side * (usage - bound)
        bound = lim.ub if lim.ub is not None else lim.lb
        assert bound is not None
        _add(model, [[excess], pick], [np.array([-1.0]), side * usage], None,
             side * float(bound), side * rest)
        target = objective if lim.floor is None else charged[lim.floor]
        target[0].append([excess])
        target[1].append(np.array([-lim.rate]))
    for j, least in enumerate(floor_least):
        _add(model, [pick, *charged[j][0]], [columns.floors[options, j], *charged[j][1]],
             float(least), None, float(base.floors[j]))
    model.maximize(_expression(objective[0], objective[1])[0])
    hinted = np.zeros(len(columns), dtype=bool)
    hinted[hint[moved][hint[moved] >= 0]] = True
    for k, column in enumerate(options.tolist()):
        model.add_hint(pick[k], bool(hinted[column]))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = REPAIR_WORK
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    out = held
    taken = options[np.array([solver.boolean_value(p) for p in pick], dtype=bool)]
    out[columns.customer[taken]] = taken
    return out if holds(columns, out, limits, floor_least) else None


def _expression(variables: list[list[cp_model.IntVar]], coefficients: list[np.ndarray]
                ) -> tuple[cp_model.LinearExprT, int]:
    """The weighted sum of the variables at their (integral) coefficients divided by
    their common divisor (scaled values are multiples of a thousand: CP-SAT's
    propagation and search do better on the small numbers), and that divisor."""
    flat = [v for group in variables for v in group]
    coefs = np.concatenate(coefficients).round().astype(np.int64)
    nonzero = np.flatnonzero(coefs)
    divisor = int(np.gcd.reduce(np.abs(coefs[nonzero]))) if len(nonzero) else 1
    return (cp_model.LinearExpr.weighted_sum([flat[k] for k in nonzero.tolist()],
                                             (coefs[nonzero] // divisor).tolist()),
            max(divisor, 1))


def _add(model: cp_model.CpModel, variables: list[list[cp_model.IntVar]],
         coefficients: list[np.ndarray], lb: float | None, ub: float | None,
         rest: float) -> None:
    """lb <= rest + sum coefficients * variables <= ub (a missing side: no bound)."""
    expr, divisor = _expression(variables, coefficients)
    if ub is not None:
        model.add(expr <= int(np.floor((ub - rest) / divisor + 1e-9)))
    if lb is not None:
        model.add(expr >= int(np.ceil((lb - rest) / divisor - 1e-9)))
