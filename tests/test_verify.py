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

import optimiser.verify as verify_module
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


def test_calendar_must_be_sorted(tmp_path: Path) -> None:
    folder = write_plan(tmp_path / "plan", correct_plan())
    lines = (folder / "calendar.csv").read_text(encoding="utf-8").splitlines()
    shuffled = [lines[0], *reversed(lines[1:])]
    (folder / "calendar.csv").write_text("\n".join(shuffled) + "\n", encoding="utf-8")
    scenario = load_scenario(write_scenario(tmp_path / "scenario"))
    assert verify_plan(scenario, folder) == ["calendar.csv is not sorted by date, customer_id"]


def test_cells_are_read_as_written(tmp_path: Path) -> None:
    """Quoted commas, quotes and line breaks in a cell; ids that look like numbers."""
    plan = correct_plan()
    plan["suppressed"][0]["detail"] = 'no consent, "really"\non sms'
    folder = write_plan(tmp_path / "plan", plan)
    scenario = load_scenario(write_scenario(tmp_path / "scenario"))
    assert verify_plan(scenario, folder) == []


def test_unparsable_csv(tmp_path: Path) -> None:
    folder = write_plan(tmp_path / "plan", correct_plan())
    with (folder / "suppressed.csv").open("a", encoding="utf-8") as handle:
        handle.write("K9,C2,NEWS,digital,no_value,,a detail,and one field too many\n")
    scenario = load_scenario(write_scenario(tmp_path / "scenario"))
    problems = verify_plan(scenario, folder)
    assert len(problems) == 1 and problems[0].startswith("suppressed.csv cannot be read: ")


def test_unreadable_date(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"][3]["date"] = "2026-11-31"
    problems = verify(tmp_path, plan)
    assert "calendar row of candidate 'K3': date '2026-11-31' is not ISO" in problems


# --------------------------------------------------------------------------- 2. accounting


def test_missing_candidate(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["suppressed"] = [r for r in plan["suppressed"] if r["candidate_id"] != "K7"]
    assert verify(tmp_path, plan) == [
        "candidate 'K7' is missing: neither in calendar.csv nor in suppressed.csv"
    ]


def test_many_missing_candidates_are_listed_by_id_then_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "MAX_LINES_PER_KIND", 2)
    plan = correct_plan()
    plan["suppressed"] = [r for r in plan["suppressed"] if r["candidate_id"] not in MISSING]
    assert verify(tmp_path, plan) == [
        "candidate 'K5' is missing: neither in calendar.csv nor in suppressed.csv",
        "candidate 'K6' is missing: neither in calendar.csv nor in suppressed.csv",
        "missing candidates: ... and 2 more like these (4 in all)",
    ]


MISSING = ("K8", "K6", "K7", "K5")


def test_candidate_listed_twice(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["suppressed"].append(suppress("K3", "frequency_cap", "marketing-2-per-7"))
    assert verify(tmp_path, plan) == [
        "candidate 'K3' appears 2 times (calendar 1, suppressed 1); expected exactly once"
    ]


def test_unknown_candidate(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["suppressed"].append({**suppress("K3", "no_value"), "candidate_id": "K99"})
    assert verify(tmp_path, plan) == ["candidate 'K99' is in the plan but not in the scenario"]


def test_unknown_candidate_in_the_calendar_is_not_a_send(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"].append({**send("K3", "2026-11-28", "email"), "candidate_id": "K98"})
    # not counted as a send: no cap, gap or objective line, only the unknown id
    assert verify(tmp_path, plan) == ["candidate 'K98' is in the plan but not in the scenario"]


def test_calendar_row_facts_must_match(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"][3]["comm_id"] = "PROMO"
    plan["calendar"][3]["value"] = 7
    problems = verify(tmp_path, plan)
    assert (
        "calendar row of candidate 'K3': comm_id is 'PROMO', the scenario says 'NEWS'" in problems
    )
    assert "calendar row of candidate 'K3': value is '7', the scenario says 1.0" in problems


def test_wrong_cost(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"][0]["cost"] = 0.01  # forgot the communication's own cost
    assert verify(tmp_path, plan) == [
        f"calendar row of candidate 'K1': cost is '0.01', expected {0.01 + 0.1!r} "
        "(channel email + communication BILL)"
    ]


def test_suppressed_row_facts_must_match(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["suppressed"][0]["customer_id"] = "C1"
    plan["suppressed"][0]["product_line"] = "cards"
    assert verify(tmp_path, plan) == [
        "suppressed row of candidate 'K4': customer_id is 'C1', the scenario says 'C2'",
        "suppressed row of candidate 'K4': product_line is 'cards', the scenario says 'billing'",
    ]


# --------------------------------------------------------------------------- 3. each send


def test_send_on_closed_day(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K1", "2026-11-25", "call")  # call is closed on that date
    problems = verify(tmp_path, plan)
    assert "send of candidate 'K1' on call on 2026-11-25, a day the channel is closed" in problems


def test_send_without_consent(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K4", "2026-11-24", "sms")
    problems = verify(tmp_path, plan)
    assert "send of candidate 'K4' on sms but customer 'C2' has no consent for sms" in problems


def test_send_outside_window_and_horizon(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K7", "2026-11-30", "email")
    problems = verify(tmp_path, plan)
    assert (
        "send of candidate 'K7' on 2026-11-30 is outside the horizon 2026-11-23..2026-11-29"
        in problems
    )
    assert (
        "send of candidate 'K7' on 2026-11-30 is outside its window 2026-12-10..2026-12-12"
        in problems
    )


def test_channel_not_allowed(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K3", "2026-11-27", "sms")
    problems = verify(tmp_path, plan)
    assert "send of candidate 'K3' uses channel 'sms', not one of its channels 'email'" in problems


def test_undeclared_channel(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"][3] = {**plan["calendar"][3], "channel": "fax"}
    problems = verify(tmp_path, plan)
    assert "send of candidate 'K3' uses channel 'fax', which the scenario does not declare" in (
        problems
    )
    assert "send of candidate 'K3' uses channel 'fax', not one of its channels 'email'" in problems
    assert not mentions(problems, "'K3'", "cost")  # no declared cost to compare with


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


def test_false_data_reasons_say_what_the_data_allows(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"] = [r for r in plan["calendar"] if r["candidate_id"] != "K9"]
    plan["suppressed"] = [r for r in plan["suppressed"] if r["candidate_id"] not in ("K7", "K8")]
    plan["suppressed"] += [
        suppress("K9", "no_consent"),  # C2 consents to email, open all week
        suppress("K7", "channel_closed"),  # its window is in December
        suppress("K8", "no_consent"),  # C3 consents to call, closed Sat..Sun
    ]
    problems = [line for line in verify(tmp_path, plan) if "suppressed for" in line]
    assert problems == [
        "candidate 'K9' is suppressed for no_consent but its window is in the horizon and a "
        "consented channel is open in it",
        "candidate 'K8' is suppressed for no_consent but a consented channel exists, though "
        "every one is closed throughout its window",
    ]  # K7: channel_closed is true of a window outside the horizon (no open day in it)


def test_false_duplicate(tmp_path: Path) -> None:
    plan = correct_plan()
    plan["calendar"] = [r for r in plan["calendar"] if r["candidate_id"] != "K2"]
    plan["suppressed"].append(suppress("K2", "capacity", "call-seats"))
    # K6 is now the only copy of the 'offer' message and no history holds it
    assert (
        "candidate 'K6' is suppressed as a duplicate but no other copy of its message is "
        "planned and no recent history send of it blocks its window"
    ) in verify(tmp_path, plan)


def test_duplicate_when_dedup_is_off(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["dedup"] = False
    problems = verify(tmp_path, correct_plan(), doc)
    assert problems == ["candidate 'K6' is suppressed as a duplicate but dedup is off"]


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
    assert verify(tmp_path, plan) == [
        "frequency_cap 'marketing-2-per-7': customer 'C1' has 3 matching sends (2 planned, "
        "1 history) in the 7 days from 2026-11-20 to 2026-11-26 (max 2)"
    ]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # K2 (11-24) is 4 days after the history send: only K2 and K3 share 4 days
        (4, "2 matching sends (2 planned, 0 history) in the 4 days from 2026-11-24 to 2026-11-27"),
        # 5 days reach the history send; one line per customer: its earliest overfull window
        (5, "2 matching sends (1 planned, 1 history) in the 5 days from 2026-11-20 to 2026-11-24"),
    ],
)
def test_frequency_cap_window_length(tmp_path: Path, window: int, expected: str) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][0]["frequency_cap"].update({"window_days": window, "max": 1})
    plan = correct_plan()
    move(plan, "K3", "2026-11-26", "email")
    assert verify(tmp_path, plan, doc) == [
        f"frequency_cap 'marketing-2-per-7': customer 'C1' has {expected} (max 1)"
    ]


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
    assert verify(tmp_path, correct_plan(), doc) == [
        "frequency_cap 'one-promo-a-week': customer 'C1' has 2 matching sends (2 planned) in "
        "the week of 2026-11-23 (max 1)"
    ]


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
    assert verify(tmp_path, correct_plan(), doc) == [
        "frequency_cap 'two-in-horizon': customer 'C1' has 2 matching sends in the horizon (max 1)"
    ]


def test_min_gap_violated(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][1]["min_gap"]["days"] = 4  # K2 on 11-24, K3 on 11-27: only 3 days apart
    assert verify(tmp_path, correct_plan(), doc) == [
        "min_gap 'marketing-gap': customer 'C1' gets NEWS (candidate 'K3') on 2026-11-27, "
        "less than 4 days after PROMO (candidate 'K2') on 2026-11-24"
    ]
    doc["rules"][1]["min_gap"]["days"] = 3  # exactly 3 days apart is allowed
    assert verify(tmp_path, correct_plan(), doc) == []


def test_min_gap_counts_history_as_first(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][1]["min_gap"]["days"] = 5  # history TIPS on 11-20, K2 on 11-24
    assert verify(tmp_path, correct_plan(), doc) == [
        "min_gap 'marketing-gap': customer 'C1' gets PROMO (candidate 'K2') on 2026-11-24, "
        "less than 5 days after TIPS (history) on 2026-11-20",
        "min_gap 'marketing-gap': customer 'C1' gets NEWS (candidate 'K3') on 2026-11-27, "
        "less than 5 days after PROMO (candidate 'K2') on 2026-11-24",
    ]


def test_min_gap_first_and_then_differ(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][1] = {
        "min_gap": {
            "name": "news-after-bill",
            "first": {"comm_ids": ["BILL"]},
            "then": {"comm_ids": ["NEWS"]},
            "days": 5,
        }
    }
    # K1 (BILL) on 11-23 and K3 (NEWS) on 11-27 are 4 days apart; K9 (C2) has no bill
    assert verify(tmp_path, correct_plan(), doc) == [
        "min_gap 'news-after-bill': customer 'C1' gets NEWS (candidate 'K3') on 2026-11-27, "
        "less than 5 days after BILL (candidate 'K1') on 2026-11-23"
    ]


def test_state_exclusion(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K9", "2026-11-28", "email")
    assert verify(tmp_path, plan) == [
        "exclusion 'no-marketing-in-complaint': customer 'C2' gets NEWS (candidate 'K9') on "
        "2026-11-28 while in state 'complaint'"
    ]


def test_state_exclusion_names_the_first_state_listed(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][2]["exclusion"]["states"] = ["complaint", "collections"]
    tables = copy.deepcopy(TABLES)
    tables["states"].insert(
        0, {"customer_id": "C2", "state": "collections", "start": "2026-11-28", "end": "2026-11-28"}
    )
    plan = correct_plan()
    move(plan, "K9", "2026-11-28", "email")  # in both states that day: one line
    assert verify(tmp_path, plan, doc, tables) == [
        "exclusion 'no-marketing-in-complaint': customer 'C2' gets NEWS (candidate 'K9') on "
        "2026-11-28 while in state 'collections'"
    ]
    move(plan, "K9", "2026-11-25", "email")  # the day before either state
    assert verify(tmp_path, plan, doc, tables) == []


def test_customer_exclusion(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K5", "2026-11-23", "call")
    assert (
        "exclusion 'do-not-market': customer 'C3' (do_not_market=[True]) gets PROMO "
        "(candidate 'K5') on 2026-11-23"
    ) in verify(tmp_path, plan)


def test_around_exclusion(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K2", "2026-11-23", "sms")  # the bill day of K1
    assert (
        "exclusion 'no-marketing-on-bill-day': customer 'C1' gets PROMO (candidate 'K2') on "
        "2026-11-23, too close to BILL (candidate 'K1') on 2026-11-23"
    ) in verify(tmp_path, plan)


@pytest.mark.parametrize(("before", "after", "clash"), [(0, 1, True), (1, 0, False)])
def test_around_exclusion_days_before_and_after(
    tmp_path: Path, before: int, after: int, clash: bool
) -> None:
    """K2 is sent the day after K1's bill: excluded by days_after, not by days_before."""
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][4]["exclusion"].update({"days_before": before, "days_after": after})
    expected = (
        "exclusion 'no-marketing-on-bill-day': customer 'C1' gets PROMO (candidate 'K2') on "
        "2026-11-24, too close to BILL (candidate 'K1') on 2026-11-23"
    )
    assert verify(tmp_path, correct_plan(), doc) == ([expected] if clash else [])


def test_never_together(tmp_path: Path) -> None:
    plan = correct_plan()
    move(plan, "K6", "2026-11-29", "sms")
    problems = verify(tmp_path, plan)
    assert (
        "never_together 'one-offer': customer 'C1' has 2 matching sends in the horizon (max 1)"
        in problems
    )
    assert (
        "dedup: customer 'C1' gets the message of dedup_key 'offer' 2 times (candidates K2, K6)"
        in problems
    )


def test_never_together_in_a_window(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE_YAML)
    doc["rules"][5]["never_together"]["window_days"] = 5
    doc["dedup"] = False
    plan = correct_plan()
    move(plan, "K6", "2026-11-29", "sms")  # 5 days after K2: outside a 5-day window
    assert not mentions(verify(tmp_path, plan, doc), "one-offer")
    move(plan, "K6", "2026-11-28", "sms")
    problems = verify(tmp_path, plan, doc)
    assert [line for line in problems if "one-offer" in line] == [
        "never_together 'one-offer': customer 'C1' has 2 matching sends (2 planned, 0 history) "
        "in the 5 days from 2026-11-24 to 2026-11-28 (max 1)"
    ]


def test_dedup_against_history(tmp_path: Path) -> None:
    tables = copy.deepcopy(TABLES)
    tables["history"].append(
        {"customer_id": "C1", "comm_id": "PROMO2", "channel": "sms", "date": "2026-11-01"}
    )
    problems = verify(tmp_path, correct_plan(), tables=tables)
    assert problems == [
        "dedup: customer 'C1' gets PROMO (candidate 'K2') on 2026-11-24, less than 30 days "
        "after the same message in history: PROMO2 (history) on 2026-11-01"
    ]


@pytest.mark.parametrize(("date", "blocked"), [("2026-10-26", True), ("2026-10-25", False)])
def test_dedup_history_window_edge(tmp_path: Path, date: str, blocked: bool) -> None:
    """30-day window: history 29 days before K2 (11-24) blocks it, 30 days before does not."""
    tables = copy.deepcopy(TABLES)
    tables["history"].append(
        {"customer_id": "C1", "comm_id": "PROMO", "channel": "sms", "date": date}
    )
    problems = verify(tmp_path, correct_plan(), tables=tables)
    assert problems == (
        [
            "dedup: customer 'C1' gets PROMO (candidate 'K2') on 2026-11-24, less than 30 days "
            f"after the same message in history: PROMO (history) on {date}"
        ]
        if blocked
        else []
    )


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
