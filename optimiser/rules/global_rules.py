"""Capacity, budget and volume: rows that sum over every customer of the block.

Each becomes one row (or one per day for `capacity per: day`) over the
matching options, scaled to integers by optimiser.scaling. A soft rule gets a
slack variable measured in units of g/scale metric, priced so that the model
never charges less than the true penalty by more than penalty*g/scale, which
is added to the reported bound (the bound stays an upper bound).
"""

from __future__ import annotations

import numpy as np

from models.rules import Budget, Capacity, Volume
from optimiser.block import Block
from optimiser.rules.context import BuildContext
from optimiser.scaling import ScaledRow, scale_row

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


def add_rows(block: Block, rule: Capacity | Budget | Volume, ctx: BuildContext) -> None:
    selected = ctx.matcher.match(rule.select, ctx.sends(block))
    low: float | None
    high: float | None
    if isinstance(rule, Capacity):
        metric, low, high, reason = "count", None, rule.max, "capacity"
    elif isinstance(rule, Budget):
        metric, low, high, reason = "cost", None, rule.max, "budget"
    else:
        metric, low, high, reason = rule.metric, rule.min, rule.max, "volume"
    values = metric_values(block, metric, ctx)
    groups: list[np.ndarray]
    if isinstance(rule, Capacity) and rule.per == "day":
        days = block.options["day"].to_numpy(np.int64)
        groups = [np.flatnonzero(selected & (days == d)) for d in range(ctx.scenario.days)]
        groups = [g for g in groups if len(g)]
    else:
        groups = [np.flatnonzero(selected)]
    for members in groups:
        for scaled in scale_row(values[members], low, high):
            add_scaled(block, rule, reason, members, scaled, (low, high), ctx)


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
