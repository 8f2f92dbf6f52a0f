"""Pairs of sends that may not fall close together: min_gap and exclusion around.

Both forbid a send of set A on day a together with a send of set B (another
candidate) on day b when lo <= b - a <= hi:
- min_gap: A = first, B = then, offsets 0..days-1;
- exclusion around: A = around, B = select, offsets -days_before..days_after.

Rather than one row per pair of options (quadratic), each customer-day gets
an indicator "some A send today" / "some B send today" and the rows forbid
indicator pairs. On the same day a send in both A and B must not pair with
itself, so the same-day case splits A-only, B-only and both.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from models.rules import AroundExclusion, MinGap
from optimiser.block import Block
from optimiser.rules.context import BuildContext


def add_rows(block: Block, rule: MinGap | AroundExclusion, ctx: BuildContext) -> None:
    sends = ctx.sends(block)
    if isinstance(rule, MinGap):
        in_a = ctx.matcher.match(rule.first, sends)
        in_b = ctx.matcher.match(rule.then, sends)
        low, high, reason = 0, rule.days - 1, "min_gap"
    else:
        in_a = ctx.matcher.match(rule.around, sends)
        in_b = ctx.matcher.match(rule.select, sends)
        low, high, reason = -rule.days_before, rule.days_after, "exclusion"
    involved = np.flatnonzero(in_a | in_b)
    if len(involved) == 0 or not in_a.any() or not in_b.any():
        return
    # customer -> day -> (A-only, B-only, both) option lists
    days: dict[int, dict[int, tuple[list[int], list[int], list[int]]]] = defaultdict(dict)
    for option in involved:
        customer, day = int(sends.customer[option]), int(sends.day[option])
        slot = days[customer].setdefault(day, ([], [], []))
        slot[2 if in_a[option] and in_b[option] else 0 if in_a[option] else 1].append(int(option))
    candidate_of = block.options["cand"].to_numpy(np.int64)
    for customer in sorted(days):
        _customer_rows(block, days[customer], low, high, rule.name, reason, candidate_of)


def _customer_rows(
    block: Block,
    per_day: dict[int, tuple[list[int], list[int], list[int]]],
    low: int,
    high: int,
    rule: str,
    reason: str,
    candidate_of: np.ndarray,
) -> None:
    any_a: dict[int, int] = {}
    any_b: dict[int, int] = {}

    def a_indicator(day: int) -> int | None:
        if day not in any_a:
            a_only, _, both = per_day[day]
            any_a[day] = block.indicator(np.array(a_only + both)) if a_only or both else -1
        return None if any_a[day] < 0 else any_a[day]

    def b_indicator(day: int) -> int | None:
        if day not in any_b:
            _, b_only, both = per_day[day]
            any_b[day] = block.indicator(np.array(b_only + both)) if b_only or both else -1
        return None if any_b[day] < 0 else any_b[day]

    for day_a in sorted(per_day):
        for offset in range(low, high + 1):
            day_b = day_a + offset
            if day_b not in per_day:
                continue
            if offset == 0:
                _same_day_rows(block, per_day[day_a], rule, reason, candidate_of)
                continue
            y_a, y_b = a_indicator(day_a), b_indicator(day_b)
            if y_a is not None and y_b is not None:
                block.add([y_a, y_b], [1, 1], None, 1, rule, reason)


def _same_day_rows(
    block: Block,
    slot: tuple[list[int], list[int], list[int]],
    rule: str,
    reason: str,
    candidate_of: np.ndarray,
) -> None:
    a_only, b_only, both = slot
    y_a = block.indicator(np.array(a_only)) if a_only else None
    y_b = block.indicator(np.array(b_only)) if b_only else None
    if y_a is not None and y_b is not None:
        block.add([y_a, y_b], [1, 1], None, 1, rule, reason)
    if both:
        for y in (y_a, y_b):
            if y is not None:
                block.add([y, *both], np.ones(len(both) + 1), None, 1, rule, reason)
        if y_a is None and y_b is None and len(np.unique(candidate_of[both])) > 1:
            block.add(both, np.ones(len(both)), None, 1, rule, reason)
