"""The benchmarked methods, each turning a scenario into a plan outcome.

Every method reads the same solver-neutral block (optimiser.blocks.make_block) and
its outcome is written with optimiser.plan, so every objective is recomputed the
same exact way and every plan can be checked by optimiser.verify.

- `contact-plan`: optimiser.solve.solve, the default strategy.
- `greedy`: priority arbitration as message platforms cap today: mandatory first,
  then by priority tier and value, take each option that breaks no rule. No bound.
- `cpsat-monolithic`: one CP-SAT model of all customers together, every rule.
- `highs-mip`: the same rows as a MIP for HiGHS (bench/highs.py, own process).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from models import Scenario
from optimiser.block import Block
from optimiser.block_state import RowState, ScanIndex
from optimiser.blocks import PartPlan, finish, make_block
from optimiser.cpsat import SolverOptions
from optimiser.customer_block import from_block
from optimiser.joint import solve_block, whole
from optimiser.options import Options, build_options
from optimiser.rules import BuildContext
from optimiser.select import Matcher
from optimiser.solve import SolveOutcome, combine, solve
from optimiser.suppressions import Suppressions


def joint_block(scenario: Scenario) -> tuple[Options, BuildContext, Block]:
    """Every customer in one block with every rule, global ones included."""
    matcher = Matcher(scenario)
    ctx = BuildContext(scenario, matcher)
    options = build_options(scenario, matcher, ctx.codes)
    return options, ctx, make_block(options.frame, ctx, with_global=True)


def outcome_of(options: Options, part: PartPlan, ctx: BuildContext,
               started: float) -> SolveOutcome:
    """The outcome of one joint block's part, its pre-filtered candidates included."""
    part.suppressed = Suppressions.concat([options.suppressed, part.suppressed])
    return combine([part], ctx.objective_scale, time.monotonic() - started)


def contact_plan(scenario: Scenario, solver: SolverOptions) -> SolveOutcome:
    return solve(scenario, solver)


def cpsat_monolithic(scenario: Scenario, solver: SolverOptions) -> SolveOutcome:
    """One model; as many CP-SAT search threads as the bench gives processes (a portfolio
    is how CP-SAT uses cores; its plan then may differ from run to run)."""
    started = time.monotonic()
    if solver.workers > 1 and "num_workers" not in solver.parameters:
        solver = replace(solver, parameters={**solver.parameters, "num_workers": solver.workers})
    options, ctx, block = joint_block(scenario)
    return outcome_of(options, solve_block(block, [whole(block)], solver, scenario, ctx), ctx,
                      started)


def greedy(scenario: Scenario, solver: SolverOptions) -> SolveOutcome:
    """Priority arbitration: mandatory, then tier 1 before 2, then value; no look-ahead."""
    del solver  # no solver: the order decides
    started = time.monotonic()
    options, ctx, block = joint_block(scenario)
    compact = from_block(block, len(ctx.global_specs))
    order = np.lexsort((compact.channel, compact.day, -compact.coef, compact.tier,
                        ~compact.mandatory))
    order = order[(compact.coef[order] > 0) | compact.mandatory[order]]
    specs = ctx.global_specs
    index = ScanIndex(compact, *ScanIndex.spec_bounds([(s.lb, s.ub) for s in specs]))
    state = RowState(compact, index, np.array([], dtype=np.int64))
    sent_cands: set[int] = set()
    for option in order.tolist():
        if compact.cand[option] in sent_cands or state.breaks_a_row(option):
            continue
        state.add(option)
        sent_cands.add(int(compact.cand[option]))
    part = finish(compact, state.sent, ctx, scenario)
    part.bound = {}  # no bound: build_plan then reports the achieved value (the table shows none)
    part.statuses = ["FEASIBLE"]
    part.margin = dict(block.bound_slack)
    return outcome_of(options, part, ctx, started)


METHODS = {
    "contact-plan": contact_plan,
    "greedy": greedy,
    "cpsat-monolithic": cpsat_monolithic,
}
