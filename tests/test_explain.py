"""`contact-plan explain`: a customer's week and what would have to change for a dropped candidate.

Each rule family gets a tiny scenario in which exactly one rule can stop the dropped
candidate, planned and verified by tests/kit.py; explain must then name that rule (the one
suppressed.csv names, and the only one that binds), the facts behind it and the fix.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from optimiser.cli import main
from optimiser.explain import ExplainError, explain_candidate, load_plan_view
from tests.kit import cand, comm, customer, plan_and_verify, reason_of, sent_ids, write_scenario

EXIT_INVALID = 2


def explain(*args: object) -> Result:
    return CliRunner().invoke(main, ["explain", *[str(a) for a in args]])


def explain_json(*args: object) -> dict[str, Any]:
    result = explain(*args, "--json")
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def binding(explained: dict[str, Any]) -> dict[str, Any]:
    found = [f for f in explained["findings"] if f["binding"]]
    assert len(found) == 1, explained["findings"]
    return found[0]


def planned(tmp: Path, name: str, **scenario: Any) -> Path:
    folder = write_scenario(tmp / name, **scenario)
    out = tmp / f"{name}-plan"
    plan_and_verify(folder, out)
    return out


# --------------------------------------------------------------------------- scenarios

MARKETING = {"categories": ["marketing"]}


@pytest.fixture(scope="module")
def cap_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A: history on Fri 11-20, f1 (10) Mon 11-23, f2 (5) Tue 11-24; at most 2 in 7 days,
    so f1 goes and f2 is dropped by the cap. B: two history sends fill the cap until 11-27."""
    return planned(
        tmp_path_factory.mktemp("cap"),
        "cap",
        customers=[customer("A"), customer("B")],
        communications=[comm("MH"), comm("M1"), comm("M2"), comm("M3")],
        candidates=[
            cand("f1", "A", "M1", 10.0, earliest="2026-11-23", latest="2026-11-23"),
            cand("f2", "A", "M2", 5.0, earliest="2026-11-24", latest="2026-11-24"),
            cand("f3", "B", "M1", 8.0, earliest="2026-11-23", latest="2026-11-24"),
        ],
        history=[
            {"customer_id": "A", "comm_id": "MH", "channel": "email", "date": "2026-11-20"},
            {"customer_id": "B", "comm_id": "MH", "channel": "email", "date": "2026-11-21"},
            {"customer_id": "B", "comm_id": "M3", "channel": "sms", "date": "2026-11-22"},
        ],
        rules=[{"frequency_cap": {"name": "marketing-2-per-7-days", "select": MARKETING,
                                  "max": 2, "window_days": 7}}],
    )


@pytest.fixture(scope="module")
def gap_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A: g1 (10) on 11-24 beats g2 (4) on 11-25; B: history on 11-22 blocks g3 on 11-23."""
    return planned(
        tmp_path_factory.mktemp("gap"),
        "gap",
        customers=[customer("A"), customer("B")],
        communications=[comm("M1"), comm("M2"), comm("MH")],
        candidates=[
            cand("g1", "A", "M1", 10.0, earliest="2026-11-24", latest="2026-11-24"),
            cand("g2", "A", "M2", 4.0, earliest="2026-11-25", latest="2026-11-25"),
            cand("g3", "B", "M1", 6.0, earliest="2026-11-23", latest="2026-11-23"),
        ],
        history=[{"customer_id": "B", "comm_id": "MH", "channel": "email",
                  "date": "2026-11-22"}],
        rules=[{"min_gap": {"name": "marketing-2-day-gap", "first": MARKETING,
                            "then": MARKETING, "days": 2}}],
    )


@pytest.fixture(scope="module")
def state_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A is in complaint 11-22..11-25; the promotion e1 (9, window 11-23..11-24) cannot go,
    the service message s1 can, and so can the promotion e0 (5) on 11-27, which also takes
    the one promotion a week e1 would have needed."""
    return planned(
        tmp_path_factory.mktemp("state"),
        "state",
        customers=[customer("A")],
        communications=[comm("M1"), comm("M2"), comm("S1", category="service", priority=2)],
        candidates=[
            cand("e1", "A", "M1", 9.0, earliest="2026-11-23", latest="2026-11-24"),
            cand("e0", "A", "M2", 5.0, earliest="2026-11-27", latest="2026-11-27"),
            cand("s1", "A", "S1", 1.0, earliest="2026-11-23", latest="2026-11-23"),
        ],
        states=[{"customer_id": "A", "state": "complaint", "start": "2026-11-22",
                 "end": "2026-11-25"}],
        rules=[
            {"exclusion": {"name": "no-marketing-in-complaint", "select": MARKETING,
                           "states": ["complaint"]}},
            {"frequency_cap": {"name": "marketing-1-per-7-days", "select": MARKETING,
                               "max": 1, "window_days": 7}},
        ],
    )


@pytest.fixture(scope="module")
def dedup_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """d1 (10) and d2 (6) are one message (dedup_key offer): d1 goes. d3 repeats a comm
    sent on 11-10: the 30-day window re-opens on 12-10."""
    return planned(
        tmp_path_factory.mktemp("dedup"),
        "dedup",
        customers=[customer("A")],
        communications=[comm("O1", dedup_key="offer"), comm("O2", dedup_key="offer"),
                        comm("X")],
        candidates=[
            cand("d1", "A", "O1", 10.0),
            cand("d2", "A", "O2", 6.0, channels="sms"),
            cand("d3", "A", "X", 7.0, earliest="2026-11-24", latest="2026-11-26"),
        ],
        history=[{"customer_id": "A", "comm_id": "X", "channel": "email",
                  "date": "2026-11-10"}],
    )


@pytest.fixture(scope="module")
def capacity_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sms seat a day: A's c1 (10) takes Monday's, B's c2 (3) is dropped."""
    return planned(
        tmp_path_factory.mktemp("capacity"),
        "capacity",
        customers=[customer("A"), customer("B")],
        communications=[comm("M1")],
        candidates=[
            cand("c1", "A", "M1", 10.0, channels="sms"),
            cand("c2", "B", "M1", 3.0, channels="sms"),
        ],
        rules=[{"capacity": {"name": "sms-seats", "select": {"channels": ["sms"]}, "max": 1,
                             "per": "day"}}],
    )


# --------------------------------------------------------------------------- frequency cap


def test_frequency_cap_names_the_rule_the_window_and_the_counts(cap_plan: Path) -> None:
    view = load_plan_view(cap_plan)
    assert reason_of_plan(cap_plan, "f2") == ("frequency_cap", "marketing-2-per-7-days")

    result = explain(cap_plan, "--candidate", "f2")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "binding: marketing-2-per-7-days (frequency_cap" in text
    # the fullest 7-day window around Tue 11-24 holds the history send and f1
    assert "the 7 days 2026-11-18..2026-11-24" in text
    assert "holds 2 matching send(s) (1 history + 1 planned), max 2" in text
    assert "2026-11-20 MH by email (history)" in text
    assert "2026-11-23 f1 M1 by email (value 10" in text
    assert "cap would need to be 3 (currently 2)" in text
    assert "dropping a planned send would not pay" in text  # f2 (5) does not beat f1 (10)

    found = binding(explain_candidate(view, "f2").to_dict())
    assert found["rule"] == "marketing-2-per-7-days"
    assert found["blocks"] == ["2026-11-24 email"]
    window = found["data"]["windows"][0]
    assert (window["start"], window["end"]) == ("2026-11-18", "2026-11-24")
    assert (window["count"], window["history"], window["planned"]) == (2, 1, 1)
    assert found["data"]["needed_max"] == 3


def test_frequency_cap_filled_by_history_says_when_it_frees_up(cap_plan: Path) -> None:
    explained = explain_json(cap_plan, "--candidate", "f3")
    found = binding(explained)
    assert found["rule"] == "marketing-2-per-7-days"
    assert all(w["history"] == 2 and w["planned"] == 0 for w in found["data"]["windows"])
    # windows holding both history sends (11-21 and 11-22) reach up to 11-27
    assert any("room on 2026-11-28 (after its window" in line for line in found["change"])


# --------------------------------------------------------------------------- min gap


def test_min_gap_names_the_rule_and_the_conflicting_send(gap_plan: Path) -> None:
    assert reason_of_plan(gap_plan, "g2") == ("min_gap", "marketing-2-day-gap")
    text = explain(gap_plan, "--candidate", "g2").stdout
    assert "binding: marketing-2-day-gap (min_gap" in text
    assert ("2026-11-24 g1 M1 by email (value 10, tier 1) is 1 day(s) from its nearest "
            "option; marketing-2-day-gap needs at least 2 days between") in text
    assert "min_gap days would need to be 1 (currently 2)" in text

    found = binding(explain_json(gap_plan, "--candidate", "g2"))
    assert [(c["candidate_id"], c["date"], c["gap"]) for c in found["data"]["conflicts"]] == [
        ("g1", "2026-11-24", 1)
    ]


def test_min_gap_after_history_names_the_history_send(gap_plan: Path) -> None:
    found = binding(explain_json(gap_plan, "--candidate", "g3"))
    assert found["rule"] == "marketing-2-day-gap"
    conflict = found["data"]["conflicts"][0]
    assert (conflict["source"], conflict["comm_id"], conflict["date"], conflict["gap"]) == (
        "history", "MH", "2026-11-22", 1)
    assert any("history keeps it out until 2026-11-24" in c for c in found["change"])


# --------------------------------------------------------------------------- exclusion


def test_state_exclusion_names_the_state_its_dates_and_the_rule(state_plan: Path) -> None:
    assert reason_of_plan(state_plan, "e1") == ("exclusion", "no-marketing-in-complaint")
    text = explain(state_plan, "--candidate", "e1").stdout
    assert "binding: no-marketing-in-complaint (exclusion, stops 2 option(s))" in text
    assert "in state 'complaint' from 2026-11-22 to 2026-11-25" in text
    assert "exclusion no-marketing-in-complaint would need to exempt it" in text
    assert "the day after is 2026-11-26" in text

    found = binding(explain_json(state_plan, "--candidate", "e1"))
    assert found["data"]["states"] == [
        {"state": "complaint", "start": "2026-11-22", "end": "2026-11-25"}]


def test_a_rule_also_in_the_way_offers_the_send_worth_dropping(state_plan: Path) -> None:
    """e1 (9) is stopped by the complaint; the weekly cap is also full, with e0 (5): e1
    beats e0, so explain offers to drop it."""
    text = explain(state_plan, "--candidate", "e1").stdout
    assert "also: marketing-1-per-7-days (frequency_cap, stops 2 option(s))" in text
    assert ("or drop one of: 2026-11-27 e0 M2 by email (value 5, tier 1); this one "
            "(value 9, tier 1) beats the lowest, and this rule then lets it go on "
            "2026-11-23") in text
    assert "e0" in " ".join(_day_block(explain(state_plan, "--customer", "A").stdout,
                                       "2026-11-27"))


# --------------------------------------------------------------------------- duplicate


def test_duplicate_names_the_copy_that_was_sent(dedup_plan: Path) -> None:
    assert reason_of_plan(dedup_plan, "d2") == ("duplicate", "dedup")
    text = explain(dedup_plan, "--candidate", "d2").stdout
    assert "binding: dedup (duplicate" in text
    assert ("the same message (dedup_key 'offer') is already sent: 2026-11-23 d1 O1 by email "
            "(value 10, tier 1)") in text
    assert "nothing to change: the copy sent, d1, is worth at least as much" in text
    found = binding(explain_json(dedup_plan, "--candidate", "d2"))
    assert [c["candidate_id"] for c in found["data"]["copies"]] == ["d1"]
    assert found["data"]["message"] == "dedup_key offer"


def test_duplicate_of_history_says_when_the_window_reopens(dedup_plan: Path) -> None:
    found = binding(explain_json(dedup_plan, "--candidate", "d3"))
    assert found["reason"] == "duplicate"
    assert found["data"]["history"][0]["date"] == "2026-11-10"
    assert any("re-opens on 2026-12-10" in fact for fact in found["facts"])


# --------------------------------------------------------------------------- capacity


def test_capacity_names_the_rule_and_usage_against_the_limit(capacity_plan: Path) -> None:
    assert reason_of_plan(capacity_plan, "c2") == ("capacity", "sms-seats")
    text = explain(capacity_plan, "--candidate", "c2").stdout
    assert "binding: sms-seats (capacity, stops 1 option(s))" in text
    assert "2026-11-23: 1 of max 1 sends used" in text
    assert "or max would need to be 2 (currently 1)" in text
    # no shadow price in this plan: compare with the winners the plan names
    assert ("lowest-value winners: c1 (value 10, tier 1); this one has value 3, tier 1: "
            "it does not beat c1") in text
    found = binding(explain_json(capacity_plan, "--candidate", "c2"))
    assert found["data"]["usage"]["2026-11-23"] == 1.0
    assert found["data"]["max"] == 1.0


def test_capacity_with_a_shadow_price_states_the_value_needed(
    capacity_plan: Path, tmp_path: Path
) -> None:
    priced = tmp_path / "priced"
    shutil.copytree(capacity_plan, priced)
    summary = json.loads((priced / "summary.json").read_text())
    for rule in summary["global_rules"]:
        rule["shadow_price"] = 7.5
    (priced / "summary.json").write_text(json.dumps(summary))
    text = explain(priced, "--candidate", "c2").stdout
    assert ("needs value per unit above the shadow price 7.5 (its value per unit is 3): "
            "a value above 7.5 instead of 3") in text


# --------------------------------------------------------------------------- data facts


def test_data_reasons_state_the_fact(tmp_path: Path) -> None:
    out = planned(
        tmp_path,
        "data",
        customers=[customer("A", consent_sms="false")],
        communications=[comm("M1"), comm("M2"), comm("M3"), comm("M4")],
        candidates=[
            cand("n1", "A", "M1", 5.0, channels="sms"),
            cand("n2", "A", "M2", 5.0, earliest="2026-12-07", latest="2026-12-08"),
            cand("n3", "A", "M3", 5.0, channels="call", earliest="2026-11-28",
                 latest="2026-11-29"),
            cand("n4", "A", "M4", 0.0),
        ],
        channels={"email": {"cost": 0.0}, "sms": {"cost": 0.0},
                  "call": {"cost": 1.0, "closed": ["sat", "sun"]}},
    )
    expected = {
        "n1": ("no_consent", "consent_sms = false"),
        "n2": ("outside_horizon", "its window 2026-12-07..2026-12-08 does not meet the horizon "
                                  "2026-11-23..2026-11-29"),
        "n4": ("no_value", "its value is 0"),
    }
    for candidate, (reason, fact) in expected.items():
        found = binding(explain_json(out, "--candidate", candidate))
        assert found["reason"] == reason
        assert any(fact in line for line in found["facts"]), found["facts"]
    # A never consented to calls (no consent_call cell): no consent, not a closed channel
    n3 = binding(explain_json(out, "--candidate", "n3"))
    assert n3["reason"] == "no_consent" and "consent_call = false" in n3["facts"][0]


def test_closed_channel_names_the_closed_days(tmp_path: Path) -> None:
    out = planned(
        tmp_path,
        "closed",
        customers=[customer("A", consent_call="true")],
        communications=[comm("M1")],
        candidates=[cand("k1", "A", "M1", 5.0, channels="call", earliest="2026-11-28",
                         latest="2026-11-29")],
        channels={"email": {"cost": 0.0}, "sms": {"cost": 0.0},
                  "call": {"cost": 1.0, "closed": ["sat", "sun"]}},
    )
    found = binding(explain_json(out, "--candidate", "k1"))
    assert found["reason"] == "channel_closed"
    assert found["data"]["closed"] == {"call": ["2026-11-28", "2026-11-29"]}
    assert "call is next open on 2026-11-30, after the horizon" in found["change"][0]


# --------------------------------------------------------------------------- timeline


def _day_block(text: str, date: str) -> list[str]:
    """The timeline lines of one day: its own line and the continuation lines after it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(date))
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith(" ") or not line.strip():
            break
        block.append(line)
    return block


def test_customer_timeline_puts_history_planned_and_suppressed_on_their_dates(
    cap_plan: Path,
) -> None:
    result = explain(cap_plan, "--customer", "A")
    assert result.exit_code == 0, result.output
    text = result.stdout
    history = _day_block(text, "2026-11-20")
    assert len(history) == 1 and "Fri (past)" in history[0] and "history" in history[0]
    assert "MH" in history[0]
    monday = " ".join(_day_block(text, "2026-11-23"))
    assert "sent" in monday and "f1" in monday and "M1" in monday
    tuesday = " ".join(_day_block(text, "2026-11-24"))
    assert "suppressed" in tuesday and "f2" in tuesday
    assert "frequency_cap marketing-2-per-7-days" in tuesday
    for quiet in ("2026-11-25", "2026-11-29"):  # every horizon day has its line
        assert _day_block(text, quiet)[0].split() == [quiet, _weekday(quiet)]
    assert "what would have to change for each suppressed candidate" in text
    assert "binding: marketing-2-per-7-days (frequency_cap" in text


def test_customer_timeline_shows_states(state_plan: Path) -> None:
    text = explain(state_plan, "--customer", "A").stdout
    assert "states: complaint 2026-11-22..2026-11-25" in text
    assert "complaint" in _day_block(text, "2026-11-23")[0]
    assert "complaint" not in _day_block(text, "2026-11-26")[0]


def _weekday(date: str) -> str:
    import datetime as dt

    return dt.date.fromisoformat(date).strftime("%a")


def test_json_parses_and_matches_the_text_and_the_plan(cap_plan: Path) -> None:
    data = explain_json(cap_plan, "--customer", "A")
    text = explain(cap_plan, "--customer", "A").stdout
    assert data["customer_id"] == "A"
    days = {day["date"]: day for day in data["timeline"]}
    assert set(days) >= {f"2026-11-{d}" for d in range(23, 30)} | {"2026-11-20"}
    assert [(e["kind"], e["comm_id"]) for e in days["2026-11-20"]["events"]] == [
        ("history", "MH")]
    assert [(e["kind"], e["candidate_id"]) for e in days["2026-11-23"]["events"]] == [
        ("sent", "f1")]
    (dropped,) = days["2026-11-24"]["events"]
    assert (dropped["kind"], dropped["candidate_id"], dropped["reason"], dropped["rule"]) == (
        "suppressed", "f2", "frequency_cap", "marketing-2-per-7-days")
    # every JSON event is on the text line of its date
    for date, day in days.items():
        block = " ".join(_day_block(text, date))
        for event in day["events"]:
            assert event["kind"] in block and (event["candidate_id"] or event["comm_id"]) in block
    # and agrees with the plan files
    plan_sent = set(
        (e["candidate_id"], date) for date, day in days.items() for e in day["events"]
        if e["kind"] == "sent")
    calendar = (cap_plan / "calendar.csv").read_text().splitlines()
    assert all(any(line.startswith(date) and f",{cid}," in line for line in calendar)
               for cid, date in plan_sent)
    by_id = {c["candidate_id"]: c for c in data["candidates"]}
    assert by_id["f1"]["status"] == "sent" and by_id["f1"]["sent"]["date"] == "2026-11-23"
    assert binding(by_id["f2"])["rule"] == "marketing-2-per-7-days"


def test_a_sent_candidate_says_where_it_went(cap_plan: Path) -> None:
    text = explain(cap_plan, "--candidate", "f1").stdout
    assert "sent on 2026-11-23 by email" in text


# --------------------------------------------------------------------------- errors


def test_unknown_customer_exits_2_with_a_clear_message(cap_plan: Path) -> None:
    result = explain(cap_plan, "--customer", "ZZ")
    assert result.exit_code == EXIT_INVALID
    assert "unknown customer 'ZZ'" in result.stderr


def test_unknown_candidate_exits_2_with_a_clear_message(cap_plan: Path) -> None:
    result = explain(cap_plan, "--candidate", "nope")
    assert result.exit_code == EXIT_INVALID
    assert "unknown candidate 'nope'" in result.stderr
    with pytest.raises(ExplainError, match="unknown candidate"):
        explain_candidate(load_plan_view(cap_plan), "nope")


def test_needs_exactly_one_of_customer_or_candidate(cap_plan: Path) -> None:
    assert explain(cap_plan).exit_code == EXIT_INVALID
    both = explain(cap_plan, "--customer", "A", "--candidate", "f1")
    assert both.exit_code == EXIT_INVALID
    assert "exactly one of --customer" in both.output


def test_scenario_path_missing_asks_for_scenario(cap_plan: Path, tmp_path: Path) -> None:
    copy = tmp_path / "plan"
    shutil.copytree(cap_plan, copy)
    summary = json.loads((copy / "summary.json").read_text())
    scenario = summary.pop("scenario_path")
    (copy / "summary.json").write_text(json.dumps(summary))
    result = explain(copy, "--candidate", "f2")
    assert result.exit_code == EXIT_INVALID
    assert "pass --scenario SCENARIO" in result.stderr
    assert explain(copy, "--candidate", "f2", "--scenario", scenario).exit_code == 0


def test_not_a_plan_folder_exits_2(tmp_path: Path) -> None:
    result = explain(tmp_path, "--customer", "A")
    assert result.exit_code == EXIT_INVALID
    assert "summary.json: not a plan folder (no summary.json)" in result.stderr


# --------------------------------------------------------------------------- helpers


def reason_of_plan(plan_dir: Path, candidate_id: str) -> tuple[str, str]:
    """The (reason, rule) suppressed.csv gives, read back from the written folder."""
    import pandas as pd

    from optimiser.plan import Plan

    suppressed = pd.read_csv(plan_dir / "suppressed.csv", dtype=str, keep_default_na=False)
    calendar = pd.read_csv(plan_dir / "calendar.csv", dtype=str, keep_default_na=False)
    plan = Plan(calendar, suppressed, {})
    assert candidate_id not in sent_ids(plan)
    return reason_of(plan, candidate_id)
