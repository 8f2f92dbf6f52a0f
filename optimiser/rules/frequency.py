"""Frequency caps and never_together: at most k matching sends in every window.

Windows are rolling runs of `window_days` (history included), the whole
horizon, or calendar weeks (Mon-Sun, history in the same week included).
Only windows holding at least one planned option get a row, and among
windows with the same option set only the one with the most history (the
tightest) is kept. A window whose history already reaches the cap gets
`sum <= 0`: the plan adds nothing to it (spec section 3).
"""

from __future__ import annotations

import numpy as np

from models.rules import FrequencyCap, NeverTogether
from optimiser.arrays import distinct_per_group, ranges, unique, unique_inverse
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
    # selected options sorted by (customer, day): a window's members are then one slice
    customer_all = block.options["customer"].to_numpy(np.int64)
    day_all = block.options["day"].to_numpy(np.int64)
    order = np.lexsort((selected, day_all[selected], customer_all[selected]))
    selected = selected[order]
    customer, day = customer_all[selected], day_all[selected]
    people, person = unique_inverse(customer)
    history = ctx.history_frame(ctx.matcher.match(rule.select, ctx.history))
    past_customer = history["customer"].to_numpy(np.int64)
    known = np.isin(past_customer, people)
    past_person = np.searchsorted(people, past_customer[known])
    past_day = history["day"].to_numpy(np.int64)[known]
    # one record per (customer, window holding a send): its first and last send day
    records = []
    for first, last, history_from in windows(rule, scenario.days, scenario.start.weekday()):
        inside = np.flatnonzero((day >= first) & (day <= last))
        if len(inside) == 0:
            continue
        who = person[inside]
        low = np.full(len(people), np.iinfo(np.int64).max)
        high = np.full(len(people), np.iinfo(np.int64).min)
        np.minimum.at(low, who, day[inside])
        np.maximum.at(high, who, day[inside])
        counted = (past_day >= history_from) & (past_day <= last)
        used = np.bincount(past_person[counted], minlength=len(people))
        present = unique(who)
        records.append(np.column_stack([present, low[present], high[present], used[present]]))
    table = np.concatenate(records)
    # windows holding the same sends are one row: keep the most history (the tightest)
    table = table[np.lexsort((-table[:, 3], table[:, 2], table[:, 1], table[:, 0]))]
    fresh = np.ones(len(table), dtype=bool)
    fresh[1:] = (np.diff(table[:, :3], axis=0) != 0).any(axis=1)
    table = table[fresh]
    key = person * (scenario.days + 1) + day  # sorted, as `selected` is
    start = np.searchsorted(key, table[:, 0] * (scenario.days + 1) + table[:, 1], side="left")
    stop = np.searchsorted(key, table[:, 0] * (scenario.days + 1) + table[:, 2], side="right")
    lengths = stop - start
    members = selected[ranges(start, stop)]
    room = np.maximum(cap - table[:, 3], 0)
    row_of = np.repeat(np.arange(len(table)), lengths)
    cands = block.options["cand"].to_numpy(np.int64)[members]
    distinct = distinct_per_group(row_of, cands, len(table))
    binds = room < distinct  # else one send of every candidate in it still fits
    keep = binds[row_of]
    block.rows.extend(lengths[binds], members[keep], np.ones(int(keep.sum())), None,
                      room[binds], rule.name, reason)

