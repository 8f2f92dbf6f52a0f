"""The solve loop: customer blocks, then the customers global rules couple.

Customers are built in blocks (optimiser/blocks.py) on a backend
(optimiser/backends.py): inline, a fork pool of `workers` processes, or a Dask
cluster. A block finishes its independent customers itself. Customers touched
by a global rule (capacity, budget, volume) are then solved together, in this
process (optimiser/coupled.py): one joint CP-SAT model, or a priced decomposition
over the blocks above JOINT_OPTION_LIMIT coupled options.

Every customer's result depends only on its own data and the seed, never on
how customers were grouped, so the plan is the same for any worker count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models import InfeasibleError, Scenario
from optimiser.backends import ChunkBackend, LocalBackend
from optimiser.blocks import SEND_COLUMNS, BlockInputs, PartPlan, build_block, customer_blocks
from optimiser.coupled import plan_coupled
from optimiser.cpsat import SolverOptions
from optimiser.customer_block import CustomerBlock
from optimiser.rules import BuildContext
from optimiser.select import Matcher
from optimiser.suppressions import Suppressions


class NoSolutionError(Exception):
    """The solver stopped (time limit) without any feasible plan."""


Progress = Callable[[int, int], None]


@dataclass
class SolveOutcome:
    """What the loop decided, before it is turned into a plan."""

    sends: pd.DataFrame  # blocks.SEND_COLUMNS, one row per send, by candidate
    suppressed: Suppressions
    status: str
    achieved: dict[int, float]  # tier -> scaled objective (model units)
    bound: dict[int, float]  # tier -> scaled bound (model units)
    bound_margin: dict[int, float]  # tier -> value units added for scaling honesty
    objective_scale: int
    runtime_s: float
    subproblems: dict[str, int] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)  # rule -> value per metric unit


def solve(
    scenario: Scenario,
    solver: SolverOptions,
    progress: Progress | None = None,
    backend: ChunkBackend | None = None,
) -> SolveOutcome:
    """Run the whole optimisation; raise InfeasibleError with a diagnosis when impossible.

    `backend` builds the customer blocks (default: this machine with `solver.workers`
    processes); the plan does not depend on it.
    """
    started = time.monotonic()
    ctx = BuildContext(scenario, Matcher(scenario))
    blocks = customer_blocks(ctx.codes.n_customers)
    runner = backend if backend is not None else LocalBackend(solver.workers)
    inputs = BlockInputs(scenario, ctx, solver)
    parts: list[PartPlan] = []
    coupled: list[np.ndarray] = []
    coupled_blocks: list[CustomerBlock] = []
    total = len(blocks) + (1 if scenario.global_rules else 0)
    # results come back in block order, whatever ran them: `combine` sums in that order
    for done, built in enumerate(runner.map(build_block, blocks, inputs), start=1):
        parts.append(built.independent)
        coupled.append(built.coupled)
        if built.coupled_block is not None:
            coupled_blocks.append(built.coupled_block)
        if progress:
            progress(done, total)
    _raise_conflicts(scenario, parts)
    customers = np.concatenate(coupled) if coupled else np.zeros(0, dtype=np.int64)
    if scenario.global_rules:
        # even with no customer to couple: an impossible hard minimum must fail the run
        parts.extend(plan_coupled(coupled_blocks, customers, ctx, solver, scenario))
        if progress:
            progress(total, total)
    _raise_conflicts(scenario, parts)
    return combine(parts, ctx.objective_scale, time.monotonic() - started)


def _raise_conflicts(scenario: Scenario, results: list[PartPlan]) -> None:
    for result in results:
        for rules, cands in result.conflicts:
            ids = scenario.candidates["candidate_id"].to_numpy()
            customers = scenario.candidates["customer_id"].to_numpy()
            named = []
            for rule in rules:
                if rule.startswith("candidate:"):
                    positions = [int(p) for p in rule.split(":")[1].split(",")]
                    copies = " or ".join(str(ids[p]) for p in positions)
                    named.append(f"mandatory candidate {copies}")
                else:
                    named.append(f"rule '{rule}'")
            who = sorted({str(customers[c]) for c in cands})
            shown = ", ".join(who[:5]) + (f" and {len(who) - 5} more" if len(who) > 5 else "")
            scope = f"for customer(s) {shown}" if who else "for the plan as a whole"
            raise InfeasibleError(
                f"no plan satisfies every hard rule {scope}: conflict between "
                + "; ".join(named or ["the hard rules"])
            )


def combine(parts: list[PartPlan], scale: int, runtime: float) -> SolveOutcome:
    """One outcome from the finished parts of the plan: the public hook for other methods
    (bench/ turns its baselines' results into plans with it)."""
    frames = [p.sends for p in parts if len(p.sends)]
    sends = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=list(SEND_COLUMNS)))
    sends = sends.sort_values(["cand"], kind="stable").reset_index(drop=True)
    suppressed = Suppressions.concat([p.suppressed for p in parts])
    achieved: dict[int, float] = {}
    bound: dict[int, float] = {}
    margin: dict[int, float] = {}
    statuses: list[str] = []
    calls = 0
    prices: dict[str, float] = {}
    for part in parts:
        prices.update(part.prices)
        statuses.extend(part.statuses)
        calls += part.solver_calls
        for target, source in ((achieved, part.achieved), (bound, part.bound),
                               (margin, part.margin)):
            for tier, value in source.items():
                target[tier] = target.get(tier, 0.0) + value
    if any(s == "UNKNOWN" for s in statuses):
        raise NoSolutionError(
            "the time limit ran out before CP-SAT found any feasible plan for the joint model; "
            "raise --time-limit"
        )
    status = "OPTIMAL" if all(s == "OPTIMAL" for s in statuses) else "FEASIBLE"
    return SolveOutcome(sends, suppressed, status, achieved, bound, margin, scale, runtime,
                        {"subproblems": len(statuses), "solver_calls": calls}, prices)
