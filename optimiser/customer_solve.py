"""Every customer of a block solved exactly, under one objective or lexicographically.

A customer's own problem (its options under its own rules, no global row) is
tiny; the decomposition solves every customer's again for each set of prices,
and customers no global rule touches are solved once, tier by tier. The
compiled branch-and-bound of optimiser/exact.py solves a whole block in one
call and proves each optimum; the few customers it hands back (node limit, a
row shape it cannot prune) get a CP-SAT model of their own
(optimiser/customer_cpsat.py), built once and kept. Every answer is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser import exact
from optimiser.customer_block import CustomerBlock
from optimiser.customer_cpsat import CustomerModel

NO_FLOOR = exact.NO_LB


@dataclass(frozen=True)
class Solved:
    """One solve of every active customer: options sent (a mask over the block's options),
    per customer the value reached and an upper bound on the optimum (equal unless CP-SAT
    stopped early), and whether it is feasible at all."""

    chosen: np.ndarray
    value: np.ndarray
    bound: np.ndarray
    feasible: np.ndarray


@dataclass(frozen=True)
class Floor:
    """Keep sum(coefs * x) >= least[k] for every customer k (NO_FLOOR: no floor)."""

    coefs: np.ndarray
    least: np.ndarray


class CustomerSolver:
    """Exact solves of a block's customers, CP-SAT models of the hard ones kept."""

    def __init__(self, block: CustomerBlock, seed: int) -> None:
        self.block, self.seed = block, seed
        self.models: dict[int, CustomerModel] = {}
        self.cpsat_calls = 0
        block.arrays.validate()

    def solve(self, weights: np.ndarray, fixed: np.ndarray | None = None,
              floors: tuple[Floor, ...] = (), active: np.ndarray | None = None) -> Solved:
        """Maximise weights.x for every active customer (all by default) under its own rules,
        `fixed` options (-1 free, 0 off, 1 on) and `floors`."""
        block = self.block
        n, k = block.n_options, block.n_customers
        weights = np.ascontiguousarray(weights, dtype=np.int64)
        fixed = np.full(n, -1, dtype=np.int64) if fixed is None else fixed.astype(np.int64)
        active = np.ones(k, dtype=bool) if active is None else active
        floor_coef = np.array([f.coefs for f in floors], dtype=np.int64).reshape(len(floors), n)
        floor_lb = np.array([f.least for f in floors], dtype=np.int64).reshape(len(floors), k)
        chosen, value, status = exact.solve_batch(block.arrays, weights, fixed, floor_coef,
                                                  floor_lb, active, validated=True)
        value = value.astype(float)
        bound = value.copy()
        feasible = status != exact.INFEASIBLE
        for customer in np.flatnonzero(active & ((status == exact.LIMIT)
                                                 | (status == exact.UNSUPPORTED))):
            self._solve_by_cpsat(int(customer), weights, fixed, floors, chosen, value, bound,
                                 feasible)
        return Solved(chosen, value, bound, feasible)

    def _solve_by_cpsat(self, customer: int, weights: np.ndarray, fixed: np.ndarray,
                        floors: tuple[Floor, ...], chosen: np.ndarray, value: np.ndarray,
                        bound: np.ndarray, feasible: np.ndarray) -> None:
        if customer not in self.models:
            self.models[customer] = CustomerModel(self.block, customer, self.seed)
        self.cpsat_calls += 1
        model = self.models[customer]
        wanted = [(f.coefs, int(f.least[customer])) for f in floors
                  if f.least[customer] > NO_FLOOR]
        mine, upper, ok = model.solve(weights, fixed, wanted)
        span = slice(model.first, model.last)
        chosen[span] = mine
        value[customer] = float(weights[span][mine].sum())
        bound[customer] = upper if ok else -np.inf
        feasible[customer] = ok

    def lexicographic(self) -> tuple[Solved, dict[int, float]]:
        """Tier 1 first, then each later tier with every earlier tier held at what it
        reached, customer by customer: the exact plan of customers no global rule couples.

        Returns the solve (value and bound: each customer's total over all tiers) and, per
        tier, an upper bound on its total given the higher tiers (scaled units).
        """
        block = self.block
        n, k = block.n_options, block.n_customers
        owner = block.owner
        chosen = np.zeros(n, dtype=bool)
        feasible = np.ones(k, dtype=bool)
        floors: list[Floor] = []
        tier_bounds: dict[int, float] = {}
        for tier in np.unique(block.tier).tolist():
            weights = np.where(block.tier == tier, block.objective, 0)
            has = np.bincount(owner[block.tier == tier], minlength=k) > 0
            solved = self.solve(weights, floors=tuple(floors), active=has & feasible)
            active = has & feasible & solved.feasible
            mine = active[owner]
            chosen[mine] = solved.chosen[mine]
            feasible &= ~has | solved.feasible
            tier_bounds[int(tier)] = float(solved.bound[active].sum())
            floors.append(Floor(weights, np.where(active, solved.value, NO_FLOOR).astype(
                np.int64)))
        total = np.bincount(owner[chosen], weights=block.objective[chosen].astype(float),
                            minlength=k)
        return Solved(chosen, total, total, feasible), tier_bounds
