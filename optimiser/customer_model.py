"""One customer's CP-SAT model: the exact fallback of the compiled customer search.

`optimiser.customers.CustomerBatch` solves customers with a compiled
branch-and-bound; the rare customer it cannot settle (node limit, a row shape
it cannot prune soundly) is built here once and re-solved under new
objectives with assumption literals for phases, floors and bans.
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from optimiser.block import Block
from optimiser.cpsat import SubProblem


class CustomerModel:
    """One customer's CP-SAT model, built once and re-solved under new prices."""

    def __init__(self, block: Block, sub: SubProblem, tiers: np.ndarray,
                 free_from: np.ndarray, seed: int) -> None:
        self.sub = sub
        self.model = cp_model.CpModel()
        self.x = {int(i): self.model.new_bool_var("") for i in sub.option_vars}
        indicators = {int(i): self.model.new_bool_var("") for i in sub.indicator_vars}
        variables = {**self.x, **indicators}
        for row_id in sub.rows:
            row = block.rows[int(row_id)]
            expr = cp_model.LinearExpr.weighted_sum([variables[int(v)] for v in row.vars],
                                                    [int(c) for c in row.coefs])
            self.model.add_linear_constraint(
                expr, cp_model.INT_MIN if row.lb is None else row.lb,
                cp_model.INT_MAX if row.ub is None else row.ub)
        self.options = sub.option_vars
        self.tier = tiers[self.options]
        self.free_from = free_from[self.options]
        self.floor_literals: dict[int, cp_model.IntVar] = {}
        self.off_literals: dict[int, cp_model.IntVar] = {}
        for phase in np.unique(self.free_from):
            late = self.options[self.free_from == phase]
            literal = self.model.new_bool_var("")
            self.model.add(sum(self.x[int(i)] for i in late) <= 0).only_enforce_if(literal)
            self.off_literals[int(phase)] = literal
        self.solver = cp_model.CpSolver()
        self.solver.parameters.num_workers = 1
        self.solver.parameters.random_seed = seed
        self.solver.parameters.max_time_in_seconds = 10.0
        self.memo: dict[tuple[bytes, bytes, tuple[int, ...]], tuple[np.ndarray, float]] = {}
        self.ban_literals: dict[int, cp_model.IntVar] = {}

    def set_floor(self, tier: int, coefs: np.ndarray, floor: int, pinned: np.ndarray) -> None:
        """Keep tier `tier` at least `floor` in later phases (enforced via an assumption).

        `pinned` options (sent early for a volume minimum charged in this tier) stay sent.
        """
        terms = [(self.x[int(i)], int(coefs[i])) for i in self.options if coefs[i]]
        keep = [self.x[int(i)] for i in self.options[pinned[self.options]]]
        if not terms and not keep:
            return
        literal = self.model.new_bool_var("")
        if terms:
            expr = cp_model.LinearExpr.weighted_sum([t for t, _ in terms], [c for _, c in terms])
            self.model.add(expr >= floor).only_enforce_if(literal)
        for variable in keep:
            self.model.add(variable == 1).only_enforce_if(literal)
        self.floor_literals[tier] = literal

    def ban(self, option: int) -> cp_model.IntVar:
        """An assumption literal that forbids one option."""
        if option not in self.ban_literals:
            literal = self.model.new_bool_var("")
            self.model.add(self.x[option] == 0).only_enforce_if(literal)
            self.ban_literals[option] = literal
        return self.ban_literals[option]

    def solve(self, coefs: np.ndarray, phase: int, floors: bool,
              secondary: np.ndarray | None = None, banned: tuple[int, ...] = ()
              ) -> tuple[np.ndarray, float]:
        """Maximise coefs.x for this customer; returns (sent option indices, upper bound).

        `secondary` breaks ties: the objective is W*coefs + secondary with W above the
        customer's whole secondary range, so it never overrides the primary objective.
        The bound returned is in primary units (exact when no secondary is given).
        """
        assumptions = [lit for p, lit in self.off_literals.items() if p > phase]
        if floors:
            assumptions += [lit for tier, lit in self.floor_literals.items() if tier < phase]
        assumptions += [self.ban(int(option)) for option in banned]
        weights = coefs[self.options].astype(np.int64)
        if secondary is not None:
            tie = secondary[self.options].astype(np.int64)
            scale = int(np.abs(tie).sum()) + 1
            if scale * (int(np.abs(weights).sum()) + 1) < 2**62:
                weights = weights * scale + tie
        # most customers see the same objective again (no priced option): answer from memory
        key = (weights.tobytes(), b"", tuple(lit.index for lit in assumptions))
        if key in self.memo:
            return self.memo[key]
        used = [(self.x[int(i)], int(w)) for i, w in zip(self.options, weights, strict=True) if w]
        self.model.maximize(cp_model.LinearExpr.weighted_sum([v for v, _ in used],
                                                             [c for _, c in used]))
        self.model.clear_assumptions()
        self.model.add_assumptions(assumptions)
        status = self.solver.solve(self.model)
        if status == cp_model.INFEASIBLE and floors:
            # the floors of earlier tiers can conflict with what repair left this customer;
            # the customer's own rules alone never do (its earlier solution satisfied them)
            return self.solve(coefs, phase, False, secondary, banned)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise RuntimeError(f"customer sub-problem status {self.solver.status_name(status)}")
        values = np.array([self.solver.value(self.x[int(i)]) for i in self.options], dtype=bool)
        result = (self.options[values], float(self.solver.best_objective_bound))
        self.memo[key] = result
        return result
