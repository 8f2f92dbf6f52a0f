"""One customer's CP-SAT model: the exact fallback of the compiled customer search.

The compiled branch-and-bound (optimiser/exact.py) settles nearly every customer;
the rare one it hands back (node limit, or a row shape it cannot prune soundly)
is modelled here from the same compact arrays (`CustomerBlock`), so no Block
need be kept, and re-solved under each new objective with floors and fixings.
Indicators are exactly the OR of their members, as in the compiled search.
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from optimiser.block import NO_LB, NO_UB
from optimiser.customer_block import CustomerBlock

TIME_LIMIT_S = 10.0  # a tiny model: a safety net, never reached in practice


class CustomerModel:
    """Customer k of a block as a CP-SAT model over its options and indicators."""

    def __init__(self, block: CustomerBlock, k: int, seed: int) -> None:
        arrays = block.arrays
        self.first, self.last = int(arrays.opt_ptr[k]), int(arrays.opt_ptr[k + 1])
        n, i0, i1 = block.n_options, int(arrays.ind_ptr[k]), int(arrays.ind_ptr[k + 1])
        self.model = cp_model.CpModel()
        self.x = [self.model.new_bool_var("") for _ in range(self.last - self.first)]
        indicators = []
        for j in range(i0, i1):
            y = self.model.new_bool_var("")
            members = arrays.ind_members[arrays.ind_member_ptr[j]:arrays.ind_member_ptr[j + 1]]
            self.model.add_max_equality(y, [self.x[int(m) - self.first] for m in members])
            indicators.append(y)
        for row in range(int(arrays.row_ptr[k]), int(arrays.row_ptr[k + 1])):
            span = slice(arrays.entry_ptr[row], arrays.entry_ptr[row + 1])
            terms = [self.x[int(v) - self.first] if v < n else indicators[int(v) - n - i0]
                     for v in arrays.entry_var[span]]
            expr = cp_model.LinearExpr.weighted_sum(terms, [int(c) for c in
                                                            arrays.entry_coef[span]])
            low, high = int(arrays.row_lb[row]), int(arrays.row_ub[row])
            self.model.add_linear_constraint(expr, cp_model.INT_MIN if low == NO_LB else low,
                                             cp_model.INT_MAX if high == NO_UB else high)
        self.solver = cp_model.CpSolver()
        self.solver.parameters.num_workers = 1
        self.solver.parameters.random_seed = seed
        self.solver.parameters.max_time_in_seconds = TIME_LIMIT_S

    def solve(self, weights: np.ndarray, fixed: np.ndarray,
              floors: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, float, bool]:
        """Maximise weights.x (the customer's slice of block-wide arrays) with `fixed`
        (-1 free, 0 off, 1 on) and floors (coefficients, least total): (chosen mask over
        the customer's options, an upper bound on the optimum, feasible)."""
        span = slice(self.first, self.last)
        model = self.model.clone()
        x = [model.get_bool_var_from_proto_index(v.index) for v in self.x]
        for variable, fix in zip(x, fixed[span], strict=True):
            if fix >= 0:
                model.add(variable == int(fix))
        for coefs, least in floors:
            model.add(cp_model.LinearExpr.weighted_sum(x, [int(c) for c in coefs[span]])
                      >= least)
        model.maximize(cp_model.LinearExpr.weighted_sum(x, [int(w) for w in weights[span]]))
        status = self.solver.solve(model)
        if status == cp_model.INFEASIBLE:
            return np.zeros(len(x), dtype=bool), -np.inf, False
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise RuntimeError(f"customer model status {self.solver.status_name(status)}")
        chosen = np.array([self.solver.value(v) for v in x], dtype=bool)
        return chosen, float(self.solver.best_objective_bound), True
