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
from optimiser.arrays import ranges, unique, unique_inverse
from optimiser.block import REASONS, Block
from optimiser.block_state import RowState as BlockRowState
from optimiser.customer_block import CustomerBlock
from optimiser.suppressions import REASON_CODE, Suppressions

NO_VALUE = "its value net of cost is not positive and no volume target needed it"


class BlockIndex:
    """CSR views of a block's rows, built once: which rows each variable is in (with its
    coefficient) and which indicators each option feeds. Link rows are left out: they
    only define indicators, and slack variables are left out: soft rows are judged hard."""

    def __init__(self, block: Block) -> None:
        n_vars = block.n_options + block.n_indicators
        rows = block.rows
        lengths = np.diff(rows.ptr)
        flat_rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        real = ~rows.link[flat_rows] & (rows.entry_var < n_vars)
        self.flat_vars, self.flat_coefs, self.flat_rows = (
            rows.entry_var[real], rows.entry_coef[real], flat_rows[real])
        self.lb, self.ub = rows.lb, rows.ub
        order = np.argsort(self.flat_vars, kind="stable")
        self.var_ptr = np.searchsorted(self.flat_vars[order], np.arange(n_vars + 1))
        self.var_rows = self.flat_rows[order]
        self.var_coefs = self.flat_coefs[order]
        members = block.indicator_members
        if members:
            owners = np.concatenate(members)
            ys = np.repeat(np.arange(len(members)) + block.n_options,
                           [len(m) for m in members])
        else:
            owners = ys = np.zeros(0, dtype=np.int64)
        order = np.argsort(owners, kind="stable")
        self.ind_ptr = np.searchsorted(owners[order], np.arange(block.n_options + 1))
        self.ind_of = ys[order]
        self.n_rows = len(block.rows)
        # what the compiled scans take, converted once
        self.csr = scan.as_int64(self.var_ptr, self.var_rows, self.var_coefs, self.ind_ptr,
                                 self.ind_of, self.lb, self.ub)
        self.every_row = np.ones(self.n_rows, dtype=bool)
        self.delta = np.zeros(self.n_rows, dtype=np.int64)  # scratch, zero between calls
        self.touched = np.empty(self.n_rows, dtype=np.int64)


class RowState:
    """Row activities of a solution, updated as options are added or removed."""

    def __init__(self, block: Block, sent: np.ndarray) -> None:
        self.block = block
        index = getattr(block, "_index", None)
        if index is None:
            index = BlockIndex(block)
            block._index = index  # type: ignore[attr-defined]
        self.index: BlockIndex = index
        n_vars = block.n_options + block.n_indicators
        self.value = np.zeros(n_vars, dtype=np.int64)
        self.value[sent] = 1
        sent = np.asarray(sent, dtype=np.int64)
        raised = index.ind_of[ranges(index.ind_ptr[sent], index.ind_ptr[sent + 1])]
        self.value[raised] = 1
        self.activity = np.bincount(
            index.flat_rows, weights=index.flat_coefs * self.value[index.flat_vars],
            minlength=index.n_rows).astype(np.int64)

    def _rows(self, var: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.index.var_ptr[var], self.index.var_ptr[var + 1]
        return self.index.var_rows[lo:hi], self.index.var_coefs[lo:hi]

    def _indicators(self, option: int) -> np.ndarray:
        return self.index.ind_of[self.index.ind_ptr[option]:self.index.ind_ptr[option + 1]]

    def breaks_a_row(self, option: int) -> bool:
        """Whether sending `option` would push some row past a bound."""
        index = self.index
        return scan.first_blocking(option, self.value, self.activity, *index.csr,
                                   index.every_row, index.delta, index.touched) >= 0

    def add(self, option: int) -> None:
        scan.send(option, self.value, self.activity, *self.index.csr[:5])

    def remove(self, option: int) -> None:
        """Un-send an option; indicators drop when no member is left."""
        if not self.value[option]:
            return
        self.value[option] = 0
        rows, coefs = self._rows(option)
        np.subtract.at(self.activity, rows, coefs)
        for y in self._indicators(option):
            members = self.block.indicator_members[int(y) - self.block.n_options]
            if self.value[y] and not self.value[members].any():
                self.value[y] = 0
                rows, coefs = self._rows(int(y))
                np.subtract.at(self.activity, rows, coefs)

    def winners(self, row_id: int) -> np.ndarray:
        """Options currently sent that count in a row (through indicators too)."""
        row = self.block.rows[row_id]
        n_options = self.block.n_options
        n_vars = n_options + self.block.n_indicators
        direct = row.vars[row.vars < n_options]
        through = [
            self.block.indicator_members[int(v) - n_options]
            for v in row.vars
            if n_options <= v < n_vars
        ]
        members = np.concatenate([direct, *through]) if through else direct
        return members[self.value[members] > 0]


def fill(block: Block, state: RowState, allowed: np.ndarray | None = None) -> list[int]:
    """Greedily add unsent candidates' paying options that break no row; returns them.

    `allowed` (a mask over options) limits which options may be added. Options are tried
    by tier, then value (highest first), then day.
    """
    options = block.options
    cand, _ = _local_candidates(block)
    coef = options["coef"].to_numpy(float)
    eligible = coef > 0
    if allowed is not None:
        eligible &= allowed
    cand_sent = np.zeros(int(cand.max(initial=-1)) + 1, dtype=bool)
    cand_sent[cand[state.value[: block.n_options] > 0]] = True
    order = np.lexsort((options["day"].to_numpy(), -coef, options["tier"].to_numpy()))
    index = state.index
    # value and activity are int64 already: the scan updates the state in place
    added = scan.fill_scan(*scan.as_int64(order[eligible[order]], cand), cand_sent,
                           state.value, state.activity, *index.csr)
    return [int(option) for option in added]


def _local_candidates(block: Block) -> tuple[np.ndarray, np.ndarray]:
    """(local candidate number per option, the global candidate of each number)."""
    uniques, local = unique_inverse(block.options["cand"].to_numpy(np.int64))
    return local, uniques


def explain(
    block: Block, state: RowState, candidate_ids: np.ndarray, values: np.ndarray
) -> Suppressions:
    """A suppression (binding rule and what won) for every candidate of the block not sent."""
    options = block.options
    cand, global_cand = _local_candidates(block)
    decided = np.zeros(len(global_cand), dtype=bool)
    decided[cand[state.value[: block.n_options] > 0]] = True
    coef = options["coef"].to_numpy(float)
    order = np.lexsort((options["day"].to_numpy(), -coef, cand))
    counted = ~block.rows.has_reason("candidate")
    verdict = scan.blocking_scan(*scan.as_int64(order, cand), decided,
                                 *scan.as_int64(state.value, state.activity), *state.index.csr,
                                 counted, coef > 0)
    explained = np.flatnonzero(verdict != -1)
    rows = verdict[explained]
    unpaid = rows == -2
    parts = [Suppressions.of(global_cand[explained[unpaid]], "no_value", "", NO_VALUE)]
    binding = rows[~unpaid]
    distinct, inverse = unique_inverse(binding)  # rows do not change: describe each once
    all_cand = block.options["cand"].to_numpy(np.int64)
    texts = [block.rows.rule_name(int(r)) for r in distinct]
    texts += [_describe_winners(state, int(r), all_cand, candidate_ids, values) for r in distinct]
    reasons = np.array([block.rows.reason(int(r)) for r in distinct], dtype=object)
    parts.append(Suppressions(
        global_cand[explained[~unpaid]].astype(np.int64),
        np.array([REASON_CODE[r] for r in reasons], dtype=np.int8)[inverse],
        inverse, inverse + len(distinct), tuple(texts)))
    return Suppressions.concat(parts)


def _describe_winners(
    state: RowState, row_id: int, cand: np.ndarray, candidate_ids: np.ndarray, values: np.ndarray
) -> str:
    """Name what took the room: all winners of a small row, the marginal ones of a big one."""
    won = unique(cand[state.winners(row_id)])
    if len(won) == 0:
        return "limit already reached by history"
    if len(won) <= 5:
        return "won by " + ", ".join(f"{candidate_ids[w]} (value {values[w]:g})" for w in won)
    marginal = won[np.argsort(values[won], kind="stable")[:3]]
    return f"shared by {len(won)} planned sends; the lowest-value winners: " + ", ".join(
        f"{candidate_ids[w]} (value {values[w]:g})" for w in marginal
    )


def fill_block(block: CustomerBlock, state: BlockRowState,
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


def explain_block(block: CustomerBlock, state: BlockRowState, candidate_ids: np.ndarray,
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


def _row_reason(block: CustomerBlock, state: BlockRowState, row: int,
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
