"""Build tiny scenarios in a temporary folder, plan them, and verify the plan.

Tests describe a scenario as Python lists of rows; `write_scenario` turns them
into a real scenario folder (YAML + CSV) so every test exercises the same
loading path a planner's files go through. `plan_and_verify` runs the
optimiser, writes the plan, and asserts the independent verifier accepts it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from models import load_scenario
from optimiser.cpsat import SolverOptions
from optimiser.plan import Plan, build_plan, write_plan
from optimiser.solve import solve
from optimiser.verify import verify_plan

START = "2026-11-23"  # a Monday

DEFAULT_CHANNELS: dict[str, Any] = {"email": {"cost": 0.0}, "sms": {"cost": 0.0}}


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def _columns(rows: Sequence[Mapping[str, Any]], first: Sequence[str]) -> list[str]:
    columns = list(first)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


def customer(customer_id: str, **attributes: Any) -> dict[str, Any]:
    """A customer consenting to email and sms unless told otherwise."""
    row = {"customer_id": customer_id, "consent_email": "true", "consent_sms": "true"}
    row.update({k: v for k, v in attributes.items()})
    return row


def comm(
    comm_id: str, priority: int = 1, category: str = "marketing", **extra: Any
) -> dict[str, Any]:
    row = {"comm_id": comm_id, "product_line": extra.pop("product_line", "cards"),
           "category": category, "priority": priority}
    row.update(extra)
    return row


def cand(candidate_id: str, customer_id: str, comm_id: str, value: float, *,
         channels: str = "email", earliest: str = START, latest: str = START,
         **extra: Any) -> dict[str, Any]:
    row = {"candidate_id": candidate_id, "customer_id": customer_id, "comm_id": comm_id,
           "channels": channels, "earliest": earliest, "latest": latest, "value": value}
    row.update(extra)
    return row


def write_scenario(
    folder: Path,
    *,
    customers: Sequence[Mapping[str, Any]],
    communications: Sequence[Mapping[str, Any]],
    candidates: Sequence[Mapping[str, Any]],
    rules: Sequence[Mapping[str, Any]] = (),
    history: Sequence[Mapping[str, Any]] | None = None,
    states: Sequence[Mapping[str, Any]] | None = None,
    channels: Mapping[str, Any] | None = None,
    days: int = 7,
    start: str = START,
    dedup: Any = None,
    objective: Mapping[str, Any] | None = None,
) -> Path:
    """Write a scenario folder and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"customers": "customers.csv", "communications": "communications.csv",
            "candidates": "candidates.csv"}
    _write_csv(folder / "customers.csv", customers, _columns(customers, ["customer_id"]))
    _write_csv(folder / "communications.csv", communications,
               _columns(communications, ["comm_id", "product_line", "category", "priority"]))
    _write_csv(folder / "candidates.csv", candidates,
               _columns(candidates, ["candidate_id", "customer_id", "comm_id", "channels",
                                     "earliest", "latest", "value"]))
    if history is not None:
        data["history"] = "history.csv"
        _write_csv(folder / "history.csv", history, ["customer_id", "comm_id", "channel", "date"])
    if states is not None:
        data["states"] = "states.csv"
        _write_csv(folder / "states.csv", states, ["customer_id", "state", "start", "end"])
    doc: dict[str, Any] = {
        "name": folder.name,
        "horizon": {"start": start, "days": days},
        "data": data,
        "channels": dict(channels or DEFAULT_CHANNELS),
        "rules": list(rules),
    }
    if dedup is not None:
        doc["dedup"] = dedup
    if objective is not None:
        doc["objective"] = dict(objective)
    (folder / "scenario.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder


def plan_and_verify(folder: Path, out: Path | None = None, *, time_limit: float = 20.0,
                    workers: int = 1, seed: int = 0, strategy: str = "auto") -> Plan:
    """Plan a scenario folder, write it, and assert the verifier finds no violation.

    `strategy` is how customers coupled by global rules are solved (auto, joint, decompose).
    """
    scenario = load_scenario(folder)
    outcome = solve(scenario, SolverOptions(time_limit_s=time_limit, seed=seed, workers=workers,
                                            strategy=strategy))
    plan = build_plan(scenario, outcome, {"time_limit_s": time_limit, "seed": seed,
                                          "workers": workers})
    out = out or folder.parent / f"{folder.name}-plan"
    write_plan(plan, out)
    violations = verify_plan(scenario, out)
    assert violations == [], "\n".join(violations)
    return plan


def sent_ids(plan: Plan) -> set[str]:
    return set(plan.calendar["candidate_id"])


def reason_of(plan: Plan, candidate_id: str) -> tuple[str, str]:
    row = plan.suppressed[plan.suppressed["candidate_id"] == candidate_id]
    assert len(row) == 1, f"{candidate_id} not suppressed"
    return str(row["reason"].iloc[0]), str(row["rule"].iloc[0])
