"""Why a candidate was left out, and a greedy fill that adds whatever still fits.

Both read the block's rows (the same rows CP-SAT solved), so an explanation
names the rule that really binds in the model. For an unsent candidate we
try its options from the most valuable down: the first row that adding the
option would break is the binding rule, and the sends counted in that row
are what won. An option that breaks no row is added by `fill` when it pays,
so after filling every unsent candidate is either blocked or of no value.
"""

from __future__ import annotations

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
    described = [_row_reason(block, state, int(r), candidate_ids, values, global_reasons)
                 for r in distinct]
    texts = [rule for _, rule, _ in described] + [detail for _, _, detail in described]
    reasons = np.array([REASON_CODE[reason] for reason, _, _ in described], dtype=np.int8)
    parts.append(Suppressions(global_cand[explained[~unpaid]].astype(np.int64),
                              reasons[inverse], inverse, inverse + len(distinct), tuple(texts)))
    return Suppressions.concat(parts)


def _row_reason(block: CustomerBlock, state: RowState, row: int,
                candidate_ids: np.ndarray, values: np.ndarray,
                global_reasons: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    """(reason, rule, what won) of a row that blocks a send."""
    own = state.index.n_own_rows
    if row >= own:
        return global_reasons[row - own]
    return (REASONS[int(block.row_reason[row])], block.rule_name(row),
            describe_winners(unique(block.cand[state.winners(row)]), candidate_ids, values))


def describe_winners(won: np.ndarray, candidate_ids: np.ndarray, values: np.ndarray) -> str:
    """Name what took the room: all winners (candidate positions) of a small row, the
    marginal ones of a big one."""
    if len(won) == 0:
        return "limit already reached by history"
    if len(won) <= 5:
        return "won by " + ", ".join(f"{candidate_ids[w]} (value {values[w]:g})" for w in won)
    marginal = won[np.argsort(values[won], kind="stable")[:3]]
    return f"shared by {len(won)} planned sends; the lowest-value winners: " + ", ".join(
        f"{candidate_ids[w]} (value {values[w]:g})" for w in marginal
    )
