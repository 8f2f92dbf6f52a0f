"""The benchmarked methods, each turning a scenario into a plan outcome.

Every method reads the same solver-neutral block (optimiser.solve.make_block) and
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

import numpy as np

from models import Scenario
from optimiser.block import Block
from optimiser.cpsat import SolverOptions
from optimiser.options import Options, build_options
from optimiser.reasons import RowState, explain
from optimiser.rules import BuildContext
from optimiser.select import Matcher
from optimiser.solve import (
    ChunkResult,
    SolveOutcome,
    combine,
    make_block,
    solve,
    solve_block,
    whole,
)


def joint_block(scenario: Scenario) -> tuple[Options, BuildContext, Block]:
    """Every customer in one block with every rule, global ones included."""
    matcher = Matcher(scenario)
    ctx = BuildContext(scenario, matcher)
    options = build_options(scenario, matcher, ctx.codes)
    return options, ctx, make_block(options.frame, ctx, with_global=True)


def contact_plan(scenario: Scenario, solver: SolverOptions) -> SolveOutcome:
    return solve(scenario, solver)


def cpsat_monolithic(scenario: Scenario, solver: SolverOptions) -> SolveOutcome:
    started = time.monotonic()
    options, ctx, block = joint_block(scenario)
    result = solve_block(block, [whole(block)], solver, scenario, ctx)
    return combine(options, [result], ctx.objective_scale, time.monotonic() - started)


def greedy(scenario: Scenario, solver: SolverOptions) -> SolveOutcome:
    """Priority arbitration: mandatory, then tier 1 before 2, then value; no look-ahead."""
    del solver  # no solver: the order decides
    started = time.monotonic()
    options, ctx, block = joint_block(scenario)
    frame = block.options
    cand = frame["cand"].to_numpy(np.int64)
    coef = frame["coef"].to_numpy(float)
    mandatory = frame["mandatory"].to_numpy(bool)
    order = np.lexsort(
        (frame["channel"].to_numpy(), frame["day"].to_numpy(), -coef,
         frame["tier"].to_numpy(), ~mandatory)
    )
    order = order[(coef[order] > 0) | mandatory[order]]
    state = RowState(block, np.array([], dtype=np.int64))
    sent_cands: set[int] = set()
    sent: list[int] = []
    for option in order.tolist():
        if cand[option] in sent_cands or state.breaks_a_row(option):
            continue
        state.add(option)
        sent_cands.add(int(cand[option]))
        sent.append(option)
    sent_local = np.sort(np.array(sent, dtype=np.int64))
    suppressed = explain(
        block, state, scenario.candidates["candidate_id"].to_numpy(),
        scenario.candidates["value"].to_numpy(float)
    )
    achieved = {tier: float(coefs[sent_local].sum()) for tier, coefs in block.objective.items()}
    result = ChunkResult(
        block.options["option"].to_numpy(np.int64)[sent_local],
        suppressed,
        achieved,
        {},  # no bound: build_plan then reports the achieved value (the table shows none)
        dict(block.bound_slack),
        ["FEASIBLE"],
        [],
    )
    return combine(options, [result], ctx.objective_scale, time.monotonic() - started)


METHODS = {
    "contact-plan": contact_plan,
    "greedy": greedy,
    "cpsat-monolithic": cpsat_monolithic,
}
