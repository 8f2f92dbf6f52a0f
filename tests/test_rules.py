"""Every rule type of the spec (section 3) and every implied channel rule, on tiny scenarios.

Each test builds a scenario of 1-3 customers and 2-5 candidates whose optimum is
worked out by hand (the one-line comment above the assertions), plans it, has
the independent verifier accept the plan, and then checks the exact objective,
which candidates are sent, and the reason and rule of every candidate dropped.

Dates: the default horizon is Mon 2026-11-23 .. Sun 2026-11-29 (days 0..6).
"""

from __future__ import annotations

import filecmp
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models import InfeasibleError, ScenarioError, load_scenario
from optimiser.cpsat import SolverOptions
from optimiser.plan import Plan
from optimiser.solve import solve
from tests.kit import cand, comm, customer, plan_and_verify, reason_of, sent_ids, write_scenario

MON, TUE, WED, THU, FRI, SAT, SUN = (f"2026-11-{day}" for day in range(23, 30))
MARKETING = {"categories": ["marketing"]}


def run(tmp_path: Path, **scenario: Any) -> Plan:
    """Write a scenario under tmp_path, plan it and have the verifier accept the plan."""
    return plan_and_verify(write_scenario(tmp_path / "scenario", **scenario))


def check(
    plan: Plan,
    objective: float,
    sent: set[str],
    suppressed: Mapping[str, tuple[str, str]],
) -> None:
    """The hand-known optimum: objective, sends, and (reason, rule) of every candidate dropped."""
    summary = plan.summary
    assert summary["status"] == "OPTIMAL"
    assert summary["objective"] == pytest.approx(objective, abs=1e-6)
    assert sent_ids(plan) == sent
    assert set(plan.suppressed["candidate_id"]) == set(suppressed)
    for candidate_id, expected in suppressed.items():
        assert reason_of(plan, candidate_id) == expected, candidate_id
    # the bound is an upper bound and the gap is derived from it (spec section 5)
    assert summary["bound"] >= summary["objective"] - 1e-9
    assert summary["gap"] == pytest.approx(
        (summary["bound"] - summary["objective"]) / max(1.0, abs(summary["bound"])), abs=1e-12
    )
    counts = summary["counts"]
    assert counts["sends"] == len(sent)
    assert counts["suppressed"] == len(suppressed)
    assert counts["sends"] + counts["suppressed"] == counts["candidates"]


def send_of(plan: Plan, candidate_id: str) -> tuple[str, str]:
    """(date, channel) of a sent candidate."""
    row = plan.calendar[plan.calendar["candidate_id"] == candidate_id]
    assert len(row) == 1, f"{candidate_id} not sent exactly once"
    return str(row["date"].iloc[0]), str(row["channel"].iloc[0])


def infeasible_message(tmp_path: Path, **scenario: Any) -> str:
    folder = write_scenario(tmp_path / "scenario", **scenario)
    with pytest.raises(InfeasibleError) as error:
        solve(load_scenario(folder), SolverOptions(time_limit_s=20, seed=0, workers=1))
    return str(error.value)


def history(customer_id: str, comm_id: str, date: str, channel: str = "email") -> dict[str, str]:
    return {"customer_id": customer_id, "comm_id": comm_id, "channel": channel, "date": date}


def state(customer_id: str, name: str, start: str, end: str = "") -> dict[str, str]:
    return {"customer_id": customer_id, "state": name, "start": start, "end": end}


# --------------------------------------------------------------------------- frequency_cap


def test_frequency_cap_rolling_window(tmp_path: Path) -> None:
    rules = [{"frequency_cap": {"name": "cap", "select": MARKETING, "max": 1, "window_days": 3}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=MON, latest=MON),
            cand("B", "C1", "M2", 4, earliest=TUE, latest=TUE),
            cand("C", "C1", "M3", 3, earliest=THU, latest=THU),
        ],
        rules=rules,
    )
    # A (Mon) and B (Tue) share a 3-day window, C (Thu) shares none with A: A + C = 8
    check(plan, 8, {"A", "C"}, {"B": ("frequency_cap", "cap")})


def test_a_full_cap_names_its_winners_small_rows_all_big_rows_the_lowest_three(
        tmp_path: Path) -> None:
    # A: a cap of 2 taken by a2 and a1 (named in candidate order); B: a cap of 6, whose
    # detail names the three lowest-value winners, lowest first, ties in candidate order
    values_b = {"b1": 9, "b2": 8, "b3": 7, "b4": 7, "b5": 6, "b6": 5, "b7": 1}
    plan = run(
        tmp_path,
        customers=[customer("A"), customer("B")],
        communications=[comm(f"M{k}") for k in range(1, 4)]
        + [comm(f"N{k}") for k in range(1, 8)],
        candidates=[cand("a2", "A", "M2", 4, earliest=MON, latest=MON),
                    cand("a1", "A", "M1", 10, earliest=MON, latest=MON),
                    cand("a3", "A", "M3", 1, earliest=MON, latest=MON)]
        + [cand(c, "B", f"N{k}", v, earliest=MON, latest=MON)
           for k, (c, v) in enumerate(values_b.items(), start=1)],
        rules=[{"frequency_cap": {"name": "cap", "max": 2, "window_days": 7,
                                  "select": {"comm_ids": ["M1", "M2", "M3"]}}},
               {"frequency_cap": {"name": "cap6", "max": 6, "window_days": 7,
                                  "select": {"comm_ids": [f"N{k}" for k in range(1, 8)]}}}],
    )
    check(plan, 14 + 42, {"a1", "a2", *(c for c in values_b if c != "b7")},
          {"a3": ("frequency_cap", "cap"), "b7": ("frequency_cap", "cap6")})
    detail = dict(zip(plan.suppressed["candidate_id"], plan.suppressed["detail"], strict=True))
    assert detail["a3"] == "won by a2 (value 4), a1 (value 10)"
    assert detail["b7"] == ("shared by 6 planned sends; the lowest-value winners: "
                            "b6 (value 5), b5 (value 6), b3 (value 7)")


def test_frequency_cap_rolling_window_counts_history(tmp_path: Path) -> None:
    rules = [{"frequency_cap": {"name": "cap", "select": MARKETING, "max": 1, "window_days": 7}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("H"), comm("M1"), comm("M2")],
        candidates=[
            cand("A", "C1", "M1", 10, earliest=MON, latest=THU),
            cand("B", "C1", "M2", 3, earliest=FRI, latest=FRI),
        ],
        history=[history("C1", "H", "2026-11-20")],  # Friday, 3 days before the horizon
    )
    # without the rule both are sent
    check(plan, 13, {"A", "B"}, {})
    plan = run(
        tmp_path / "with-rule",
        customers=[customer("C1")],
        communications=[comm("H"), comm("M1"), comm("M2")],
        candidates=[
            cand("A", "C1", "M1", 10, earliest=MON, latest=THU),
            cand("B", "C1", "M2", 3, earliest=FRI, latest=FRI),
        ],
        history=[history("C1", "H", "2026-11-20")],
        rules=rules,
    )
    # history on Fri 11-20 fills every 7-day window up to Thu 11-26: A (Mon-Thu) cannot go,
    # B on Friday is the first day it fits: objective 3
    check(plan, 3, {"B"}, {"A": ("frequency_cap", "cap")})
    assert send_of(plan, "B")[0] == FRI


def test_frequency_cap_rolling_window_history_uses_part_of_the_cap(tmp_path: Path) -> None:
    rules = [{"frequency_cap": {"name": "cap", "select": MARKETING, "max": 2, "window_days": 7}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("H"), comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=MON, latest=MON),
            cand("B", "C1", "M2", 4, earliest=TUE, latest=TUE),
            cand("C", "C1", "M3", 3, earliest=SAT, latest=SAT),
        ],
        history=[history("C1", "H", "2026-11-20")],
        rules=rules,
    )
    # the window Fri 11-20..Thu 11-26 holds the history send plus A and B: one of them;
    # Sun 11-22..Sat 11-28 holds A, B, C: two of them. A + C = 8
    check(plan, 8, {"A", "C"}, {"B": ("frequency_cap", "cap")})


def test_frequency_cap_period_horizon(tmp_path: Path) -> None:
    rules = [{"frequency_cap": {"name": "two", "select": MARKETING, "max": 2, "period": "horizon"}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("H"), comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=MON, latest=SUN),
            cand("B", "C1", "M2", 4, earliest=MON, latest=SUN),
            cand("C", "C1", "M3", 3, earliest=MON, latest=SUN),
        ],
        # the horizon period counts the horizon only: yesterday's send is outside it
        history=[history("C1", "H", "2026-11-22")],
        rules=rules,
    )
    # two of three in the horizon: the best two, 5 + 4 = 9
    check(plan, 9, {"A", "B"}, {"C": ("frequency_cap", "two")})


def test_frequency_cap_period_week_counts_history_in_first_week(tmp_path: Path) -> None:
    rules = [{"frequency_cap": {"name": "weekly", "select": MARKETING, "max": 1, "period": "week"}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("H"), comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 10, earliest="2026-11-25", latest="2026-11-29"),
            cand("B", "C1", "M2", 3, earliest="2026-11-25", latest="2026-12-01"),
            cand("C", "C1", "M3", 2, earliest="2026-11-25", latest="2026-12-01"),
        ],
        history=[history("C1", "H", "2026-11-23")],  # Monday of the first (partial) week
        rules=rules,
        start="2026-11-25",  # a Wednesday: weeks are Wed 25-Sun 29 and Mon 30-Tue 1
    )
    # week 1 is full from Monday's history, so A (week 1 only) is out; week 2 takes one of
    # B and C: B, objective 3
    check(plan, 3, {"B"}, {"A": ("frequency_cap", "weekly"), "C": ("frequency_cap", "weekly")})
    assert send_of(plan, "B")[0] >= "2026-11-30"


@pytest.mark.parametrize("window", [{"window_days": 7}, {"period": "horizon"}])
def test_frequency_cap_max_zero(tmp_path: Path, window: dict[str, Any]) -> None:
    rules = [
        {"frequency_cap": {"name": "no-sms", "select": {"channels": ["sms"]}, "max": 0, **window}}
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2")],
        candidates=[
            cand("A", "C1", "M1", 5, channels="sms", earliest=MON, latest=SUN),
            cand("B", "C1", "M2", 1, channels="email"),
        ],
        rules=rules,
    )
    # no sms at all: only B (email), objective 1
    check(plan, 1, {"B"}, {"A": ("frequency_cap", "no-sms")})


def test_frequency_cap_max_zero_keeps_other_channel(tmp_path: Path) -> None:
    rules = [
        {
            "frequency_cap": {
                "name": "no-sms",
                "select": {"channels": ["sms"]},
                "max": 0,
                "period": "horizon",
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1")],
        candidates=[cand("A", "C1", "M1", 5, channels="sms|email")],
        rules=rules,
    )
    # sms is capped at zero, email is not: A goes by email, objective 5
    check(plan, 5, {"A"}, {})
    assert send_of(plan, "A") == (MON, "email")


# --------------------------------------------------------------------------- min_gap


def test_min_gap_same_selection(tmp_path: Path) -> None:
    rules = [{"min_gap": {"name": "gap3", "first": MARKETING, "then": MARKETING, "days": 3}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=MON, latest=WED),
            cand("B", "C1", "M2", 4, earliest=MON, latest=WED),
            cand("C", "C1", "M3", 1, earliest=THU, latest=SUN),
        ],
        rules=rules,
    )
    # A and B are both within Mon-Wed (at most 2 days apart): only A; C fits 3+ days later: 6
    check(plan, 6, {"A", "C"}, {"B": ("min_gap", "gap3")})
    a_day = pd.Timestamp(send_of(plan, "A")[0])
    c_day = pd.Timestamp(send_of(plan, "C")[0])
    assert (c_day - a_day).days >= 3


def test_min_gap_same_day_pair(tmp_path: Path) -> None:
    rules = [{"min_gap": {"name": "one-a-day", "first": {}, "then": {}, "days": 1}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 5),
            cand("B", "C1", "M2", 4, channels="sms"),
            cand("C", "C1", "M3", 3, earliest=TUE, latest=TUE),
        ],
        rules=rules,
    )
    # days: 1 forbids two sends on the same day only: A (Mon) and C (Tue), 8
    check(plan, 8, {"A", "C"}, {"B": ("min_gap", "one-a-day")})


def test_min_gap_first_differs_from_then(tmp_path: Path) -> None:
    rules = [
        {
            "min_gap": {
                "name": "sms-then-email",
                "first": {"channels": ["sms"]},
                "then": {"channels": ["email"]},
                "days": 2,
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2"), comm("M3"), comm("M4")],
        candidates=[
            cand("A", "C1", "M1", 5, channels="sms", earliest=TUE, latest=TUE),
            cand("B", "C1", "M2", 4, channels="email", earliest=MON, latest=MON),
            cand("C", "C1", "M3", 3, channels="email", earliest=WED, latest=WED),
            cand("D", "C1", "M4", 1, channels="email", earliest=TUE, latest=TUE),
        ],
        rules=rules,
    )
    # email the day before sms is fine (A+B); email the same day (A+D) or the day after (A+C)
    # is not; emails never clash with each other: A + B = 9 beats B + C + D = 8
    check(
        plan,
        9,
        {"A", "B"},
        {"C": ("min_gap", "sms-then-email"), "D": ("min_gap", "sms-then-email")},
    )


def test_min_gap_history_counts_as_first(tmp_path: Path) -> None:
    rules = [
        {
            "min_gap": {
                "name": "after-sms",
                "first": {"channels": ["sms"]},
                "then": {"channels": ["email"]},
                "days": 3,
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("H"), comm("M1"), comm("M2")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=MON, latest=TUE),
            cand("B", "C1", "M2", 2, earliest=WED, latest=WED),
        ],
        history=[history("C1", "H", "2026-11-22", channel="sms")],
        rules=rules,
    )
    # sms on Sun 11-22 forbids email Sun..Tue: A (Mon-Tue) is out, B (Wed) is just clear: 2
    check(plan, 2, {"B"}, {"A": ("min_gap", "after-sms")})
    assert send_of(plan, "B")[0] == WED


# --------------------------------------------------------------------------- exclusion


def test_exclusion_open_ended_state(tmp_path: Path) -> None:
    rules = [{"exclusion": {"name": "complaint", "select": MARKETING, "states": ["complaint"]}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2"), comm("S1", category="service")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=THU, latest=SUN),
            cand("B", "C1", "M2", 2, earliest=WED, latest=WED),
            cand("C", "C1", "S1", 1, earliest=THU, latest=SUN),
        ],
        states=[state("C1", "complaint", THU)],  # from Thursday, open-ended
        rules=rules,
    )
    # no marketing from Thursday on: A is out, B (Wed) is the last day before it, service C is
    # not selected: 3
    check(plan, 3, {"B", "C"}, {"A": ("exclusion", "complaint")})
    assert send_of(plan, "B")[0] == WED


def test_exclusion_state_ending_mid_horizon(tmp_path: Path) -> None:
    rules = [{"exclusion": {"name": "collections", "select": MARKETING, "states": ["collections"]}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=MON, latest=WED),
            cand("B", "C1", "M2", 2, earliest=THU, latest=THU),
        ],
        states=[state("C1", "collections", "2026-11-20", WED)],
        rules=rules,
    )
    # in collections until Wednesday inclusive: A (Mon-Wed) is out, B (Thu) is clear: 2
    check(plan, 2, {"B"}, {"A": ("exclusion", "collections")})
    assert send_of(plan, "B")[0] == THU


@pytest.mark.parametrize(("flagged", "clear"), [("true", "false"), ("yes", "no"), ("1", "")])
def test_exclusion_customers_flag(tmp_path: Path, flagged: str, clear: str) -> None:
    rules = [
        {"exclusion": {"name": "dnm", "select": MARKETING, "customers": {"do_not_market": True}}}
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1", do_not_market=flagged), customer("C2", do_not_market=clear)],
        communications=[comm("M1"), comm("S1", category="service")],
        candidates=[
            cand("A", "C1", "M1", 5),
            cand("B", "C2", "M1", 4),
            cand("C", "C1", "S1", 1),
        ],
        rules=rules,
    )
    # C1 is flagged: no marketing (A) for C1; B (C2) and service C (C1) go: 5
    check(plan, 5, {"B", "C"}, {"A": ("exclusion", "dnm")})


BILL_DAY_RULE = {
    "exclusion": {
        "name": "no-promo-near-bill",
        "select": MARKETING,
        "around": {"tags": ["bill"]},
        "days_before": 1,
        "days_after": 1,
    }
}


def test_exclusion_around_mandatory_bill(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[
            comm("BILL", category="service", tags="bill", mandatory="true"),
            comm("M1"),
            comm("M2"),
        ],
        candidates=[
            cand("K", "C1", "BILL", 1, earliest=THU, latest=THU),
            cand("A", "C1", "M1", 5, earliest=WED, latest=FRI),
            cand("B", "C1", "M2", 4, earliest=MON, latest=SUN),
        ],
        rules=[BILL_DAY_RULE],
    )
    # the mandatory bill is on Thursday, so no marketing Wed-Fri: A is out, B elsewhere: 1 + 4
    check(plan, 5, {"K", "B"}, {"A": ("exclusion", "no-promo-near-bill")})
    assert send_of(plan, "K")[0] == THU
    assert send_of(plan, "B")[0] not in (WED, THU, FRI)


def test_exclusion_around_days_before_is_not_days_after(tmp_path: Path) -> None:
    rules = [
        {
            "exclusion": {
                "name": "quiet-before-bill",
                "select": MARKETING,
                "around": {"tags": ["bill"]},
                "days_before": 2,
                "days_after": 0,
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[
            comm("BILL", category="service", tags="bill", mandatory="true"),
            comm("M1"),
            comm("M2"),
            comm("M3"),
        ],
        candidates=[
            cand("K", "C1", "BILL", 1, earliest=THU, latest=THU),
            cand("A", "C1", "M1", 5, earliest=TUE, latest=TUE),
            cand("B", "C1", "M2", 4, earliest=FRI, latest=FRI),
            cand("C", "C1", "M3", 3, earliest=MON, latest=MON),
        ],
        rules=rules,
    )
    # bill on Thursday: no marketing Tue-Thu. A (Tue) is out; B (Fri, after) and C (Mon,
    # 3 days before) go: 1 + 4 + 3
    check(plan, 8, {"K", "B", "C"}, {"A": ("exclusion", "quiet-before-bill")})


def test_exclusion_around_optional_bill_loses_to_promotion(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("BILL", category="service", tags="bill"), comm("M1")],
        candidates=[
            cand("K", "C1", "BILL", 1, earliest=THU, latest=THU),
            cand("A", "C1", "M1", 5, earliest=WED, latest=FRI),
        ],
        rules=[BILL_DAY_RULE],
    )
    # an optional bill and the promotion cannot both go; the promotion is worth more: 5.
    # The rule binds the `around` side too: the bill is dropped by the exclusion
    check(plan, 5, {"A"}, {"K": ("exclusion", "no-promo-near-bill")})


def test_exclusion_around_overlapping_selections(tmp_path: Path) -> None:
    rules = [
        {
            "exclusion": {
                "name": "bill-alone",
                "select": {},
                "around": {"tags": ["bill"]},
                "days_before": 0,
                "days_after": 0,
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[
            comm("BILL", category="service", tags="bill", mandatory="true"),
            comm("M1"),
            comm("S1", category="service"),
        ],
        candidates=[
            cand("K", "C1", "BILL", 1),
            cand("A", "C1", "M1", 5),
            cand("B", "C1", "S1", 2, earliest=MON, latest=TUE),
        ],
        rules=rules,
    )
    # the bill (itself in `select`) does not exclude itself; nothing else on Monday:
    # A (Monday only) is out, B moves to Tuesday: 1 + 2
    check(plan, 3, {"K", "B"}, {"A": ("exclusion", "bill-alone")})
    assert send_of(plan, "B")[0] == TUE


def test_exclusion_around_historical_bill(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("BILL", category="service", tags="bill"), comm("M1"), comm("M2")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=MON, latest=MON),
            cand("B", "C1", "M2", 3, earliest=TUE, latest=TUE),
        ],
        history=[history("C1", "BILL", "2026-11-22")],
        rules=[BILL_DAY_RULE],
    )
    # the bill of Sunday 11-22 blocks Monday (days_after 1) but not Tuesday: B only, 3
    check(plan, 3, {"B"}, {"A": ("exclusion", "no-promo-near-bill")})


# --------------------------------------------------------------------------- never_together


LOANS = [comm("L1", tags="loan"), comm("L2", tags="loan"), comm("L3", tags="loan")]


def test_never_together_window(tmp_path: Path) -> None:
    rules = [
        {"never_together": {"name": "one-loan", "select": {"tags": ["loan"]}, "window_days": 3}}
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=LOANS,
        candidates=[
            cand("A", "C1", "L1", 5, earliest=MON, latest=MON),
            cand("B", "C1", "L2", 4, earliest=MON, latest=WED),
            cand("C", "C1", "L3", 3, earliest=THU, latest=THU),
        ],
        rules=rules,
    )
    # B is always within 3 days of A; C (Thu) is 3 days after A: A + C = 8 beats B + C = 7
    check(plan, 8, {"A", "C"}, {"B": ("never_together", "one-loan")})
    assert send_of(plan, "C")[0] == THU


def test_never_together_counts_history(tmp_path: Path) -> None:
    rules = [
        {"never_together": {"name": "one-loan", "select": {"tags": ["loan"]}, "window_days": 3}}
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=LOANS,
        candidates=[
            cand("A", "C1", "L2", 5, earliest=MON, latest=MON),
            cand("B", "C1", "L3", 2, earliest=TUE, latest=TUE),
        ],
        history=[history("C1", "L1", "2026-11-21")],
        rules=rules,
    )
    # the loan mail of Sat 11-21 is 2 days before Monday (same 3-day window), 3 before Tuesday
    check(plan, 2, {"B"}, {"A": ("never_together", "one-loan")})


def test_never_together_default_is_horizon(tmp_path: Path) -> None:
    rules = [{"never_together": {"name": "one-loan", "select": {"tags": ["loan"]}}}]
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2")],
        communications=LOANS,
        candidates=[
            cand("A", "C1", "L1", 5, earliest=MON, latest=MON),
            cand("B", "C1", "L2", 4, earliest=SUN, latest=SUN),
            cand("C", "C2", "L3", 3, earliest=SUN, latest=SUN),
        ],
        rules=rules,
    )
    # one loan per customer in the whole horizon (6 days apart still clash); C2 is separate: 8
    check(plan, 8, {"A", "C"}, {"B": ("never_together", "one-loan")})


# --------------------------------------------------------------------------- dedup


def test_dedup_key_keeps_higher_value(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[
            comm("X1", product_line="cards", dedup_key="offer"),
            comm("X2", product_line="loans", dedup_key="offer"),
        ],
        candidates=[
            cand("A", "C1", "X1", 5),
            cand("B", "C1", "X2", 7, earliest=TUE, latest=TUE),
        ],
    )
    # two teams offer the same message: one copy, the more valuable, 7
    check(plan, 7, {"B"}, {"A": ("duplicate", "dedup")})


def test_dedup_same_comm_twice(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2")],
        communications=[comm("M")],
        candidates=[
            cand("A", "C1", "M", 3),
            cand("B", "C1", "M", 6, channels="sms", earliest=WED, latest=WED),
            cand("C", "C2", "M", 2),
        ],
    )
    # the same comm twice for C1 is one message (B, 6); C2's copy is its own: 8
    check(plan, 8, {"B", "C"}, {"A": ("duplicate", "dedup")})


def test_dedup_history_within_window(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M"), comm("N")],
        candidates=[
            cand("A", "C1", "M", 5, earliest=MON, latest=MON),
            cand("B", "C1", "N", 2),
        ],
        history=[history("C1", "M", "2026-10-30")],  # 24 days before Monday
    )
    # default window 30 days: M was sent 24 days ago, A is a duplicate; B goes: 2
    check(plan, 2, {"B"}, {"A": ("duplicate", "dedup")})


def test_dedup_history_window_days(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M")],
        candidates=[
            cand("A", "C1", "M", 5, earliest=MON, latest=TUE),
            cand("B", "C1", "M", 2, earliest=WED, latest=WED),
        ],
        history=[history("C1", "M", "2026-11-10")],  # 13 days before Monday
        dedup={"window_days": 15},
    )
    # M may repeat from 15 days after 11-10, i.e. Wed 11-25: A (Mon-Tue) cannot; B (Wed) can
    check(plan, 2, {"B"}, {"A": ("duplicate", "dedup")})
    assert send_of(plan, "B")[0] == WED


def test_dedup_off(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M"), comm("X1", dedup_key="offer"), comm("X2", dedup_key="offer")],
        candidates=[
            cand("A", "C1", "M", 3),
            cand("B", "C1", "M", 6),
            cand("C", "C1", "X1", 2),
            cand("D", "C1", "X2", 1),
        ],
        history=[history("C1", "M", "2026-11-22")],
        dedup="off",
    )
    # no deduplication at all: everything goes, 3 + 6 + 2 + 1 = 12
    check(plan, 12, {"A", "B", "C", "D"}, {})


def test_dedup_mandatory_repeat_of_history_is_a_duplicate(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("BILL", category="service", mandatory="true"), comm("M")],
        candidates=[cand("K", "C1", "BILL", 2), cand("A", "C1", "M", 1)],
        history=[history("C1", "BILL", "2026-11-18")],
    )
    # the customer got this mandatory message 5 days ago: sending it again is a duplicate
    # (data, not a conflict), so the run succeeds with A alone: 1
    check(plan, 1, {"A"}, {"K": ("duplicate", "dedup")})


def test_dedup_mandatory_offered_twice_sends_one_copy(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("BILL", category="service", mandatory="true")],
        candidates=[
            cand("A", "C1", "BILL", 2, earliest=MON, latest=WED),
            cand("B", "C1", "BILL", 1, channels="sms"),
        ],
    )
    # the mandatory message goes exactly once, the more valuable copy: 2
    check(plan, 2, {"A"}, {"B": ("duplicate", "dedup")})


# --------------------------------------------------------------------------- capacity, budget


def test_capacity_per_day(tmp_path: Path) -> None:
    rules = [
        {
            "capacity": {
                "name": "sms-gateway",
                "select": {"channels": ["sms"]},
                "max": 1,
                "per": "day",
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2")],
        communications=[comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 5, channels="sms"),
            cand("B", "C2", "M2", 4, channels="sms"),
            cand("C", "C2", "M3", 3, channels="sms", earliest=MON, latest=TUE),
        ],
        rules=rules,
    )
    # one sms a day: A on Monday, C moves to Tuesday, B has only Monday: 5 + 3 = 8
    check(plan, 8, {"A", "C"}, {"B": ("capacity", "sms-gateway")})
    assert send_of(plan, "C")[0] == TUE


def test_capacity_per_horizon(tmp_path: Path) -> None:
    rules = [{"capacity": {"name": "seats", "select": {}, "max": 2, "per": "horizon"}}]
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2")],
        communications=[comm("M1"), comm("M2")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest=MON, latest=SUN),
            cand("B", "C2", "M1", 4, earliest=MON, latest=SUN),
            cand("C", "C2", "M2", 3, earliest=MON, latest=SUN),
        ],
        rules=rules,
    )
    # two sends in the horizon across both customers: A + B = 9
    check(plan, 9, {"A", "B"}, {"C": ("capacity", "seats")})
    assert plan.summary["global_rules"][0]["usage"] == pytest.approx(2)


def test_budget_allows_only_the_best_pair(tmp_path: Path) -> None:
    rules = [{"budget": {"name": "spend", "select": {}, "max": 3.5}}]
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2")],
        communications=[comm("M1", cost=0.5), comm("M2", cost=0), comm("M3", cost=1.0)],
        candidates=[
            cand("A", "C1", "M1", 6),  # email 1.0 + comm 0.5 = 1.5
            cand("B", "C2", "M2", 5, channels="sms"),  # sms 2.0
            cand("C", "C2", "M3", 4),  # email 1.0 + comm 1.0 = 2.0
        ],
        channels={"email": {"cost": 1.0}, "sms": {"cost": 2.0}},
        rules=rules,
    )
    # all three cost 5.5; A+B costs exactly 3.5 (value 11), A+C 3.5 (10), B+C 4.0: A + B
    check(plan, 11, {"A", "B"}, {"C": ("budget", "spend")})
    costs = dict(zip(plan.calendar["candidate_id"], plan.calendar["cost"], strict=True))
    assert costs == pytest.approx({"A": 1.5, "B": 2.0})
    assert plan.summary["global_rules"][0]["usage"] == pytest.approx(3.5)


# --------------------------------------------------------------------------- volume


def test_volume_min_hard_forces_a_loss(tmp_path: Path) -> None:
    rules = [{"volume": {"name": "reach", "select": {"comm_ids": ["LOW"]}, "min": 1}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("LOW"), comm("M")],
        candidates=[cand("A", "C1", "LOW", -2), cand("B", "C1", "M", 3)],
        rules=rules,
    )
    # at least one LOW send: A is sent at a loss, 3 - 2 = 1
    check(plan, 1, {"A", "B"}, {})


def test_volume_min_hard_unreachable_is_infeasible(tmp_path: Path) -> None:
    rules = [{"volume": {"name": "reach", "select": {"comm_ids": ["LOW"]}, "min": 2}}]
    message = infeasible_message(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("LOW"), comm("M")],
        candidates=[cand("A", "C1", "LOW", 1), cand("B", "C1", "M", 3)],
        rules=rules,
    )
    # one LOW candidate cannot make two LOW sends
    assert "reach" in message


def test_volume_max_on_numeric_column(tmp_path: Path) -> None:
    rules = [
        {
            "volume": {
                "name": "expected-sales",
                "select": {},
                "max": 1.0,
                "metric": "response_probability",
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2"), customer("C3")],
        communications=[comm("M")],
        candidates=[
            cand("A", "C1", "M", 5, response_probability=0.6),
            cand("B", "C2", "M", 4, response_probability=0.5),
            cand("C", "C3", "M", 3, response_probability=0.4),
        ],
        rules=rules,
    )
    # sum of probabilities <= 1.0 (exactly): A+C = 1.0 (value 8), A+B = 1.1 no, B+C 7
    check(plan, 8, {"A", "C"}, {"B": ("volume", "expected-sales")})


def test_volume_soft_min_pays_the_penalty(tmp_path: Path) -> None:
    rules = [
        {
            "volume": {
                "name": "reach",
                "select": {"comm_ids": ["LOW"]},
                "min": 1,
                "soft": {"penalty": 1},
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("LOW"), comm("M")],
        candidates=[cand("A", "C1", "LOW", -3), cand("B", "C1", "M", 5)],
        rules=rules,
    )
    # sending A costs 3, missing the minimum costs 1: skip A, 5 - 1 = 4
    check(plan, 4, {"B"}, {"A": ("no_value", "")})
    assert plan.summary["global_rules"][0]["penalty"] == pytest.approx(1)


def test_volume_soft_min_meets_the_minimum(tmp_path: Path) -> None:
    rules = [
        {
            "volume": {
                "name": "reach",
                "select": {"comm_ids": ["LOW"]},
                "min": 1,
                "soft": {"penalty": 10},
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("LOW"), comm("M")],
        candidates=[cand("A", "C1", "LOW", -3), cand("B", "C1", "M", 5)],
        rules=rules,
    )
    # sending A costs 3, missing the minimum costs 10: send A, 5 - 3 = 2
    check(plan, 2, {"A", "B"}, {})
    assert plan.summary["global_rules"][0]["penalty"] == 0


def test_soft_penalty_in_lower_tier_never_costs_higher_tier(tmp_path: Path) -> None:
    rules = [
        {
            "capacity": {
                "name": "seats",
                "select": {},
                "max": 1,
                "per": "horizon",
                "soft": {"penalty": 100, "tier": 2},
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2")],
        communications=[comm("M", priority=1)],
        candidates=[cand("A", "C1", "M", 1), cand("B", "C2", "M", 1)],
        rules=rules,
    )
    # tier 1 is maximised first (both sent, 2); the overflow costs 100 in tier 2: 2 - 100
    check(plan, -98, {"A", "B"}, {})
    assert plan.summary["objective_by_tier"] == pytest.approx({"1": 2.0, "2": -100.0})


def test_soft_penalty_in_tier_one_is_weighed_against_value(tmp_path: Path) -> None:
    rules = [
        {
            "capacity": {
                "name": "seats",
                "select": {},
                "max": 1,
                "per": "horizon",
                "soft": {"penalty": 100},
            }
        }
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2")],
        communications=[comm("M", priority=1)],
        candidates=[cand("A", "C1", "M", 2), cand("B", "C2", "M", 1)],
        rules=rules,
    )
    # the same overflow charged in tier 1 costs more than B is worth: A only, 2
    check(plan, 2, {"A"}, {"B": ("capacity", "seats")})


# --------------------------------------------------------------------------- mandatory


def test_mandatory_sent_with_negative_value(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("BILL", category="regulatory", mandatory="true"), comm("M")],
        candidates=[cand("K", "C1", "BILL", -5), cand("A", "C1", "M", 2)],
    )
    # mandatory goes whatever its value: -5 + 2
    check(plan, -3, {"K", "A"}, {})


def test_mandatory_without_consent_is_suppressed(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1", consent_sms="")],
        communications=[comm("BILL", category="regulatory", mandatory="true"), comm("M")],
        candidates=[cand("K", "C1", "BILL", 5, channels="sms"), cand("A", "C1", "M", 2)],
    )
    # the data makes K impossible (no sms consent): suppressed, not a failure; A goes: 2
    check(plan, 2, {"A"}, {"K": ("no_consent", "")})


def test_mandatory_impossible_by_data_is_suppressed(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[
            comm("B1", category="regulatory", mandatory="true"),
            comm("B2", category="regulatory", mandatory="true"),
            comm("M"),
        ],
        candidates=[
            cand("K1", "C1", "B1", 5, earliest="2026-12-01", latest="2026-12-02"),
            cand("K2", "C1", "B2", 5, channels="sms", earliest=SAT, latest=SUN),
            cand("A", "C1", "M", 1),
        ],
        channels={"email": {"cost": 0.0}, "sms": {"cost": 0.0, "closed": ["sat", "sun"]}},
    )
    # K1 lies after the horizon, K2 only on days its channel is shut: both suppressed by data,
    # the run succeeds with A: 1
    check(plan, 1, {"A"}, {"K1": ("outside_horizon", ""), "K2": ("channel_closed", "")})


def test_mandatory_blocked_by_rule_is_infeasible(tmp_path: Path) -> None:
    message = infeasible_message(
        tmp_path,
        customers=[customer("C1"), customer("C2")],
        communications=[comm("BILL", category="regulatory", mandatory="true")],
        candidates=[
            cand("K1", "C1", "BILL", 1, earliest=MON, latest=WED),
            cand("K2", "C2", "BILL", 1),
        ],
        states=[state("C1", "fraud_review", "2026-11-20")],
        rules=[{"exclusion": {"name": "freeze", "select": {}, "states": ["fraud_review"]}}],
    )
    # C1 is frozen all horizon long, so its mandatory bill can never go
    assert "C1" in message and "K1" in message and "freeze" in message
    assert "C2" not in message and "K2" not in message


def test_mandatory_blocked_by_two_rules_names_both(tmp_path: Path) -> None:
    message = infeasible_message(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("BILL", category="regulatory", mandatory="true"), comm("H")],
        candidates=[cand("K1", "C1", "BILL", 1, earliest=MON, latest=WED)],
        states=[state("C1", "fraud_review", "2026-11-20", TUE)],
        history=[history("C1", "H", "2026-11-22")],
        rules=[
            {"exclusion": {"name": "freeze", "select": {}, "states": ["fraud_review"]}},
            {"min_gap": {"name": "rest", "first": {"comm_ids": ["H"]}, "then": {}, "days": 4}},
        ],
    )
    # the state blocks Mon-Tue, the gap after Sunday's H blocks Mon-Wed: both rules conflict
    assert "C1" in message and "K1" in message
    assert "freeze" in message and "rest" in message


def test_two_mandatory_conflicting_through_cap(tmp_path: Path) -> None:
    message = infeasible_message(
        tmp_path,
        customers=[customer("C1")],
        communications=[
            comm("B1", category="regulatory", mandatory="true"),
            comm("B2", category="regulatory", mandatory="true"),
        ],
        candidates=[
            cand("K1", "C1", "B1", 1, earliest=MON, latest=SUN),
            cand("K2", "C1", "B2", 1, earliest=MON, latest=SUN),
        ],
        rules=[
            {"frequency_cap": {"name": "one-a-week", "select": {}, "max": 1, "period": "horizon"}}
        ],
    )
    # two mandatory messages, room for one: the diagnosis names customer, rule and candidates
    assert "C1" in message and "one-a-week" in message
    assert "K1" in message and "K2" in message


# --------------------------------------------------------------------------- refused rules


@pytest.mark.parametrize(
    ("rule", "where"),
    [
        ({"frequency_cap": {"select": {}, "max": 1}}, "rules[0].frequency_cap"),
        (
            {"frequency_cap": {"select": {}, "max": 1, "window_days": 7, "period": "week"}},
            "rules[0].frequency_cap",
        ),
        ({"frequency_cap": {"select": {}, "max": -1, "window_days": 7}}, "max"),
        ({"frequency_cap": {"select": {}, "max": 1, "period": "month"}}, "period"),
        ({"frequency_cap": {"select": {}, "max": 1, "window_day": 7}}, "rules[0].frequency_cap"),
        ({"min_gap": {"first": {}, "then": {}, "days": 0}}, "days"),
        ({"min_gap": {"first": {}, "then": {}}}, "rules[0].min_gap"),
        ({"exclusion": {"select": {}, "states": ["x"], "customers": {"vip": 1}}}, "exclusion"),
        ({"exclusion": {"select": {}, "customers": {"no_such_column": True}}}, "customers"),
        ({"exclusion": {"select": {}, "around": {}, "days_before": -1}}, "days_before"),
        ({"never_together": {"select": {}, "window_days": 0}}, "window_days"),
        ({"capacity": {"select": {}, "max": 1, "per": "week"}}, "per"),
        ({"budget": {"select": {}}}, "rules[0].budget"),
        ({"volume": {"select": {}, "min": 3, "max": 2}}, "rules[0].volume"),
        ({"volume": {"select": {}, "max": 2, "metric": "clicks"}}, "metric"),
        ({"capacity": {"select": {}, "max": 1, "soft": {"tier": 2}}}, "soft"),
        ({"capacity": {"select": {"channel": ["sms"]}, "max": 1}}, "select"),
        ({"capacity": {"select": {"channels": ["fax"]}, "max": 1}}, "select.channels"),
        ({"capacity": {"select": {"comm_ids": ["NOPE"]}, "max": 1}}, "select.comm_ids"),
        ({"frequency": {"select": {}, "max": 1}}, "rules[0]"),
    ],
)
def test_invalid_rule_is_refused(tmp_path: Path, rule: dict[str, Any], where: str) -> None:
    folder = write_scenario(
        tmp_path / "scenario",
        customers=[customer("C1")],
        communications=[comm("M")],
        candidates=[cand("A", "C1", "M", 1)],
        rules=[rule],
    )
    with pytest.raises(ScenarioError) as error:
        load_scenario(folder)
    assert error.value.file == "scenario.yaml"
    assert error.value.column is not None and where in error.value.column


# --------------------------------------------------------------------------- objective


def test_priority_tier_is_lexicographic(tmp_path: Path) -> None:
    rules = [{"frequency_cap": {"name": "cap", "select": {}, "max": 1, "window_days": 2}}]
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("P1", priority=1), comm("P2", priority=2), comm("P3", priority=2)],
        candidates=[
            cand("T1", "C1", "P1", 1, earliest=TUE, latest=TUE),
            cand("T2a", "C1", "P2", 100, earliest=MON, latest=MON),
            cand("T2b", "C1", "P3", 100, earliest=WED, latest=WED),
        ],
        rules=rules,
    )
    # Tuesday's tier-1 send shares a 2-day window with both tier-2 sends (which share none):
    # tier 1 first, so T1 (1) beats T2a + T2b (200)
    check(plan, 1, {"T1"}, {"T2a": ("frequency_cap", "cap"), "T2b": ("frequency_cap", "cap")})
    assert plan.summary["objective_by_tier"]["1"] == pytest.approx(1)
    assert plan.summary["objective_by_tier"].get("2", 0.0) == pytest.approx(0)


def test_channel_preference_weights(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[
            customer("C1", preferred_channels="sms"),
            customer("C2", preferred_channels="sms", consent_sms="false"),
            customer("C3", preferred_channels=""),
            customer("C4", preferred_channels="email|sms"),
        ],
        communications=[comm("M")],
        candidates=[
            cand("A", "C1", "M", 10, channels="email|sms"),
            cand("B", "C2", "M", 10, channels="email|sms"),
            cand("C", "C3", "M", 4),
            cand("D", "C4", "M", 10, channels="sms"),
        ],
        objective={"channel_preference": {"weights": [1.0, 0.9], "others": 0.7}},
    )
    # A by preferred sms 10*1.0; B only email (others) 10*0.7; C no preferences 4*1.0;
    # D by second choice sms 10*0.9: 10 + 7 + 4 + 9 = 30
    check(plan, 30, {"A", "B", "C", "D"}, {})
    assert send_of(plan, "A")[1] == "sms"
    assert send_of(plan, "B")[1] == "email"


def test_cost_weight(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M", cost=0.25), comm("N", cost=0)],
        candidates=[
            cand("A", "C1", "M", 3, channels="email|sms"),
            cand("B", "C1", "N", 1.5, channels="sms"),
        ],
        channels={"email": {"cost": 0.5}, "sms": {"cost": 2.0}},
        objective={"cost_weight": 1.0},
    )
    # A by email: 3 - (0.5 + 0.25) = 2.25 beats sms 3 - 2.25 = 0.75; B nets 1.5 - 2 < 0
    check(plan, 2.25, {"A"}, {"B": ("no_value", "")})
    assert send_of(plan, "A")[1] == "email"


# --------------------------------------------------------------------------- implied rules


def test_outside_horizon_and_clipped_window(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 5, earliest="2026-11-01", latest="2026-11-10"),
            cand("B", "C1", "M2", 4, earliest="2026-11-20", latest=MON),
            cand("C", "C1", "M3", 3, earliest="2026-12-05", latest="2026-12-06"),
        ],
    )
    # A ends before, C starts after the horizon; B's window is clipped to Monday: 4
    check(plan, 4, {"B"}, {"A": ("outside_horizon", ""), "C": ("outside_horizon", "")})
    assert send_of(plan, "B")[0] == MON


def test_no_consent_empty_cell(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1", consent_sms=""), customer("C2")],
        communications=[comm("M")],
        candidates=[
            cand("A", "C1", "M", 5, channels="sms"),
            cand("B", "C2", "M", 4, channels="sms"),
        ],
    )
    # an empty consent cell means no: only C2's B, 4
    check(plan, 4, {"B"}, {"A": ("no_consent", "")})


def test_no_consent_missing_column(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[
            {"customer_id": "C1", "consent_email": "true"},
            {"customer_id": "C2", "consent_email": "true"},
        ],
        communications=[comm("M")],
        candidates=[cand("A", "C1", "M", 5, channels="sms"), cand("B", "C2", "M", 4)],
    )
    # no consent_sms column at all: nobody may get sms; B by email, 4
    check(plan, 4, {"B"}, {"A": ("no_consent", "")})


def test_channel_closed(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("A", "C1", "M1", 5, channels="sms", earliest=SAT, latest=SUN),
            cand("B", "C1", "M2", 4, channels="sms", earliest=FRI, latest=SAT),
            cand("C", "C1", "M3", 3, channels="email", earliest=WED, latest=WED),
        ],
        channels={
            "email": {"cost": 0.0, "closed": ["2026-11-25"]},
            "sms": {"cost": 0.0, "closed": ["sat", "sun"]},
        },
    )
    # sms is shut at weekends (A), email on Wed 11-25 (C); B goes on Friday: 4
    check(plan, 4, {"B"}, {"A": ("channel_closed", ""), "C": ("channel_closed", "")})
    assert send_of(plan, "B") == (FRI, "sms")


def test_channels_alternative_with_consent_on_one(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1", consent_email="false")],
        communications=[comm("M")],
        candidates=[cand("A", "C1", "M", 5, channels="email|sms")],
    )
    # only sms is consented: A goes by sms, 5
    check(plan, 5, {"A"}, {})
    assert send_of(plan, "A") == (MON, "sms")


def test_no_value(tmp_path: Path) -> None:
    plan = run(
        tmp_path,
        customers=[customer("C1")],
        communications=[comm("M1"), comm("M2"), comm("M3")],
        candidates=[cand("A", "C1", "M1", 0), cand("B", "C1", "M2", 1), cand("C", "C1", "M3", -1)],
    )
    # sending something worth nothing (or less) is not done: B only, 1
    check(plan, 1, {"B"}, {"A": ("no_value", ""), "C": ("no_value", "")})


# --------------------------------------------------------------------------- summary


def test_summary_fields(tmp_path: Path) -> None:
    rules = [
        {"frequency_cap": {"name": "cap", "select": MARKETING, "max": 1, "period": "horizon"}},
        {"capacity": {"name": "seats", "select": {"channels": ["sms"]}, "max": 1, "per": "day"}},
    ]
    plan = run(
        tmp_path,
        customers=[customer("C1"), customer("C2", consent_sms="")],
        communications=[
            comm("M1"),
            comm("M2", product_line="loans"),
            comm("S1", category="service", product_line="digital"),
        ],
        candidates=[
            cand("A", "C1", "M1", 5, channels="sms"),
            cand("B", "C1", "M2", 4),
            cand("C", "C1", "S1", 3, channels="sms", earliest=MON, latest=TUE),
            cand("D", "C2", "M1", 2, channels="sms"),
            cand("E", "C2", "S1", 0),
        ],
        rules=rules,
    )
    # C1: one marketing (A, 5) + service C (3) which must move off Monday's sms seat; D has no
    # sms consent, E no value: 8
    check(
        plan,
        8,
        {"A", "C"},
        {"B": ("frequency_cap", "cap"), "D": ("no_consent", ""), "E": ("no_value", "")},
    )
    summary = plan.summary
    assert summary["counts"] == {
        "candidates": 5,
        "sends": 2,
        "suppressed": 3,
        "suppressed_by_reason": {"frequency_cap": 1, "no_consent": 1, "no_value": 1},
    }
    assert summary["sends_by_product_line"] == {"cards": 1, "digital": 1}
    assert sum(n for day in summary["sends_by_day_channel"].values() for n in day.values()) == 2
    assert summary["gap"] == pytest.approx(0, abs=1e-6)


# --------------------------------------------------------------------------- determinism


def _random_scenario(folder: Path, customers: int, seed: int, global_rule: bool) -> Path:
    """Customers with 5 marketing candidates each (values drawn uniformly, all distinct)."""
    rng = np.random.default_rng(seed)
    comms = [comm(f"M{k}") for k in range(5)]
    days = rng.integers(0, 7, size=(customers, 5, 2))
    values = rng.uniform(1.0, 100.0, size=(customers, 5)).round(6)
    candidates = []
    for c in range(customers):
        for k in range(5):
            first, last = sorted(days[c, k])
            candidates.append(
                cand(
                    f"K{c}-{k}",
                    f"C{c}",
                    f"M{k}",
                    float(values[c, k]),
                    channels="email|sms",
                    earliest=str(pd.Timestamp(MON) + pd.Timedelta(days=int(first)))[:10],
                    latest=str(pd.Timestamp(MON) + pd.Timedelta(days=int(last)))[:10],
                )
            )
    rules: list[dict[str, Any]] = [
        {"frequency_cap": {"name": "cap", "select": MARKETING, "max": 2, "window_days": 7}}
    ]
    if global_rule:
        rules.append(
            {"capacity": {"name": "sms", "select": {"channels": ["sms"]}, "max": 3, "per": "day"}}
        )
    return write_scenario(
        folder,
        customers=[customer(f"C{c}") for c in range(customers)],
        communications=comms,
        candidates=candidates,
        rules=rules,
    )


def test_same_seed_same_plan(tmp_path: Path) -> None:
    folder = _random_scenario(tmp_path / "scenario", 12, seed=7, global_rule=True)
    first = plan_and_verify(folder, tmp_path / "first", seed=3)
    second = plan_and_verify(folder, tmp_path / "second", seed=3)
    # every 7-day horizon is one cap window: the two best of each customer, 24 sends; the sms
    # capacity (21 seats) never binds because email is free for everyone
    candidates = pd.read_csv(folder / "candidates.csv")
    best = candidates.sort_values("value", ascending=False).groupby("customer_id").head(2)
    assert first.summary["objective"] == pytest.approx(best["value"].sum(), abs=1e-6)
    assert sent_ids(first) == set(best["candidate_id"])
    for name in ("calendar.csv", "suppressed.csv"):
        assert filecmp.cmp(tmp_path / "first" / name, tmp_path / "second" / name, shallow=False)
    assert first.summary["objective"] == second.summary["objective"]


def test_workers_do_not_change_the_plan(tmp_path: Path) -> None:
    folder = _random_scenario(tmp_path / "scenario", 2500, seed=11, global_rule=False)
    one = plan_and_verify(folder, tmp_path / "one", workers=1, time_limit=60)
    two = plan_and_verify(folder, tmp_path / "two", workers=2, time_limit=60)
    # the horizon is one 7-day window: the optimum is the two best candidates of each customer
    candidates = pd.read_csv(folder / "candidates.csv")
    best = candidates.sort_values("value", ascending=False).groupby("customer_id").head(2)
    for plan in (one, two):
        assert plan.summary["status"] == "OPTIMAL"
        assert plan.summary["objective"] == pytest.approx(best["value"].sum(), rel=1e-9)
        assert sent_ids(plan) == set(best["candidate_id"])
        assert set(plan.suppressed["reason"]) == {"frequency_cap"}
    assert filecmp.cmp(
        tmp_path / "one" / "calendar.csv", tmp_path / "two" / "calendar.csv", shallow=False
    )
