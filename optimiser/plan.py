"""The plan: calendar, suppressed list and summary, written whole or not at all.

The objective reported here is recomputed in floating point from the sends
themselves (value x channel weight - cost x cost_weight, minus exact soft
penalties), not read back from the integer model, so rounding inside the
solver never leaks into the figures a planner sees. The bound is the
solver's bound plus the scaling margin: an upper bound, never a guess.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from models import Scenario
from models.rules import Budget, Capacity, Volume
from optimiser.csv_writer import write_csv
from optimiser.select import Matcher, SendCodes
from optimiser.solve import SolveOutcome

CALENDAR_COLUMNS = [
    "date",
    "customer_id",
    "channel",
    "comm_id",
    "candidate_id",
    "product_line",
    "category",
    "priority",
    "value",
    "cost",
]
SUPPRESSED_COLUMNS = [
    "candidate_id",
    "customer_id",
    "comm_id",
    "product_line",
    "reason",
    "rule",
    "detail",
]


@dataclass
class Plan:
    calendar: pd.DataFrame
    suppressed: pd.DataFrame
    summary: dict[str, Any]


def build_plan(scenario: Scenario, outcome: SolveOutcome, run: Mapping[str, Any]) -> Plan:
    chosen = outcome.sends
    cands = scenario.candidates
    comms = scenario.communications
    channels = np.array(list(scenario.channels), dtype=object)
    cand_index = chosen["cand"].to_numpy(np.int64)
    comm_index = chosen["comm"].to_numpy(np.int64)
    days = chosen["day"].to_numpy(np.int64)
    calendar = (
        pd.DataFrame(
            {
                "date": _dates(scenario, days),
                "customer_id": _take(cands["customer_id"], cand_index),
                "channel": channels[chosen["channel"].to_numpy(np.int64)],
                "comm_id": _take(cands["comm_id"], cand_index),
                "candidate_id": _take(cands["candidate_id"], cand_index),
                "product_line": _take(comms["product_line"], comm_index),
                "category": _take(comms["category"], comm_index),
                "priority": comms["priority"].to_numpy()[comm_index],
                "value": cands["value"].to_numpy(float)[cand_index],
                "cost": chosen["cost"].to_numpy(float),
            }
        )
        .sort_values(["date", "customer_id", "candidate_id"], kind="stable")
        .reset_index(drop=True)
    )

    dropped = outcome.suppressed.sorted()
    positions = dropped.cand
    comm_ids = _take(cands["comm_id"], positions)
    suppressed = pd.DataFrame(
        {
            "candidate_id": _take(cands["candidate_id"], positions),
            "customer_id": _take(cands["customer_id"], positions),
            "comm_id": comm_ids,
            "product_line": _take(comms["product_line"], comm_index_of(scenario, comm_ids)),
            "reason": dropped.reason_names(),
            "rule": dropped.text_column(dropped.rule),
            "detail": dropped.text_column(dropped.detail),
        },
        columns=SUPPRESSED_COLUMNS,
    )
    summary = _summary(scenario, outcome, chosen, calendar, suppressed, run)
    return Plan(calendar, suppressed, summary)


def _take(column: pd.Series, positions: np.ndarray) -> Any:
    """Rows `positions` of a column in its own storage: an Arrow string column stays one
    (no Python string per row: at 100k that was 2 s of building the plan's tables)."""
    return column.array.take(positions)


def _dates(scenario: Scenario, days: np.ndarray) -> np.ndarray:
    """The ISO date of every plan day, each formatted once."""
    distinct, inverse = np.unique(days, return_inverse=True)
    return np.array([scenario.date_of(int(d)).isoformat() for d in distinct],
                    dtype=object)[inverse.ravel()]


def comm_index_of(scenario: Scenario, comm_ids: Any) -> np.ndarray:
    """Catalogue position of each comm_id."""
    return pd.Index(scenario.communications["comm_id"]).get_indexer(comm_ids)


def _soft_rows(
    scenario: Scenario, chosen: pd.DataFrame, prices: Mapping[str, float]
) -> tuple[list[dict[str, Any]], dict[int, float]]:
    """Usage of every global rule by the plan, and exact soft penalties per tier."""
    matcher = Matcher(scenario)
    sends = SendCodes(
        chosen["customer"].to_numpy(np.int64),
        chosen["comm"].to_numpy(np.int64),
        chosen["channel"].to_numpy(np.int64),
        chosen["day"].to_numpy(np.int64),
    )
    penalties: dict[int, float] = {}
    report = []
    for rule in scenario.global_rules:
        assert isinstance(rule, (Capacity, Budget, Volume))
        mask = matcher.match(rule.select, sends)
        low: float | None
        high: float | None
        if isinstance(rule, Capacity):
            low, high, metric = None, rule.max, "count"
        elif isinstance(rule, Budget):
            low, high, metric = None, rule.max, "cost"
        else:
            low, high, metric = rule.min, rule.max, rule.metric
        if metric == "count":
            amounts = np.ones(len(chosen))
        elif metric == "cost":
            amounts = chosen["cost"].to_numpy(float)
        else:
            amounts = scenario.candidates[metric].to_numpy(float)[chosen["cand"].to_numpy(np.int64)]
        if isinstance(rule, Capacity) and rule.per == "day":
            days = chosen["day"].to_numpy(np.int64)
            per_day = {
                scenario.date_of(d).isoformat(): float(amounts[mask & (days == d)].sum())
                for d in range(scenario.days)
            }
            usage: Any = per_day
            violation = sum(max(0.0, v - rule.max) for v in per_day.values())
        else:
            total = float(amounts[mask].sum())
            usage = total
            violation = max(0.0, (low - total) if low is not None else 0.0) + max(
                0.0, (total - high) if high is not None else 0.0
            )
        penalty = 0.0
        if rule.soft is not None:
            penalty = rule.soft.penalty * violation
            penalties[rule.soft.tier] = penalties.get(rule.soft.tier, 0.0) + penalty
        report.append(
            {
                "name": rule.name,
                "type": type(rule).__name__.lower(),
                "metric": metric,
                "min": low,
                "max": high,
                "per": getattr(rule, "per", "horizon"),
                "soft": rule.soft is not None,
                "usage": usage,
                "violation": violation,
                "penalty": penalty,
                "shadow_price": prices.get(rule.name),
            }
        )
    return report, penalties


def _summary(
    scenario: Scenario,
    outcome: SolveOutcome,
    chosen: pd.DataFrame,
    calendar: pd.DataFrame,
    suppressed: pd.DataFrame,
    run: Mapping[str, Any],
) -> dict[str, Any]:
    global_report, penalties = _soft_rows(scenario, chosen, outcome.prices)
    tiers = sorted(
        set(outcome.bound)
        | set(outcome.achieved)
        | set(penalties)
        | {int(t) for t in chosen["tier"].unique()}
    )
    by_tier: dict[str, float] = {}
    bound_by_tier: dict[str, float] = {}
    for tier in tiers:
        gain = float(chosen.loc[chosen["tier"] == tier, "coef"].sum())
        by_tier[str(tier)] = gain - penalties.get(tier, 0.0)
        scaled_bound = outcome.bound.get(tier, outcome.achieved.get(tier, 0.0))
        bound_by_tier[str(tier)] = (
            scaled_bound / outcome.objective_scale + outcome.bound_margin.get(tier, 0.0)
        )
    objective = float(sum(by_tier.values()))
    bound = float(sum(bound_by_tier.values()))
    by_day = calendar.groupby(["date", "channel"]).size()
    sends_by_day_channel: dict[str, dict[str, int]] = {}
    for day_channel, count in by_day.items():
        date, channel = cast(tuple[object, object], day_channel)
        sends_by_day_channel.setdefault(str(date), {})[str(channel)] = int(count)
    return {
        "format_version": 1,
        "scenario": scenario.name,
        "scenario_path": str(scenario.folder.resolve()),
        "status": outcome.status,
        "objective": objective,
        "objective_by_tier": by_tier,
        "bound": bound,
        "bound_by_tier": bound_by_tier,
        "gap": (bound - objective) / max(1.0, abs(bound)),
        "runtime_s": round(outcome.runtime_s, 3),
        "counts": {
            "candidates": int(len(scenario.candidates)),
            "sends": int(len(calendar)),
            "suppressed": int(len(suppressed)),
            "suppressed_by_reason": {
                str(k): int(v) for k, v in suppressed["reason"].value_counts().sort_index().items()
            },
        },
        "sends_by_day_channel": sends_by_day_channel,
        "sends_by_product_line": {
            str(k): int(v) for k, v in calendar["product_line"].value_counts().sort_index().items()
        },
        "global_rules": global_report,
        "solver": {**dict(run), **outcome.subproblems},
    }


def write_plan(plan: Plan, out: Path, parquet: bool = False) -> None:
    """Write the folder whole or not at all: build it aside, then swap it into place."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_csv(plan.calendar, staging / "calendar.csv")
        if parquet:
            plan.calendar.to_parquet(staging / "calendar.parquet", index=False)
        write_csv(plan.suppressed, staging / "suppressed.csv")
        write_json(staging / "summary.json", plan.summary)
        os.chmod(staging, 0o755)
        replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n", encoding="utf-8"
    )


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")


def replace_dir(staging: Path, out: Path) -> None:
    """Move a finished folder into place, replacing an older plan at the same path."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / "previous")
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)
