"""Frequency caps and never_together: at most k matching sends in every window.

Windows are rolling runs of `window_days` (history included), the whole
horizon, or calendar weeks (Mon-Sun, history in the same week included).
Only windows holding at least one planned option get a row, and among
windows with the same option set only the one with the most history (the
tightest) is kept. A window whose history already reaches the cap gets
`sum <= 0`: the plan adds nothing to it (spec section 3).
"""

from __future__ import annotations

from typing import SupportsInt, cast

import numpy as np
import pandas as pd

from models.rules import FrequencyCap, NeverTogether
from optimiser.block import Block
from optimiser.rules.context import BuildContext


def windows(
    rule: FrequencyCap | NeverTogether, days: int, start_weekday: int
) -> list[tuple[int, int, int]]:
    """(first day, last day, count-history-from day) of every window overlapping the horizon."""
    if isinstance(rule, NeverTogether):
        if rule.window_days is None:
            return [(0, days - 1, 0)]
        width = rule.window_days
        return [(s, s + width - 1, s) for s in range(-width + 1, days)]
    if rule.period == "horizon":
        return [(0, days - 1, 0)]
    if rule.period == "week":
        first_monday = -start_weekday
        return [(m, m + 6, m) for m in range(first_monday, days, 7)]
    assert rule.window_days is not None
    width = rule.window_days
    return [(s, s + width - 1, s) for s in range(-width + 1, days)]


def add_rows(block: Block, rule: FrequencyCap | NeverTogether, ctx: BuildContext) -> None:
    scenario = ctx.scenario
    cap = rule.max if isinstance(rule, FrequencyCap) else 1
    reason = "frequency_cap" if isinstance(rule, FrequencyCap) else "never_together"
    selected = np.flatnonzero(ctx.matcher.match(rule.select, ctx.sends(block)))
    if len(selected) == 0:
        return
    options = block.options.iloc[selected]
    customers = options["customer"].to_numpy(np.int64)
    days = options["day"].to_numpy(np.int64)
    history = ctx.history_frame(ctx.matcher.match(rule.select, ctx.history))
    block_customers = np.unique(customers)
    history = history[history["customer"].isin(block_customers)]
    tightest: dict[tuple[int, tuple[int, ...]], int] = {}
    for first, last, history_from in windows(rule, scenario.days, scenario.start.weekday()):
        inside = (days >= first) & (days <= last)
        if not inside.any():
            continue
        counted = history[(history["day"] >= history_from) & (history["day"] <= last)]
        past = counted.groupby("customer").size()
        frame = pd.DataFrame({"option": selected[inside], "customer": customers[inside]})
        for customer, group in frame.groupby("customer")["option"]:
            key = (int(cast(SupportsInt, customer)), tuple(group.to_numpy(np.int64)))
            used = int(past.get(customer, 0))
            tightest[key] = max(tightest.get(key, 0), used)
    candidate_of = block.options["cand"].to_numpy(np.int64)
    for (_customer, members), used in sorted(tightest.items()):
        room = max(cap - used, 0)
        if room >= len(np.unique(candidate_of[list(members)])):
            continue  # cannot bind: one send of every candidate in it still fits
        block.add(np.array(members), np.ones(len(members)), None, room, rule.name, reason)
