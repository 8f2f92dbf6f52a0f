"""Solve a sub-problem of a Block with CP-SAT, lexicographically by priority tier.

Tier 1 is maximised first; its achieved value is then fixed as a lower bound
while tier 2 is maximised, and so on: no gain in a lower tier can pay for a
loss in a higher one. Each tier's solver bound is kept, so the reported bound
is an honest upper bound on the objective with higher tiers at their achieved
values (spec section 5).

When the model is infeasible we solve it again with one assumption literal
per rule and per mandatory candidate; CP-SAT's infeasibility core names the
rules that conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from optimiser.block import Block, Row

STATUS_NAMES = {
    cp_model.OPTIMAL: "OPTIMAL",
    cp_model.FEASIBLE: "FEASIBLE",
    cp_model.INFEASIBLE: "INFEASIBLE",
    cp_model.MODEL_INVALID: "INVALID",
    cp_model.UNKNOWN: "UNKNOWN",
}


@dataclass
class SolverOptions:
    time_limit_s: float = 60.0
    seed: int = 0
    workers: int = 1
    parameters: dict[str, object] = field(default_factory=dict)
    strategy: str = "auto"  # coupled customers: auto | joint | decompose


@dataclass
class SubResult:
    """Outcome of one sub-problem: chosen option variables and per-tier figures (scaled)."""

    sent: np.ndarray  # block option indices that are sent
    status: str
    achieved: dict[int, int]  # tier -> scaled objective achieved
    bound: dict[int, float]  # tier -> scaled upper bound
    conflict: list[str] = field(default_factory=list)  # rule names in an infeasibility core


@dataclass
class SubProblem:
    """Which variables and rows of a block form one independent model."""

    option_vars: np.ndarray
    indicator_vars: np.ndarray
    slack_ids: np.ndarray
    rows: np.ndarray


def solve_greedy(block: Block, sub: SubProblem) -> SubResult:
    """Only 'one option per candidate' rows: take each candidate's best option if it pays.

    This is exact: nothing links two candidates, so the best choice of each is optimal.
    """
    options = block.options.iloc[sub.option_vars]
    coef = options["coef"].to_numpy(float)
    # best option per candidate; ties broken by earliest day, then channel order
    order = np.lexsort(
        (
            options["channel"].to_numpy(),
            options["day"].to_numpy(),
            -coef,
            options["cand"].to_numpy(),
        )
    )
    best = options.iloc[order].drop_duplicates("cand")
    take = best[(best["coef"] > 0) | best["mandatory"]]
    sent = np.sort(take.index.to_numpy(np.int64))
    achieved: dict[int, int] = {}
    for tier in block.objective:
        coefs = block.objective[tier]
        achieved[tier] = int(coefs[sent].sum())
    return SubResult(sent, "OPTIMAL", achieved, {t: float(v) for t, v in achieved.items()})


class _Model:
    """A CpModel over one sub-problem's variables and rows."""

    def __init__(self, block: Block, sub: SubProblem, assumptions: bool = False) -> None:
        self.model = cp_model.CpModel()
        self.block = block
        self.sub = sub
        self.var: dict[int, cp_model.IntVar] = {}
        for index in np.concatenate([sub.option_vars, sub.indicator_vars]):
            self.var[int(index)] = self.model.new_bool_var(f"v{index}")
        for slack_id in sub.slack_ids:
            slack = block.slacks[int(slack_id)]
            index = block.slack_var(int(slack_id))
            self.var[index] = self.model.new_int_var(0, slack.ub, f"s{slack_id}")
        self.literals: dict[str, cp_model.IntVar] = {}
        for row_id in sub.rows:
            self._add_row(block.rows[int(row_id)], assumptions)

    def _add_row(self, row: Row, assumptions: bool) -> None:
        expr = cp_model.LinearExpr.weighted_sum(
            [self.var[int(v)] for v in row.vars], [int(c) for c in row.coefs]
        )
        low = row.lb if row.lb is not None else cp_model.INT_MIN
        high = row.ub if row.ub is not None else cp_model.INT_MAX
        constraint = self.model.add_linear_constraint(expr, low, high)
        if assumptions and not row.link:
            name = row.rule
            if row.reason in ("candidate", "duplicate") and row.lb is None:
                return  # "at most once" never causes infeasibility
            if row.reason in ("candidate", "duplicate"):
                # a must-send row: name the mandatory candidates it stands for
                cands = np.unique(self.block.options["cand"].to_numpy()[row.vars])
                name = "candidate:" + ",".join(str(int(c)) for c in cands)
            if name not in self.literals:
                self.literals[name] = self.model.new_bool_var(f"assume:{name}")
            constraint.only_enforce_if(self.literals[name])

    def tier_expr(self, tier: int) -> cp_model.LinearExpr:
        coefs = self.block.objective.get(tier)
        terms: list[cp_model.IntVar] = []
        weights: list[int] = []
        if coefs is not None:
            for index in self.sub.option_vars:
                if coefs[index]:
                    terms.append(self.var[int(index)])
                    weights.append(int(coefs[index]))
        for slack_id in self.sub.slack_ids:
            slack = self.block.slacks[int(slack_id)]
            if slack.tier == tier and slack.penalty:
                terms.append(self.var[self.block.slack_var(int(slack_id))])
                weights.append(-slack.penalty)
        return cp_model.LinearExpr.weighted_sum(terms, weights)


# CP-SAT counts "deterministic time", a measure of work that is the same on every run,
# whatever the machine's load. We stop solves on it so that the same scenario and seed
# give the same plan. Measured on this 2-core machine (loaded by other work): GS1's
# joint model does 0.18 to 0.23 deterministic units per wall second and first reaches
# 151,024 at about 9 units; retail_bank_week's hardest tier about 0.14. At 0.25 a
# `--time-limit 60` run gets 15 units: about 60 s when the machine is idle, longer
# when it is busy, and the same plan either way.
DETERMINISTIC_PER_SECOND = 0.25
WALL_CAP_FACTOR = 3.0  # a wall-clock safety net only: never the planned stopping point


def _solver(options: SolverOptions, work: float) -> cp_model.CpSolver:
    """A solver stopping after `work` deterministic units (see DETERMINISTIC_PER_SECOND)."""
    solver = cp_model.CpSolver()
    params = solver.parameters
    # one thread: a tie between optima is then broken the same way every run, whatever the
    # number of processes (solver.parameters.num_workers in the scenario may override)
    params.num_workers = 1
    params.random_seed = options.seed
    params.max_deterministic_time = max(work, 0.001)
    params.max_time_in_seconds = max(options.time_limit_s * WALL_CAP_FACTOR, 1.0)
    params.linearization_level = 2
    for key, value in options.parameters.items():
        setattr(params, key, value)
    return solver


def tiers_of(block: Block, sub: SubProblem) -> list[int]:
    tiers = {tier for tier, coefs in block.objective.items() if np.any(coefs[sub.option_vars] != 0)}
    tiers |= {block.slacks[int(s)].tier for s in sub.slack_ids}
    return sorted(tiers)


def trivial_bound(block: Block, sub: SubProblem, tier: int) -> float:
    """An upper bound on a tier's objective with no solve: every candidate at its best option
    if that pays (penalties only lower it)."""
    coefs = block.objective.get(tier)
    if coefs is None or len(sub.option_vars) == 0:
        return 0.0
    frame = pd.DataFrame({"cand": block.options["cand"].to_numpy()[sub.option_vars],
                          "coef": coefs[sub.option_vars]})
    best = frame.groupby("cand")["coef"].max()
    return float(best[best > 0].sum())


def tier_budget(remaining: float, tiers_after: int) -> float:
    """Work for the next tier: most of what is left, keeping 10% per later tier, since a
    higher tier matters more than every lower one together."""
    return remaining * max(0.1, 1.0 - 0.1 * tiers_after)


def solve_cpsat(
    block: Block, sub: SubProblem, options: SolverOptions, time_limit: float | None = None
) -> SubResult:
    """Lexicographic CP-SAT solve; on infeasibility, a core of conflicting rules.

    Every tier gets an honest bound: the solver's when it ran, a trivial one when the time
    ran out before the tier was reached.
    """
    built = _Model(block, sub)
    # a row with no variables is settled now: CP-SAT would silently drop an impossible one
    impossible = [
        row.rule
        for row in (block.rows[int(r)] for r in sub.rows)
        if len(row.vars) == 0 and not ((row.lb or 0) <= 0 <= (0 if row.ub is None else row.ub))
    ]
    if impossible:
        return SubResult(np.array([], dtype=np.int64), "INFEASIBLE", {}, {}, sorted(impossible))
    tiers = tiers_of(block, sub) or [1]
    achieved: dict[int, int] = {}
    bound: dict[int, float] = {}
    status_name = "OPTIMAL"
    values: np.ndarray | None = None
    seconds = options.time_limit_s if time_limit is None else time_limit
    work_left = seconds * DETERMINISTIC_PER_SECOND
    for position, tier in enumerate(tiers):
        expr = built.tier_expr(tier)
        built.model.maximize(expr)
        solver = _solver(options, tier_budget(work_left, len(tiers) - position - 1))
        status = solver.solve(built.model)
        if status == cp_model.INFEASIBLE:
            return SubResult(
                np.array([], dtype=np.int64),
                "INFEASIBLE",
                {},
                {},
                diagnose(block, sub, options),
            )
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if values is None:
                return SubResult(np.array([], dtype=np.int64), "UNKNOWN", {}, {})
            status_name = "FEASIBLE"
            for later in tiers[position:]:
                bound[later] = trivial_bound(block, sub, later)
                coefs = block.objective.get(later)
                achieved[later] = (
                    0 if coefs is None else int(coefs[sub.option_vars][values > 0].sum())
                )
            break  # (the solver's bound is not trustworthy without a solution: keep trivial)
        if status == cp_model.FEASIBLE:
            status_name = "FEASIBLE"
        work_left = max(work_left - solver.deterministic_time, 0.0)
        values = np.array([solver.value(built.var[int(i)]) for i in sub.option_vars])
        achieved[tier] = int(round(solver.objective_value))
        bound[tier] = float(solver.best_objective_bound)
        if status != cp_model.OPTIMAL:
            # both are upper bounds; an early-stopped solver's can be the looser one
            bound[tier] = min(bound[tier], trivial_bound(block, sub, tier))
        built.model.add(expr >= achieved[tier])
        if position == len(tiers) - 2:
            # Measured on retail_bank_week: a hint from the tier above slows the search of a
            # middle tier (21 s optimal without, not optimal in 30 s with), but the last tier
            # often finds no solution at all without one. So only the last tier gets it.
            for variable in built.var.values():
                built.model.add_hint(variable, solver.value(variable))
    assert values is not None
    sent = sub.option_vars[values > 0]
    return SubResult(sent, status_name, achieved, bound)


def diagnose(block: Block, sub: SubProblem, options: SolverOptions) -> list[str]:
    """Names of the rules (and mandatory candidates) in an infeasibility core."""
    built = _Model(block, sub, assumptions=True)
    literals = built.literals
    built.model.add_assumptions(list(literals.values()))
    solver = _solver(options, max(options.time_limit_s * DETERMINISTIC_PER_SECOND, 5.0))
    status = solver.solve(built.model)
    if status != cp_model.INFEASIBLE:
        return sorted(literals)
    core = set(solver.sufficient_assumptions_for_infeasibility())
    return sorted(name for name, lit in literals.items() if lit.index in core)
