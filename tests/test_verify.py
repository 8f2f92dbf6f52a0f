"""The verifier: a hand-made correct plan verifies; each corruption is named.

The base scenario (horizon Mon 2026-11-23 .. Sun 2026-11-29) and its correct plan:

    customer C1  consent email, sms, call; prefers sms|email; history TIPS on Fri 11-20
    customer C2  consent email only; in complaint from Thu 11-26 (open-ended)
    customer C3  consent call only; do_not_market = yes

    K1 C1 BILL  (mandatory) email|call  sent Mon 11-23 email   tier 1: 10*0.8 - 0.11
    K2 C1 PROMO sms                     sent Tue 11-24 sms     tier 2: 5*1.0 - 0.05
    K3 C1 NEWS  email                   sent Fri 11-27 email   tier 3: 1*0.8 - 0.01
    K9 C2 NEWS  email                   sent Mon 11-23 email   tier 3: 2*1.0 - 0.01
    K4 C2 BILL  (mandatory) sms         suppressed no_consent
    K5 C3 PROMO call                    suppressed exclusion (do-not-market)
    K6 C1 PROMO2 sms (same dedup_key)   suppressed duplicate
    K7 C1 NEWS  window in December      suppressed outside_horizon
    K8 C3 NEWS  call, Sat..Sun          suppressed channel_closed

The soft volume rule (NEWS count >= 3, penalty 0.5 in tier 3) is short by one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from models import load_scenario
from optimiser.verify import verify_plan

DATES = [f"2026-11-{day}" for day in range(23, 30)]

BASE_YAML: dict[str, Any] = {
    "name": "verify test",
    "horizon": {"start": "2026-11-23", "days": 7},
    "data": {
        "customers": "customers.csv",
        "communications": "communications.csv",
        "candidates": "candidates.csv",
        "history": "history.csv",
        "states": "states.csv",
    },
    "channels": {
        "email": {"cost": 0.01},
        "sms": {"cost": 0.05},
        "call": {"cost": 4.5, "closed": ["sat", "sun", "2026-11-25"]},
    },
    "rules": [
        {
            "frequency_cap": {
                "name": "marketing-2-per-7",
                "select": {"categories": ["marketing"]},
                "max": 2,
                "window_days": 7,
            }
        },
        {
            "min_gap": {
                "name": "marketing-gap",
                "first": {"categories": ["marketing"]},
                "then": {"categories": ["marketing"]},
                "days": 2,
            }
        },
        {
            "exclusion": {
                "name": "no-marketing-in-complaint",
                "select": {"categories": ["marketing"]},
                "states": ["complaint"],
            }
        },
        {
            "exclusion": {
                "name": "do-not-market",
                "select": {"categories": ["marketing"]},
                "customers": {"do_not_market": True},
            }
        },
        {
            "exclusion": {
                "name": "no-marketing-on-bill-day",
                "select": {"categories": ["marketing"]},
                "around": {"tags": ["bill"]},
                "days_before": 0,
                "days_after": 0,
            }
        },
        {"never_together": {"name": "one-offer", "select": {"tags": ["offer"]}}},
        {
            "capacity": {
                "name": "call-seats",
                "select": {"channels": ["call"]},
                "max": 1,
                "per": "day",
            }
        },
        {"budget": {"name": "budget", "max": 1.0}},
        {
            "volume": {
                "name": "news-minimum",
                "select": {"comm_ids": ["NEWS"]},
                "min": 3,
                "soft": {"penalty": 0.5, "tier": 3},
            }
        },
    ],
    "dedup": {"window_days": 30},
    "objective": {"cost_weight": 1.0, "channel_preference": {"weights": [1.0, 0.8], "others": 0.5}},
}

TABLES: dict[str, list[dict[str, object]]] = {
    "customers": [
        {
            "customer_id": "C1",
            "consent_email": "true",
            "consent_sms": "yes",
            "consent_call": "1",
            "preferred_channels": "sms|email",
            "do_not_market": "no",
        },
        {
            "customer_id": "C2",
            "consent_email": "true",
            "consent_sms": "",
            "consent_call": "",
            "preferred_channels": "",
            "do_not_market": "false",
        },
        {
            "customer_id": "C3",
            "consent_email": "",
            "consent_sms": "",
            "consent_call": "true",
            "preferred_channels": "",
            "do_not_market": "yes",
        },
    ],
    "communications": [
        {
            "comm_id": "BILL",
            "product_line": "billing",
            "category": "service",
            "priority": 1,
            "mandatory": "true",
            "dedup_key": "",
            "tags": "bill",
            "cost": 0.1,
        },
        {
            "comm_id": "PROMO",
            "product_line": "cards",
            "category": "marketing",
            "priority": 2,
            "mandatory": "",
            "dedup_key": "offer",
            "tags": "card|offer",
            "cost": 0,
        },
        {
            "comm_id": "PROMO2",
            "product_line": "loans",
            "category": "marketing",
            "priority": 2,
            "mandatory": "",
            "dedup_key": "offer",
            "tags": "offer",
            "cost": 0,
        },
        {
            "comm_id": "NEWS",
            "product_line": "digital",
            "category": "marketing",
            "priority": 3,
            "mandatory": "",
            "dedup_key": "",
            "tags": "",
            "cost": 0,
        },
        {
            "comm_id": "TIPS",
            "product_line": "digital",
            "category": "marketing",
            "priority": 3,
            "mandatory": "",
            "dedup_key": "",
            "tags": "",
            "cost": 0,
        },
    ],
    "candidates": [
        {
            "candidate_id": "K1",
            "customer_id": "C1",
            "comm_id": "BILL",
            "channels": "email|call",
            "earliest": "2026-11-23",
            "latest": "2026-11-29",
            "value": 10,
        },
        {
            "candidate_id": "K2",
            "customer_id": "C1",
            "comm_id": "PROMO",
            "channels": "sms",
            "earliest": "2026-11-23",
            "latest": "2026-11-29",
            "value": 5,
        },
        {
            "candidate_id": "K3",
            "customer_id": "C1",
            "comm_id": "NEWS",
            "channels": "email",
            "earliest": "2026-11-23",
            "latest": "2026-11-29",
            "value": 1,
        },
        {
            "candidate_id": "K4",
            "customer_id": "C2",
            "comm_id": "BILL",
            "channels": "sms",
            "earliest": "2026-11-23",
            "latest": "2026-11-29",
            "value": 10,
        },
        {
            "candidate_id": "K5",
            "customer_id": "C3",
            "comm_id": "PROMO",
            "channels": "call",
            "earliest": "2026-11-23",
            "latest": "2026-11-29",
            "value": 5,
        },
        {
            "candidate_id": "K6",
            "customer_id": "C1",
            "comm_id": "PROMO2",
            "channels": "sms",
            "earliest": "2026-11-23",
            "latest": "2026-11-29",
            "value": 4,
        },
        {
            "candidate_id": "K7",
            "customer_id": "C1",
            "comm_id": "NEWS",
            "channels": "email",
            "earliest": "2026-12-10",
            "latest": "2026-12-12",
            "value": 1,
        },
        {
            "candidate_id": "K8",
            "customer_id": "C3",
            "comm_id": "NEWS",
            "channels": "call",
            "earliest": "2026-11-28",
            "latest": "2026-11-29",
            "value": 1,
        },
        {
            "candidate_id": "K9",
            "customer_id": "C2",
            "comm_id": "NEWS",
            "channels": "email",
            "earliest": "2026-11-23",
            "latest": "2026-11-29",
            "value": 2,
        },
    ],
    "history": [
        {"customer_id": "C1", "comm_id": "TIPS", "channel": "email", "date": "2026-11-20"},
    ],
    "states": [
        {"customer_id": "C2", "state": "complaint", "start": "2026-11-26", "end": ""},
    ],
}


def send(candidate: str, date: str, channel: str) -> dict[str, object]:
    """A calendar row for a base-scenario candidate, with its facts and true cost."""
    cand = next(c for c in TABLES["candidates"] if c["candidate_id"] == candidate)
    comm = next(c for c in TABLES["communications"] if c["comm_id"] == cand["comm_id"])
    cost = BASE_YAML["channels"][channel]["cost"] + float(comm["cost"])  # type: ignore[arg-type]
    return {
        "date": date,
        "customer_id": cand["customer_id"],
        "channel": channel,
        "comm_id": cand["comm_id"],
        "candidate_id": candidate,
        "product_line": comm["product_line"],
        "category": comm["category"],
        "priority": comm["priority"],
        "value": cand["value"],
        "cost": cost,
    }


def suppress(candidate: str, reason: str, rule: str = "") -> dict[str, object]:
    cand = next(c for c in TABLES["candidates"] if c["candidate_id"] == candidate)
    comm = next(c for c in TABLES["communications"] if c["comm_id"] == cand["comm_id"])
    return {
        "candidate_id": candidate,
        "customer_id": cand["customer_id"],
        "comm_id": cand["comm_id"],
        "product_line": comm["product_line"],
        "reason": reason,
        "rule": rule,
        "detail": "",
    }


def correct_plan() -> dict[str, Any]:
    """The hand-made optimum-shaped plan of the base scenario, as calendar/suppressed/summary."""
    calendar = [
        send("K1", "2026-11-23", "email"),
        send("K9", "2026-11-23", "email"),
        send("K2", "2026-11-24", "sms"),
        send("K3", "2026-11-27", "email"),
    ]
    suppressed = [
        suppress("K4", "no_consent"),
        suppress("K5", "exclusion", "do-not-market"),
        suppress("K6", "duplicate", "dedup"),
        suppress("K7", "outside_horizon"),
        suppress("K8", "channel_closed"),
    ]
    tiers = {"1": 10 * 0.8 - 0.11, "2": 5 * 1.0 - 0.05, "3": (1 * 0.8 - 0.01) + (2 - 0.01) - 0.5}
    objective = sum(tiers.values())
    summary = {
        "status": "OPTIMAL",
        "objective": objective,
        "objective_by_tier": tiers,
        "bound": objective,
        "gap": 0.0,
        "global_rules": [
            {
                "name": "call-seats",
                "usage": {d: 0.0 for d in DATES},
                "violation": 0.0,
                "penalty": 0.0,
            },
            {
                "name": "budget",
                "usage": 0.11 + 0.01 + 0.05 + 0.01,
                "violation": 0.0,
                "penalty": 0.0,
            },
            {"name": "news-minimum", "usage": 2.0, "violation": 1.0, "penalty": 0.5},
        ],
    }
    return {"calendar": calendar, "suppressed": suppressed, "summary": summary}


def write_scenario(
    folder: Path,
    doc: dict[str, Any] | None = None,
    tables: dict[str, list[dict[str, object]]] | None = None,
) -> Path:
    """Write scenario.yaml and its CSVs (base ones unless overridden) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenario.yaml").write_text(yaml.safe_dump(doc or BASE_YAML), encoding="utf-8")
    for name, rows in (tables or TABLES).items():
        frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(TABLES[name][0]))
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def write_plan(folder: Path, plan: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if plan.get("calendar") is not None:
        calendar = pd.DataFrame(plan["calendar"], columns=list(send("K1", DATES[0], "email")))
        calendar.sort_values(["date", "customer_id"], kind="stable").to_csv(
            folder / "calendar.csv", index=False
        )
    if plan.get("suppressed") is not None:
        pd.DataFrame(plan["suppressed"], columns=list(suppress("K1", "x"))).to_csv(
            folder / "suppressed.csv", index=False
        )
    (folder / "summary.json").write_text(json.dumps(plan["summary"]), encoding="utf-8")
    return folder


def verify(
    tmp_path: Path,
    plan: dict[str, Any],
    doc: dict[str, Any] | None = None,
    tables: dict[str, list[dict[str, object]]] | None = None,
) -> list[str]:
    scenario = load_scenario(write_scenario(tmp_path / "scenario", doc, tables))
    return verify_plan(scenario, write_plan(tmp_path / "plan", plan))


def move(plan: dict[str, Any], candidate: str, date: str, channel: str) -> None:
    """Re-schedule (or newly schedule) a candidate in the plan's calendar."""
    plan["suppressed"] = [r for r in plan["suppressed"] if r["candidate_id"] != candidate]
    plan["calendar"] = [r for r in plan["calendar"] if r["candidate_id"] != candidate]
    plan["calendar"].append(send(candidate, date, channel))


def mentions(problems: list[str], *words: str) -> bool:
    return any(all(word in line for word in words) for line in problems)


# --------------------------------------------------------------------------- the good plan


def test_correct_plan_verifies(tmp_path: Path) -> None:
    assert verify(tmp_path, correct_plan()) == []


def test_soft_capacity_penalty_is_charged_in_its_tier(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][6] = {
        "capacity": {
            "name": "call-seats",
            "select": {"channels": ["email"]},
            "max": 1,
            "per": "day",
            "soft": {"penalty": 2.0},
        }
    }
    plan = correct_plan()
    usage = {d: 0.0 for d in DATES} | {"2026-11-23": 2.0, "2026-11-27": 1.0}
    plan["summary"]["global_rules"][0] = {
        "name": "call-seats",
        "usage": usage,
        "violation": 1.0,
        "penalty": 2.0,
    }
    plan["summary"]["objective_by_tier"]["1"] -= 2.0
    plan["summary"]["objective"] -= 2.0
    plan["summary"]["bound"] -= 2.0
    assert verify(tmp_path, plan, doc) == []


def test_soft_penalty_left_out_of_the_objective_is_reported(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["summary"]["objective_by_tier"]["3"] += 0.5
    plan["summary"]["objective"] += 0.5
    plan["summary"]["bound"] += 0.5
    assert mentions(verify(tmp_path, plan), "objective of tier 3")


# --------------------------------------------------------------------------- 1. files


def test_infeasible_folder_has_no_calendar(tmp_path: Path) -> None:
    plan = {"calendar": None, "suppressed": None, "summary": {"status": "INFEASIBLE"}}
    problems = verify(tmp_path, plan)
    assert len(problems) == 1 and "plan has no calendar" in problems[0]
    assert "INFEASIBLE" in problems[0]


def test_missing_column(tmp_path: Path) -> None:
    write_plan(tmp_path / "plan", correct_plan())
    calendar = pd.read_csv(tmp_path / "plan" / "calendar.csv", dtype=str)
    calendar.drop(columns=["cost"]).to_csv(tmp_path / "plan" / "calendar.csv", index=False)
    scenario = load_scenario(write_scenario(tmp_path / "scenario"))
    assert mentions(verify_plan(scenario, tmp_path / "plan"), "calendar.csv", "cost")


def test_bad_status(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["summary"]["status"] = "INFEASIBLE"
    assert mentions(verify(tmp_path, plan), "status", "INFEASIBLE")


# --------------------------------------------------------------------------- 2. accounting


def test_missing_candidate(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["suppressed"] = [r for r in plan["suppressed"] if r["candidate_id"] != "K7"]
    assert mentions(verify(tmp_path, plan), "'K7'", "missing")


def test_candidate_listed_twice(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["suppressed"].append(suppress("K3", "frequency_cap", "marketing-2-per-7"))
    assert mentions(verify(tmp_path, plan), "'K3'", "2 times")


def test_unknown_candidate(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["suppressed"].append({**suppress("K3", "no_value"), "candidate_id": "K99"})
    assert mentions(verify(tmp_path, plan), "'K99'", "not in the scenario")


def test_calendar_row_facts_must_match(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"][3]["comm_id"] = "PROMO"
    plan["calendar"][3]["value"] = 7
    problems = verify(tmp_path, plan)
    assert mentions(problems, "'K3'", "comm_id")
    assert mentions(problems, "'K3'", "value")


def test_wrong_cost(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"][0]["cost"] = 0.01  # forgot the communication's own cost
    assert mentions(verify(tmp_path, plan), "'K1'", "cost")


# --------------------------------------------------------------------------- 3. each send


def test_send_on_closed_day(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K1", "2026-11-25", "call")  # call is closed on that date
    assert mentions(verify(tmp_path, plan), "'K1'", "closed")


def test_send_without_consent(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K4", "2026-11-24", "sms")
    assert mentions(verify(tmp_path, plan), "'K4'", "no consent")


def test_send_outside_window_and_horizon(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K7", "2026-11-30", "email")
    problems = verify(tmp_path, plan)
    assert mentions(problems, "'K7'", "outside the horizon")
    assert mentions(problems, "'K7'", "outside its window")


def test_channel_not_allowed(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K3", "2026-11-27", "sms")
    assert mentions(verify(tmp_path, plan), "'K3'", "not one of its channels")


# --------------------------------------------------------------------------- 4. reasons


def test_unknown_reason(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["suppressed"][1]["reason"] = "bored"
    assert mentions(verify(tmp_path, plan), "'K5'", "'bored'")


def test_false_data_reasons(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"] = [r for r in plan["calendar"] if r["candidate_id"] not in ("K3", "K9")]
    plan["suppressed"] += [suppress("K3", "channel_closed"), suppress("K9", "outside_horizon")]
    problems = verify(tmp_path, plan)
    assert mentions(problems, "'K3'", "channel_closed")
    assert mentions(problems, "'K9'", "outside_horizon")


def test_false_duplicate(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"] = [r for r in plan["calendar"] if r["candidate_id"] != "K2"]
    plan["suppressed"].append(suppress("K2", "capacity", "call-seats"))
    # K6 is now the only copy of the 'offer' message and no history holds it
    assert mentions(verify(tmp_path, plan), "'K6'", "duplicate")


def test_duplicate_explained_by_history_through_closed_days(tmp_path: Path) -> None:
    tables = copy.deepcopy(TABLES)
    tables["candidates"].append(
        {
            "candidate_id": "K10",
            "customer_id": "C3",
            "comm_id": "BILL",
            "channels": "call",
            "earliest": "2026-11-23",
            "latest": "2026-11-29",
            "value": 1,
        }
    )
    plan = correct_plan()
    plan["suppressed"].append(
        {
            "candidate_id": "K10",
            "customer_id": "C3",
            "comm_id": "BILL",
            "product_line": "billing",
            "reason": "duplicate",
            "rule": "dedup",
            "detail": "",
        }
    )
    # C3 got the bill by call 29 days before Friday 11-27: Friday is still within the
    # 30-day dedup window and the weekend after it is closed for calls
    tables["history"].append(
        {"customer_id": "C3", "comm_id": "BILL", "channel": "call", "date": "2026-10-29"}
    )
    assert verify(tmp_path / "a", plan, tables=tables) == []
    # one day earlier, Friday is free again: the duplicate claim is false
    tables["history"][-1]["date"] = "2026-10-28"
    assert mentions(verify(tmp_path / "b", plan, tables=tables), "'K10'", "duplicate")


# --------------------------------------------------------------------------- 5. customer rules


def test_frequency_cap_exceeded_with_history(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K3", "2026-11-26", "email")  # with history on 11-20: 3 in 11-20..11-26
    problems = verify(tmp_path, plan)
    assert problems == [line for line in problems if "marketing-2-per-7" in line]
    assert mentions(problems, "marketing-2-per-7", "'C1'", "1 history")


def test_frequency_cap_per_week(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][0] = {
        "frequency_cap": {
            "name": "one-promo-a-week",
            "period": "week",
            "select": {"categories": ["marketing"]},
            "max": 2,
        }
    }
    assert verify(tmp_path, correct_plan(), doc) == []  # history (previous week) not counted
    doc["rules"][0]["frequency_cap"]["max"] = 1
    assert mentions(verify(tmp_path, correct_plan(), doc), "one-promo-a-week", "'C1'")


def test_frequency_cap_over_horizon_ignores_history(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][0] = {
        "frequency_cap": {
            "name": "two-in-horizon",
            "period": "horizon",
            "select": {"categories": ["marketing"]},
            "max": 2,
        }
    }
    assert verify(tmp_path, correct_plan(), doc) == []
    doc["rules"][0]["frequency_cap"]["max"] = 1
    assert mentions(verify(tmp_path, correct_plan(), doc), "two-in-horizon", "'C1'")


def test_min_gap_violated(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][1]["min_gap"]["days"] = 4  # K2 on 11-24, K3 on 11-27: only 3 days apart
    problems = verify(tmp_path, correct_plan(), doc)
    assert mentions(problems, "marketing-gap", "'K3'", "'K2'")


def test_min_gap_counts_history_as_first(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][1]["min_gap"]["days"] = 5  # history TIPS on 11-20, K2 on 11-24
    assert mentions(verify(tmp_path, correct_plan(), doc), "marketing-gap", "'K2'", "history")


def test_state_exclusion(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K9", "2026-11-28", "email")
    assert mentions(verify(tmp_path, plan), "no-marketing-in-complaint", "'K9'", "complaint")


def test_customer_exclusion(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K5", "2026-11-23", "call")
    assert mentions(verify(tmp_path, plan), "do-not-market", "'K5'")


def test_around_exclusion(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K2", "2026-11-23", "sms")  # the bill day of K1
    assert mentions(verify(tmp_path, plan), "no-marketing-on-bill-day", "'K2'")


def test_never_together(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K6", "2026-11-29", "sms")
    problems = verify(tmp_path, plan)
    assert mentions(problems, "one-offer", "'C1'")
    assert mentions(problems, "dedup", "'C1'", "'offer'")


def test_dedup_against_history(tmp_path: Path) -> None:
    tables = copy.deepcopy(TABLES)
    tables["history"].append(
        {"customer_id": "C1", "comm_id": "PROMO2", "channel": "sms", "date": "2026-11-01"}
    )
    problems = verify(tmp_path, correct_plan(), tables=tables)
    assert mentions(problems, "dedup", "'K2'", "history")


# --------------------------------------------------------------------------- 6. global rules


def test_budget_exceeded(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][7]["budget"]["max"] = 0.1
    assert mentions(verify(tmp_path, correct_plan(), doc), "budget", "above the max")


def test_hard_capacity_exceeded(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][6]["capacity"]["select"] = {"channels": ["email"]}
    problems = verify(tmp_path, correct_plan(), doc)
    assert mentions(problems, "call-seats", "2 sends on 2026-11-23")


def test_summary_rule_usage_must_agree(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["summary"]["global_rules"][1]["usage"] = 99.0
    assert mentions(verify(tmp_path, plan), "budget", "usage")


# --------------------------------------------------------------------------- 7. objective


def test_wrong_objective(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["summary"]["objective"] += 1.0
    plan["summary"]["bound"] += 1.0
    assert mentions(verify(tmp_path, plan), "objective: summary says")


def test_channel_preference_weight(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K1", "2026-11-23", "call")  # C1 does not list call: weight 'others' = 0.5
    problems = verify(tmp_path, plan)
    expected = 10 * 0.5 - 4.6
    assert mentions(problems, "objective of tier 1", f"{expected:.10g}")


def test_bound_and_gap(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["summary"]["bound"] = plan["summary"]["objective"] - 1.0
    problems = verify(tmp_path, plan)
    assert mentions(problems, "bound", "below the objective")
    plan = correct_plan()
    plan["summary"]["gap"] = 0.5
    assert mentions(verify(tmp_path, plan), "gap")


# --------------------------------------------------------------------------- 8. mandatory


def test_mandatory_suppressed_for_a_rule(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"] = [r for r in plan["calendar"] if r["candidate_id"] != "K1"]
    plan["suppressed"].append(suppress("K1", "frequency_cap", "marketing-2-per-7"))
    assert mentions(verify(tmp_path, plan), "mandatory", "'K1'", "frequency_cap")


@pytest.mark.parametrize("reason", ["no_consent", "outside_horizon"])
def test_mandatory_with_a_false_data_reason(tmp_path: Path, reason: str) -> None:
    plan = correct_plan()
    plan["calendar"] = [r for r in plan["calendar"] if r["candidate_id"] != "K1"]
    plan["suppressed"].append(suppress("K1", reason))
    assert mentions(verify(tmp_path, plan), "'K1'", reason)


def test_volume_on_a_candidate_metric(tmp_path: Path) -> None:
    tables = copy.deepcopy(TABLES)
    for row in tables["candidates"]:
        row["response"] = 0.25
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"].append(
        {"volume": {"name": "expected-responses", "metric": "response", "max": 0.75}}
    )
    plan = correct_plan()
    plan["summary"]["global_rules"].append(
        {"name": "expected-responses", "usage": 1.0, "violation": 0.25, "penalty": 0.0}
    )
    problems = verify(tmp_path, plan, doc, tables)
    assert problems == ["volume 'expected-responses': response total 1 is above the max 0.75"]
