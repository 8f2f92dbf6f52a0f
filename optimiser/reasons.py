"""Why a candidate was left out, and a greedy fill that adds whatever still fits.

Both read the block's rows (the same rows CP-SAT solved), so an explanation
names the rule that really binds in the model. For an unsent candidate we
try its options from the most valuable down: the first row that adding the
option would break is the binding rule, and the sends counted in that row
are what won. An option that breaks no row is added by `fill` when it pays,
so after filling every unsent candidate is either blocked or of no value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optimiser import scan
from optimiser.arrays import unique, unique_inverse
from optimiser.block import REASONS
from optimiser.block_state import RowState
from optimiser.customer_block import CustomerBlock
from optimiser.suppressions import REASON_CODE, Suppressions

NO_VALUE = "its value net of cost is not positive and no volume target needed it"


def fill(block: CustomerBlock, state: RowState,
               allowed: np.ndarray | None = None) -> np.ndarray:
    """Greedily add unsent candidates' paying options that break no row; returns them.

    `allowed` (a mask over options) limits which options may be added. Options are tried
    by tier, then value (highest first), then day, then candidate (then written order).
    """
    _, cand = unique_inverse(block.cand)
    eligible = block.coef > 0
    if allowed is not None:
        eligible &= allowed
    cand_sent = np.zeros(int(cand.max(initial=-1)) + 1, dtype=bool)
    cand_sent[cand[state.sent]] = True
    order = np.lexsort((np.arange(block.n_options), block.cand, block.day, -block.coef,
                        block.tier))
    return scan.fill_scan(*scan.as_int64(order[eligible[order]], cand), cand_sent,
                          state.value, state.activity, *state.index.csr)


def explain(block: CustomerBlock, state: RowState, candidate_ids: np.ndarray,
                  values: np.ndarray, global_reasons: list[tuple[str, str, str]]
                  ) -> Suppressions:
    """A suppression (binding rule and what won) for every candidate of the block not sent.

    `global_reasons` gives, per global row spec, its (reason, rule, what won) over the
    whole plan: the winners of a capacity are every block's, not this one's.
    """
    global_cand, cand = unique_inverse(block.cand)
    decided = np.zeros(len(global_cand), dtype=bool)
    decided[cand[state.sent]] = True
    order = np.lexsort((np.arange(block.n_options), block.day, -block.coef, cand))
    index = state.index
    counted = np.concatenate([block.row_reason != REASONS.index("candidate"),
                              np.ones(len(index.lb) - index.n_own_rows, dtype=bool)])
    verdict = scan.blocking_scan(*scan.as_int64(order, cand), decided,
                                 *scan.as_int64(state.value, state.activity), *index.csr,
                                 counted, block.coef > 0)
    explained = np.flatnonzero(verdict != -1)
    rows = verdict[explained]
    unpaid = rows == -2
    parts = [Suppressions.of(global_cand[explained[unpaid]], "no_value", "", NO_VALUE)]
    binding = rows[~unpaid]
    distinct, inverse = unique_inverse(binding)  # rows do not change: describe each once
    described = _row_reasons(block, state, distinct, candidate_ids, values, global_reasons)
    texts = [rule for _, rule, _ in described] + [detail for _, _, detail in described]
    reasons = np.array([REASON_CODE[reason] for reason, _, _ in described], dtype=np.int8)
    parts.append(Suppressions(global_cand[explained[~unpaid]].astype(np.int64),
                              reasons[inverse], inverse, inverse + len(distinct), tuple(texts)))
    return Suppressions.concat(parts)


def _row_reasons(block: CustomerBlock, state: RowState, rows: np.ndarray,
                 candidate_ids: Any, values: np.ndarray,
                 global_reasons: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """(reason, rule, what won) of every row in `rows` (distinct, ascending) that blocks
    a send: the winners of all the block's own rows gathered in a few array passes, then
    one short format per row (one Python step per row's winners took 0.9 s of 2.8 s
    finishing a 10k-customer block, indexing the candidate ids one by one)."""
    own = state.index.n_own_rows
    mine = rows[rows < own]
    label, winner = state.winners_of(mine)  # label: position in `mine`
    width = int(block.cand.max(initial=0)) + 1
    pairs = unique(label * width + block.cand[winner].astype(np.int64))
    texts = iter(_name_winners(pairs // width, pairs % width, len(mine), candidate_ids,
                               values))
    return [global_reasons[r - own] if r >= own
            else (REASONS[int(block.row_reason[r])], block.rule_name(r), next(texts))
            for r in rows.tolist()]


def describe_winners(won: np.ndarray, candidate_ids: Any, values: np.ndarray) -> str:
    """Name what took the room: all winners (candidate positions, ascending) of a small
    row, the marginal ones of a big one."""
    return _name_winners(np.zeros(len(won), dtype=np.int64), won, 1, candidate_ids,
                         values)[0]


def _name_winners(label: np.ndarray, won: np.ndarray, n_rows: int, candidate_ids: Any,
                  values: np.ndarray) -> list[str]:
    """What won, per row 0..n_rows-1, from its winners (`label` the row, `won` the
    candidate position; sorted by row, then candidate, each pair once): all of at most
    five, in candidate order, else the three of lowest value, lowest first (ties by
    candidate)."""
    counts = np.bincount(label, minlength=n_rows)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    by_value = np.lexsort((won, values[won], label))
    rank = np.empty(len(won), dtype=np.int64)
    rank[by_value] = np.arange(len(won)) - starts[label[by_value]]
    small = counts[label] <= 5
    shown = np.flatnonzero(small | (rank < 3))
    shown = shown[np.lexsort((np.where(small[shown], 0, rank[shown]), label[shown]))]
    ids = candidate_ids.take(won[shown]).tolist()
    amounts = values[won[shown]].tolist()
    ptr = np.r_[0, np.cumsum(np.bincount(label[shown], minlength=n_rows))].tolist()
    out = []
    for row, count in enumerate(counts.tolist()):
        names = ", ".join(f"{ids[i]} (value {amounts[i]:g})"
                          for i in range(ptr[row], ptr[row + 1]))
        if count == 0:
            out.append("limit already reached by history")
        elif count <= 5:
            out.append("won by " + names)
        else:
            out.append(f"shared by {count} planned sends; the lowest-value winners: " + names)
    return out
