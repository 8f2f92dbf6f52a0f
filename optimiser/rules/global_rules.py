"""Capacity, budget and volume: rows that sum over every customer.

Each becomes one row (or one per day for `capacity per: day`) over the
matching options, scaled to integers by optimiser.scaling with one scale for
the whole scenario (`row_specs`), so the rows of separate customer blocks add up. A soft rule gets a
slack variable measured in units of g/scale metric, priced so that the model
never charges less than the true penalty by more than penalty*g/scale, which
is added to the reported bound (the bound stays an upper bound).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.rules import Budget, Capacity, Volume
from optimiser.arrays import unique
from optimiser.block import Block
from optimiser.rules.context import BuildContext
from optimiser.scaling import ScaledRow, choose_scale, scale_bounds

MIN_PENALTY_UNITS = 1000  # slack granularity: a slack unit costs at least this many objective units


def metric_values(block: Block, metric: str, ctx: BuildContext) -> np.ndarray:
    """Per-option amount a rule sums: 1 (count), the send's cost, or a candidate column."""
    options = block.options
    if metric == "count":
        return np.ones(len(options))
    if metric == "cost":
        return options["cost"].to_numpy(float)
    column = ctx.scenario.candidates[metric].to_numpy(float)
    return column[options["cand"].to_numpy(np.int64)]


@dataclass(frozen=True)
class GlobalRowSpec:
    """One integer row of a global rule, scaled once for the whole scenario.

    Customer blocks each hold their own members of a global row and the
    decomposition adds up their sums, so every block must scale a rule alike: the
    scale is chosen here from every amount the rule could ever sum (the metric of
    every candidate, or every channel-communication cost, it selects), never from
    one block's members.
    """

    rule: Capacity | Budget | Volume
    reason: str
    metric: str
    day: int | None  # capacity per day: the day it counts (None: the whole horizon)
    scale: int
    exact: bool
    rounding: str  # how a member's amount becomes an integer: "round", "ceil" or "floor"
    lb: int | None
    ub: int | None
    bounds: tuple[float | None, float | None]  # the rule's own (real) min and max


def row_specs(ctx: BuildContext) -> list[GlobalRowSpec]:
    """Every global row of the scenario, in rule order (capacity per day: by day)."""
    specs = []
    for rule in ctx.scenario.global_rules:
        assert isinstance(rule, (Capacity, Budget, Volume))
        metric, low, high, reason = _shape(rule)
        amounts, magnitude = _possible_amounts(rule, metric, ctx)
        scale, exact = choose_scale(amounts, [b for b in (low, high) if b is not None],
                                    magnitude)
        per_day = isinstance(rule, Capacity) and rule.per == "day"
        days: list[int | None] = list(range(ctx.scenario.days)) if per_day else [None]
        for day in days:
            for bounds in scale_bounds(low, high, scale, exact):
                specs.append(GlobalRowSpec(rule, reason, metric, day, scale, exact,
                                           bounds.rounding, bounds.lb, bounds.ub, (low, high)))
    return specs


def _shape(rule: Capacity | Budget | Volume) -> tuple[str, float | None, float | None, str]:
    """(metric, min, max, suppression reason) of a global rule."""
    if isinstance(rule, Capacity):
        return "count", None, rule.max, "capacity"
    if isinstance(rule, Budget):
        return "cost", None, rule.max, "budget"
    return rule.metric, rule.min, rule.max, "volume"


def _possible_amounts(rule: Capacity | Budget | Volume, metric: str,
                      ctx: BuildContext) -> tuple[np.ndarray, float]:
    """(every distinct amount a send the rule selects may carry, a bound on the size of
    the rule's sum): what its integer scale must make whole and keep within int64."""
    scenario, matcher = ctx.scenario, ctx.matcher
    comms = matcher.comm_mask(rule.select)
    picked = comms[ctx.codes.cand_comm]
    if metric == "count":
        amounts = np.ones(1)
    elif metric == "cost":
        comm_cost = scenario.communications["cost"].to_numpy(float)[comms]
        channel_cost = np.array([c.cost for c in scenario.channels.values()])
        channel_cost = channel_cost[matcher.channel_mask(rule.select)]
        amounts = (comm_cost[:, None] + channel_cost[None, :]).ravel()
    else:
        amounts = scenario.candidates[metric].to_numpy(float)[picked]
    amounts = unique(amounts) if len(amounts) else np.ones(1)
    # a candidate sends at most once: the sum is at most candidates x the largest amount
    return amounts, float(picked.sum()) * float(np.abs(amounts).max())


def members(spec: GlobalRowSpec, block: Block, ctx: BuildContext) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """(the block's options in the row, their integer coefficients)."""
    selected = ctx.matcher.match(spec.rule.select, ctx.sends(block))
    if spec.day is not None:
        selected &= block.options["day"].to_numpy(np.int64) == spec.day
    chosen = np.flatnonzero(selected)
    amounts = metric_values(block, spec.metric, ctx)[chosen] * spec.scale
    if spec.rounding == "ceil":
        return chosen, np.ceil(amounts).astype(np.int64)
    if spec.rounding == "floor":
        return chosen, np.floor(amounts).astype(np.int64)
    return chosen, np.round(amounts).astype(np.int64)


def add_rows(block: Block, ctx: BuildContext) -> None:
    """Every global row over the block's options. A day of a per-day capacity that no
    option of the block can use gets no row; a horizon-wide row always does (an empty
    hard minimum must still make the model infeasible)."""
    for index, spec in enumerate(ctx.global_specs):
        chosen, coefs = members(spec, block, ctx)
        if len(chosen) or spec.day is None:
            before = len(block.rows)
            add_scaled(block, spec.rule, spec.reason, chosen,
                       ScaledRow(coefs, spec.lb, spec.ub, spec.scale, spec.exact),
                       spec.bounds, ctx)
            # a soft two-sided rule is a row per side, each with its own slack
            block.global_rows.extend((row, index) for row in range(before, len(block.rows)))


def add_scaled(
    block: Block,
    rule: Capacity | Budget | Volume,
    reason: str,
    members: np.ndarray,
    scaled: ScaledRow,
    bounds: tuple[float | None, float | None],
    ctx: BuildContext,
) -> None:
    coefs, lb, ub, scale, exact = scaled.coefs, scaled.lb, scaled.ub, scaled.scale, scaled.exact
    rule_low, rule_high = bounds
    if rule.soft is None:
        block.add(members, coefs, lb, ub, rule.name, reason, scale=scale)
        return
    penalty = rule.soft.penalty
    granularity = 1
    if penalty > 0:
        while penalty * granularity * ctx.objective_scale / scale < MIN_PENALTY_UNITS:
            granularity *= 10
    unit_cost = int(np.floor(penalty * granularity * ctx.objective_scale / scale))
    positive = int(coefs[coefs > 0].sum())
    negative = int(coefs[coefs < 0].sum())
    tier = rule.soft.tier
    for side, bound in (("ub", ub), ("lb", lb)):
        if bound is None:
            continue
        excess = positive - bound if side == "ub" else bound - negative
        if excess <= 0:
            block.add(
                members,
                coefs,
                None if side == "ub" else bound,
                bound if side == "ub" else None,
                rule.name,
                reason,
                scale=scale,
            )
            continue
        top = -(-excess // granularity)
        slack = block.slack_var(block.add_slack(top, unit_cost, tier, rule.name))
        sign = -granularity if side == "ub" else granularity
        block.add(
            np.append(members, slack),
            np.append(coefs, sign),
            None if side == "ub" else bound,
            bound if side == "ub" else None,
            rule.name,
            reason,
            scale=scale,
        )
        # The model may over-charge the true penalty: the integer left side is at most
        # granularity-1 units short of a slack step, plus the bound's own rounding
        # (and, for inexact rows, one unit per member). Add that to the bound.
        rule_bound = rule_high if side == "ub" else rule_low
        assert rule_bound is not None  # scale_row gives an ub (lb) only for a rule max (min)
        real_bound = rule_bound * scale
        rounding = abs(bound - real_bound) + (granularity - 1) + (0 if exact else len(members))
        block.bound_slack[tier] = block.bound_slack.get(tier, 0.0) + penalty * rounding / scale
