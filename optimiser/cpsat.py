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
from ortools.sat.python import cp_model

from optimiser.block import Block

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

    def _add_row(self, row, assumptions: bool) -> None:  # type: ignore[no-untyped-def]
        expr = cp_model.LinearExpr.weighted_sum(
            [self.var[int(v)] for v in row.vars], [int(c) for c in row.coefs]
        )
        low = row.lb if row.lb is not None else cp_model.INT_MIN
        high = row.ub if row.ub is not None else cp_model.INT_MAX
        constraint = self.model.add_linear_constraint(expr, low, high)
        if assumptions and not row.link:
            name = row.rule
            if row.reason == "candidate" and row.lb is None:
                return  # "at most once" never causes infeasibility
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


def _solver(options: SolverOptions, time_limit: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = max(1, options.workers)
    params.random_seed = options.seed
    params.max_time_in_seconds = max(time_limit, 0.01)
    params.linearization_level = 2
    for key, value in options.parameters.items():
        setattr(params, key, value)
    return solver


def tiers_of(block: Block, sub: SubProblem) -> list[int]:
    tiers = {tier for tier, coefs in block.objective.items() if np.any(coefs[sub.option_vars] != 0)}
    tiers |= {block.slacks[int(s)].tier for s in sub.slack_ids}
    return sorted(tiers)


def solve_cpsat(
    block: Block, sub: SubProblem, options: SolverOptions, time_limit: float
) -> SubResult:
    """Lexicographic CP-SAT solve; on infeasibility, a core of conflicting rules."""
    built = _Model(block, sub)
    tiers = tiers_of(block, sub) or [1]
    achieved: dict[int, int] = {}
    bound: dict[int, float] = {}
    status_name = "OPTIMAL"
    values: np.ndarray | None = None
    share = time_limit / len(tiers)
    for position, tier in enumerate(tiers):
        expr = built.tier_expr(tier)
        built.model.maximize(expr)
        solver = _solver(options, share * (position + 1) if position == len(tiers) - 1 else share)
        status = solver.solve(built.model)
        if status == cp_model.INFEASIBLE:
            return SubResult(
                np.array([], dtype=np.int64),
                "INFEASIBLE",
                {},
                {},
                diagnose(block, sub, options, time_limit),
            )
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if values is None:
                return SubResult(np.array([], dtype=np.int64), "UNKNOWN", {}, {})
            break
        if status == cp_model.FEASIBLE:
            status_name = "FEASIBLE"
        values = np.array([solver.value(built.var[int(i)]) for i in sub.option_vars])
        achieved[tier] = int(round(solver.objective_value))
        bound[tier] = float(solver.best_objective_bound)
        built.model.add(expr >= achieved[tier])
        built.model.clear_hints()
        for index in list(sub.option_vars) + list(sub.indicator_vars):
            built.model.add_hint(built.var[int(index)], solver.value(built.var[int(index)]))
    assert values is not None
    sent = sub.option_vars[values > 0]
    return SubResult(sent, status_name, achieved, bound)


def diagnose(block: Block, sub: SubProblem, options: SolverOptions, time_limit: float) -> list[str]:
    """Names of the rules (and mandatory candidates) in an infeasibility core."""
    built = _Model(block, sub, assumptions=True)
    literals = built.literals
    built.model.add_assumptions(list(literals.values()))
    solver = _solver(SolverOptions(time_limit, options.seed, 1, {}), max(time_limit, 5.0))
    status = solver.solve(built.model)
    if status != cp_model.INFEASIBLE:
        return sorted(literals)
    core = set(solver.sufficient_assumptions_for_infeasibility())
    return sorted(name for name, lit in literals.items() if lit.index in core)
