"""Solve a MIP written by bench/highs.py with HiGHS, tier by tier (highspy and numpy only).

    python -m bench.highs_solve MIP.npz SOLUTION.npz

Tiers are lexicographic like optimiser/cpsat.py: maximise tier 1, add "tier 1 >=
achieved" as a row, maximise tier 2, ... The time limit is split between tiers as
optimiser.cpsat.tier_budget splits CP-SAT's work (most of what is left, keeping 10%
per later tier). Nothing here may import ortools (see bench/highs.py).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import highspy
import numpy as np


def tier_budget(remaining: float, tiers_after: int) -> float:
    return remaining * max(0.1, 1.0 - 0.1 * tiers_after)  # as optimiser.cpsat.tier_budget


def solve(mip: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    inf = highspy.kHighsInf
    costs = mip["costs"]
    n_vars = costs.shape[1]
    lp = highspy.HighsLp()
    lp.num_col_ = n_vars
    lp.num_row_ = len(mip["row_lower"])
    lp.col_cost_ = np.zeros(n_vars)
    lp.col_lower_ = np.zeros(n_vars)
    lp.col_upper_ = mip["col_upper"]
    lp.row_lower_ = np.where(np.isinf(mip["row_lower"]), -inf, mip["row_lower"])
    lp.row_upper_ = np.where(np.isinf(mip["row_upper"]), inf, mip["row_upper"])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = mip["start"].astype(np.int32)
    lp.a_matrix_.index_ = mip["index"].astype(np.int32)
    lp.a_matrix_.value_ = mip["value"].astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_vars
    lp.sense_ = highspy.ObjSense.kMaximize
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.999)  # integer objective: a gap below 1 is optimal
    h.passModel(lp)

    tiers = mip["tiers"]
    achieved = np.zeros(len(tiers))
    bound = np.zeros(len(tiers))
    values: np.ndarray | None = None
    previous: highspy.HighsSolution | None = None
    deadline = time.monotonic() + float(mip["time_limit"])
    all_cols = np.arange(n_vars, dtype=np.int32)
    for position in range(len(tiers)):
        tier_costs = costs[position]
        remaining = max(deadline - time.monotonic(), 0.0)
        h.changeColsCost(n_vars, all_cols, tier_costs.astype(float))
        h.setOptionValue(
            "time_limit", max(tier_budget(remaining, len(tiers) - position - 1), 1.0)
        )
        if previous is not None:
            h.setSolution(previous)  # the last tier's plan is feasible: start from it
        h.run()
        info = h.getInfo()
        if info.primal_solution_status != 2:  # no feasible solution in this tier's time
            if values is None:
                status = h.modelStatusToString(h.getModelStatus())
                raise SystemExit(
                    f"HiGHS found no feasible plan for tier {tiers[position]} ({status})"
                )
            for later in range(position, len(tiers)):
                bound[later] = mip["trivial"][later]  # no trustworthy solver bound
                achieved[later] = float(costs[later] @ values)
            break
        previous = h.getSolution()
        values = np.round(np.asarray(previous.col_value)).astype(np.int64)
        achieved[position] = float(tier_costs @ values)
        bound[position] = min(float(info.mip_dual_bound), float(mip["trivial"][position]))
        nz = np.flatnonzero(tier_costs).astype(np.int32)
        h.addRow(achieved[position], inf, len(nz), nz, tier_costs[nz].astype(float))
    assert values is not None
    return {"values": values, "achieved": achieved, "bound": bound}


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    with np.load(source) as data:
        mip = {key: data[key] for key in data.files}
    result: dict[str, Any] = solve(mip)
    np.savez(target, **result)


if __name__ == "__main__":
    main()
