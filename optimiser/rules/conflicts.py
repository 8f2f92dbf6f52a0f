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

from collections.abc import Callable

import numpy as np

from models.rules import AroundExclusion, MinGap
from optimiser.arrays import distinct_per_group, ranges, runs, unique_inverse
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
    if not in_a.any() or not in_b.any():
        return
    involved = np.flatnonzero(in_a | in_b)
    # per customer-day slot, members in the order A-only, both, B-only: then "any A"
    # (A-only + both), "any B" (both + B-only) and "both" are each one contiguous slice
    rank = np.where(in_a & in_b, 1, np.where(in_a, 0, 2))[involved]
    customer, day = sends.customer[involved], sends.day[involved]
    order, starts = runs(customer, day, rank)
    members = involved[order]
    first_of_run = order[starts[:-1]]
    new_slot = np.ones(len(first_of_run), dtype=bool)
    new_slot[1:] = (np.diff(customer[first_of_run]) != 0) | (np.diff(day[first_of_run]) != 0)
    slot_of_run = np.cumsum(new_slot) - 1
    n_slots = int(slot_of_run[-1]) + 1
    counts = np.zeros((n_slots, 3), dtype=np.int64)
    counts[slot_of_run, rank[first_of_run]] = np.diff(starts)
    slot_start = starts[:-1][new_slot]
    n_a, n_both, n_b = counts[:, 0], counts[:, 1], counts[:, 2]
    slot_customer = customer[first_of_run[new_slot]]
    slot_day = day[first_of_run[new_slot]]
    width = int(day.max()) - int(day.min()) + 2 * (high - low + 1) + 1
    slot_key = slot_customer * width + slot_day
    candidate_of = block.options["cand"].to_numpy(np.int64)

    def variables(which: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Indicator variables of the member slices [start, stop) of slots `which`."""
        lengths = (stop - start)[which]
        ptr = np.concatenate([[0], np.cumsum(lengths)])
        return block.add_indicators(ptr, members[ranges(start[which], stop[which])])

    any_a_stop = slot_start + n_a + n_both
    any_b_start = slot_start + n_a
    any_b_stop = any_b_start + n_both + n_b
    # days apart (offset != 0): "some A on day d" and "some B on day d + offset"
    pairs = []
    for offset in range(low, high + 1):
        if offset == 0:
            continue
        source = np.flatnonzero(n_a + n_both > 0)
        target_key = slot_key[source] + offset
        at = np.minimum(np.searchsorted(slot_key, target_key), n_slots - 1)
        hit = (slot_key[at] == target_key) & (n_both[at] + n_b[at] > 0)
        pairs.append(np.column_stack([source[hit], at[hit]]))
    if pairs:
        pair = np.concatenate(pairs)
        pair = pair[np.lexsort((pair[:, 1], pair[:, 0]))]
        sources, source_at = unique_inverse(pair[:, 0])
        targets, target_at = unique_inverse(pair[:, 1])
        y_a = variables(sources, slot_start, any_a_stop)[source_at]
        y_b = variables(targets, any_b_start, any_b_stop)[target_at]
        block.rows.extend(np.full(len(pair), 2), np.column_stack([y_a, y_b]).ravel(),
                          np.ones(2 * len(pair)), None, 1, rule.name, reason)
    if low <= 0 <= high:
        _same_day_rows(block, members, slot_start, counts, candidate_of, variables, rule.name,
                       reason)


def _same_day_rows(block: Block, members: np.ndarray, slot_start: np.ndarray,
                   counts: np.ndarray, candidate_of: np.ndarray,
                   variables: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
                   rule: str, reason: str) -> None:
    """Same day: A-only with B-only, either with a send in both sets, and two sends in
    both sets (of different candidates) when nothing else is there."""
    n_a, n_both, n_b = counts[:, 0], counts[:, 1], counts[:, 2]
    both_start = slot_start + n_a
    both_stop = both_start + n_both
    y_a = np.full(len(counts), -1)
    y_b = np.full(len(counts), -1)
    need_a = np.flatnonzero((n_a > 0) & ((n_b > 0) | (n_both > 0)))
    need_b = np.flatnonzero((n_b > 0) & ((n_a > 0) | (n_both > 0)))
    y_a[need_a] = variables(need_a, slot_start, both_start)
    y_b[need_b] = variables(need_b, both_stop, both_stop + n_b)
    apart = np.flatnonzero((n_a > 0) & (n_b > 0))
    block.rows.extend(np.full(len(apart), 2), np.column_stack([y_a[apart], y_b[apart]]).ravel(),
                      np.ones(2 * len(apart)), None, 1, rule, reason)
    for y, present in ((y_a, n_a > 0), (y_b, n_b > 0)):
        slots = np.flatnonzero(present & (n_both > 0))
        if len(slots) == 0:
            continue
        both = members[ranges(both_start[slots], both_stop[slots])]
        lengths = n_both[slots]
        heads = np.cumsum(np.concatenate([[0], lengths[:-1] + 1]))
        entries = np.empty(len(both) + len(slots), dtype=np.int64)
        is_head = np.zeros(len(entries), dtype=bool)
        is_head[heads] = True
        entries[is_head] = y[slots]
        entries[~is_head] = both
        block.rows.extend(lengths + 1, entries, np.ones(len(entries)), None, 1, rule, reason)
    alone = np.flatnonzero((n_a == 0) & (n_b == 0) & (n_both > 1))
    if len(alone):
        both = members[ranges(both_start[alone], both_stop[alone])]
        row_of = np.repeat(np.arange(len(alone)), n_both[alone])
        several = distinct_per_group(row_of, candidate_of[both], len(alone)) > 1
        keep = several[row_of]
        block.rows.extend(n_both[alone][several], both[keep], np.ones(int(keep.sum())), None,
                          1, rule, reason)
