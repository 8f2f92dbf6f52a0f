"""Each candidate is sent at most once; mandatory ones exactly once; duplicates once.

Dedup: candidates of one customer that are the same message (same comm_id or
dedup_key) share one row `sum <= 1`. When the message is mandatory, the group
must send exactly one of its copies: sending the message once satisfies it.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from optimiser.block import Block
from optimiser.rules.context import BuildContext


def add_rows(block: Block, ctx: BuildContext) -> None:  # noqa: ARG001 - uniform signature
    options = block.options
    local = np.arange(len(options))
    by_candidate = options.groupby("cand", sort=True).indices
    mandatory_groups: set[tuple[int, int]] = set()
    cand_message = block.options["message"].to_numpy(np.int64)
    for cand, members in by_candidate.items():
        mandatory = bool(options["mandatory"].iloc[members[0]])
        message = int(cand_message[members[0]])
        if bool(options["message_mandatory"].iloc[members[0]]) and message >= 0:
            mandatory_groups.add((int(options["customer"].iloc[members[0]]), message))
        exact = mandatory and message < 0
        block.add(
            local[members],
            np.ones(len(members)),
            1 if exact else None,
            1,
            f"candidate:{cand}",
            "candidate",
        )
    if (options["message"] < 0).all():
        return
    grouped = options[options["message"] >= 0].groupby(["customer", "message"], sort=True)
    for group_key, frame in grouped:
        customer, message = cast(tuple[int, int], group_key)  # int64 group keys
        is_mandatory = (int(customer), int(message)) in mandatory_groups
        if frame["cand"].nunique() < 2 and not is_mandatory:
            continue
        members = frame.index.to_numpy(np.int64)
        block.add(
            members, np.ones(len(members)), 1 if is_mandatory else None, 1, "dedup", "duplicate"
        )
