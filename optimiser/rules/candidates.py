"""Each candidate is sent at most once; mandatory ones exactly once; duplicates once.

Dedup: candidates of one customer that are the same message (same comm_id or
dedup_key) share one row `sum <= 1`. When the message is mandatory, the group
must send exactly one of its copies: sending the message once satisfies it.

Rows are built for all candidates at once (sort, then cut into runs): one
Python step per candidate would dominate the build at a million customers.
"""

from __future__ import annotations

import numpy as np

from optimiser.arrays import runs
from optimiser.block import NO_LB, Block
from optimiser.rules.context import BuildContext


def add_rows(block: Block, ctx: BuildContext) -> None:  # noqa: ARG001 - uniform signature
    options = block.options
    cand = options["cand"].to_numpy(np.int64)
    customer = options["customer"].to_numpy(np.int64)
    message = options["message"].to_numpy(np.int64)
    mandatory = options["mandatory"].to_numpy(bool)
    message_mandatory = options["message_mandatory"].to_numpy(bool)
    order, starts = runs(cand)
    first = order[starts[:-1]]
    exact = mandatory[first] & (message[first] < 0)
    block.rows.extend(np.diff(starts), order, np.ones(len(order)),
                      np.where(exact, 1, NO_LB), 1, -1 - cand[first], "candidate")
    dedup = np.flatnonzero(message >= 0)
    if len(dedup) == 0:
        return
    order, starts = runs(customer[dedup], message[dedup])
    members = dedup[order]
    group = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    # a group needs a row when it holds two candidates or must send its message
    is_mandatory = np.zeros(len(starts) - 1, dtype=bool)
    np.logical_or.at(is_mandatory, group, message_mandatory[members])
    group_cand = cand[members]
    distinct = np.ones(len(members), dtype=bool)
    distinct[1:] = (group[1:] != group[:-1]) | (group_cand[1:] != group_cand[:-1])
    several = np.bincount(group, weights=distinct, minlength=len(is_mandatory)) >= 2
    keep = several | is_mandatory
    kept_entries = keep[group]
    block.rows.extend(np.diff(starts)[keep], members[kept_entries],
                      np.ones(int(kept_entries.sum())), np.where(is_mandatory[keep], 1, NO_LB),
                      1, "dedup", "duplicate")
