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

from optimiser.block import Block
from optimiser.options import Suppression


class RowState:
    """Row activities of a solution, updated as options are added."""

    def __init__(self, block: Block, sent: np.ndarray) -> None:
        self.block = block
        n_vars = block.n_options + block.n_indicators
        self.value = np.zeros(n_vars, dtype=np.int64)
        self.value[sent] = 1
        self.indicators_of: list[list[int]] = [[] for _ in range(block.n_options)]
        for offset, members in enumerate(block.indicator_members):
            y = block.n_options + offset
            if self.value[members].any():
                self.value[y] = 1
            for member in members:
                self.indicators_of[int(member)].append(y)
        self.rows_of: list[list[int]] = [[] for _ in range(n_vars)]
        self.activity = np.zeros(len(block.rows), dtype=np.int64)
        for row_id, row in enumerate(block.rows):
            if row.link:
                continue
            real = row.vars < n_vars  # slack variables are ignored: soft rows are judged hard
            self.activity[row_id] = int((row.coefs[real] * self.value[row.vars[real]]).sum())
            for var in row.vars[real]:
                self.rows_of[int(var)].append(row_id)

    def change(self, option: int) -> tuple[dict[int, int], list[int]]:
        """Activity deltas per row if `option` were sent, and the indicators it would raise."""
        raised = [y for y in self.indicators_of[option] if self.value[y] == 0]
        delta: dict[int, int] = {}
        for var in [option, *raised]:
            for row_id in self.rows_of[var]:
                row = self.block.rows[row_id]
                coef = int(row.coefs[np.flatnonzero(row.vars == var)[0]])
                delta[row_id] = delta.get(row_id, 0) + coef
        return delta, raised

    def blocking_rows(self, option: int) -> list[int]:
        delta, _ = self.change(option)
        blocked = []
        for row_id, change in sorted(delta.items()):
            row = self.block.rows[row_id]
            after = self.activity[row_id] + change
            if (row.ub is not None and change > 0 and after > row.ub) or (
                row.lb is not None and change < 0 and after < row.lb
            ):
                blocked.append(row_id)
        return blocked

    def add(self, option: int) -> None:
        delta, raised = self.change(option)
        for row_id, change in delta.items():
            self.activity[row_id] += change
        self.value[option] = 1
        for y in raised:
            self.value[y] = 1

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


def fill(block: Block, state: RowState) -> list[int]:
    """Greedily add unsent candidates' paying options that break no row; returns them."""
    options = block.options
    sent_cands = set(options["cand"].to_numpy()[state.value[: block.n_options] > 0].tolist())
    order = np.lexsort(
        (options["day"].to_numpy(), -options["coef"].to_numpy(), options["tier"].to_numpy())
    )
    added = []
    for option in order:
        option = int(option)
        cand = int(options["cand"].iat[option])
        if cand in sent_cands or options["coef"].iat[option] <= 0:
            continue
        if not state.blocking_rows(option):
            state.add(option)
            sent_cands.add(cand)
            added.append(option)
    return added


def explain(
    block: Block, state: RowState, candidate_ids: np.ndarray, values: np.ndarray
) -> dict[int, Suppression]:
    """A suppression (binding rule and what won) for every candidate of the block not sent."""
    options = block.options
    cand = options["cand"].to_numpy(np.int64)
    sent_cands = set(cand[state.value[: block.n_options] > 0].tolist())
    out: dict[int, Suppression] = {}
    won_by: dict[int, str] = {}  # rows do not change while explaining: describe each once
    order = np.lexsort((options["day"].to_numpy(), -options["coef"].to_numpy(), cand))
    for option in order:
        option = int(option)
        candidate = int(cand[option])
        if candidate in sent_cands or candidate in out:
            continue
        blocking = [r for r in state.blocking_rows(option) if block.rows[r].reason != "candidate"]
        if not blocking:
            if options["coef"].iat[option] <= 0:
                out[candidate] = Suppression(
                    "no_value",
                    "",
                    "its value net of cost is not positive and no volume target needed it",
                )
            continue  # a cheaper option may be the blocked one; decided below if none is
        row_id = blocking[0]
        if row_id not in won_by:
            won_by[row_id] = _describe_winners(state, row_id, cand, candidate_ids, values)
        out[candidate] = Suppression(
            block.rows[row_id].reason, block.rows[row_id].rule, won_by[row_id]
        )
    return out


def _describe_winners(
    state: RowState, row_id: int, cand: np.ndarray, candidate_ids: np.ndarray, values: np.ndarray
) -> str:
    """Name what took the room: all winners of a small row, the marginal ones of a big one."""
    won = np.unique(cand[state.winners(row_id)])
    if len(won) == 0:
        return "limit already reached by history"
    if len(won) <= 5:
        return "won by " + ", ".join(f"{candidate_ids[w]} (value {values[w]:g})" for w in won)
    marginal = won[np.argsort(values[won], kind="stable")[:3]]
    return f"shared by {len(won)} planned sends; the lowest-value winners: " + ", ".join(
        f"{candidate_ids[w]} (value {values[w]:g})" for w in marginal
    )
