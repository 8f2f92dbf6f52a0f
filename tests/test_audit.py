"""The contact audit: every proposal as if sent, counted by hand on a tiny scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from models import load_scenario
from optimiser.audit import Audit, audit_scenario, render_audit
from optimiser.cli import main
from tests.kit import cand, comm, customer, write_scenario

RETAIL_BANK = Path(__file__).resolve().parent.parent / "scenarios" / "retail_bank_week"

# Horizon: Mon 2026-11-23 (day 0) .. Sun 2026-11-29 (day 6).
#
# Customer A, five contacts in the horizon and one outside:
#   a1 cards  CARD-OFFER (key offer-x)  Mon  email       -- fraud_review that day
#   a2 digital DIG-OFFER (key offer-x)  Sun..Tue -> Mon, sms first  -- fraud_review
#   a3 loans  LOAN       Tue  email     -- complaint on Tue
#   a4 billing BILL (tag bill)  Wed
#   a5 nba_engine LOAN   Wed            -- on a bill day
#   a6 customer_service SVC  Sat 5 Dec  -- outside the horizon
# Customer B, two in the horizon and one outside:
#   b1 cards  CARD-OFFER  Thu           -- collections from Thu, open-ended
#   b2 customer_service SVC  Thu
#   b3 loans  LOAN  10..20 Nov          -- outside the horizon
#   history: BILL on Fri 20 Nov (before the horizon: never a horizon bill day)
# Customer C: nothing proposed.
#
# Duplicates: (A, offer-x) = a1 + a2, cards vs digital; (A, LOAN) = a3 + a5,
# loans vs nba_engine, both product line loans.


def tiny_scenario(folder: Path) -> Path:
    return write_scenario(
        folder,
        customers=[customer("A"), customer("B"), customer("C")],
        communications=[
            comm("CARD-OFFER", product_line="cards", dedup_key="offer-x", tags="card|cashback"),
            comm("DIG-OFFER", product_line="digital", dedup_key="offer-x", tags="card|cashback"),
            comm("LOAN", product_line="loans", tags="loan"),
            comm("BILL", product_line="billing", category="functional", tags="bill|card"),
            comm("SVC", product_line="customer_service", category="service", tags="review"),
        ],
        candidates=[
            cand("a1", "A", "CARD-OFFER", 10.0, source="cards"),
            cand(
                "a2",
                "A",
                "DIG-OFFER",
                4.0,
                channels="sms|email",
                earliest="2026-11-22",
                latest="2026-11-24",
                source="digital",
            ),
            cand(
                "a3", "A", "LOAN", 20.0, earliest="2026-11-24", latest="2026-11-24", source="loans"
            ),
            cand(
                "a4", "A", "BILL", 1.0, earliest="2026-11-25", latest="2026-11-25", source="billing"
            ),
            cand(
                "a5",
                "A",
                "LOAN",
                15.0,
                earliest="2026-11-25",
                latest="2026-11-27",
                source="nba_engine",
            ),
            cand(
                "a6",
                "A",
                "SVC",
                2.0,
                earliest="2026-12-05",
                latest="2026-12-06",
                source="customer_service",
            ),
            cand(
                "b1",
                "B",
                "CARD-OFFER",
                6.0,
                earliest="2026-11-26",
                latest="2026-11-28",
                source="cards",
            ),
            cand(
                "b2",
                "B",
                "SVC",
                3.0,
                earliest="2026-11-26",
                latest="2026-11-26",
                source="customer_service",
            ),
            cand(
                "b3", "B", "LOAN", 9.0, earliest="2026-11-10", latest="2026-11-20", source="loans"
            ),
        ],
        history=[{"customer_id": "B", "comm_id": "BILL", "channel": "email", "date": "2026-11-20"}],
        states=[
            {
                "customer_id": "A",
                "state": "fraud_review",
                "start": "2026-11-23",
                "end": "2026-11-23",
            },
            {"customer_id": "A", "state": "complaint", "start": "2026-11-24", "end": "2026-11-24"},
            {"customer_id": "B", "state": "collections", "start": "2026-11-26", "end": ""},
        ],
    )


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return tiny_scenario(tmp_path / "tiny")


@pytest.fixture
def tiny_audit(tiny: Path) -> Audit:
    return audit_scenario(load_scenario(tiny), top=5)


@pytest.fixture(scope="module")
def retail_audit() -> Audit:
    return audit_scenario(load_scenario(RETAIL_BANK), top=10)


def test_as_if_sent_counts_each_candidate_once_on_its_earliest_horizon_day(tiny_audit):
    contacts = tiny_audit.contacts.set_index("candidate_id")
    assert sorted(contacts.index) == ["a1", "a2", "a3", "a4", "a5", "b1", "b2"]
    assert contacts.loc["a2", "date"] == "2026-11-23"  # window clipped to the horizon
    assert contacts.loc["a2", "channel"] == "sms"  # first listed channel
    assert contacts.loc["a5", "date"] == "2026-11-25"
    assert sorted(tiny_audit.outside_horizon["candidate_id"]) == ["a6", "b3"]
    h = tiny_audit.headline
    assert (h["candidates"], h["in_horizon"], h["outside_horizon"]) == (9, 7, 2)
    assert h["value_in_horizon"] == pytest.approx(10 + 4 + 20 + 1 + 15 + 6 + 3)
    assert (h["customers"], h["customers_proposed"]) == (3, 2)


def test_contacts_per_customer_per_week(tiny_audit):
    per = tiny_audit.per_customer_week.set_index("customer_id")["contacts"]
    assert per.to_dict() == {"A": 5, "B": 2, "C": 0}
    row = tiny_audit.distribution.iloc[0]
    assert (row["customers"], row["min"], row["median"], row["p90"], row["p99"], row["max"]) == (
        3,
        0,
        2,
        5,
        5,
        5,
    )
    assert row["mean"] == pytest.approx(7 / 3)
    histogram = tiny_audit.histogram.set_index("bucket")["customers"].to_dict()
    assert histogram == {"0": 1, "1": 0, "2": 1, "3": 0, "4": 0, "5": 1, "6-9": 0, "10+": 0}
    top = tiny_audit.most_contacted
    assert top["customer_id"].tolist() == ["A", "B"]  # C has nothing: never listed
    assert top["contacts"].tolist() == [5, 2]
    assert top["product_lines"].iloc[0] == "loans 2, billing 1, cards 1, digital 1"


def test_weeks_are_runs_of_seven_days_from_the_start(tmp_path):
    folder = tiny_scenario(tmp_path / "tiny")
    text = (folder / "scenario.yaml").read_text().replace("days: 7", "days: 10")
    (folder / "scenario.yaml").write_text(text)
    audit = audit_scenario(load_scenario(folder))
    assert audit.weeks["days"].tolist() == [7, 3]
    assert audit.weeks["last"].tolist() == ["2026-11-29", "2026-12-02"]
    assert audit.headline["in_horizon"] == 7  # a6 (5 Dec) is still outside
    assert audit.histogram.groupby("week")["customers"].sum().tolist() == [3, 3]


def test_promotions_during_sensitive_states(tiny, tiny_audit):
    assert sorted(tiny_audit.promotions_in_states["candidate_id"]) == ["a3", "b1"]
    summary = tiny_audit.states_summary.set_index("state")
    assert summary.loc["complaint", "promotions"] == 1
    assert summary.loc["collections", "promotions"] == 1
    assert summary.loc["any", "promotions"] == 2
    assert summary.loc["any", "customers"] == 2
    assert tiny_audit.headline["promotions_in_sensitive_states"] == 2
    # the option picks the states: fraud_review covers A's two Monday offers
    other = audit_scenario(load_scenario(tiny), sensitive_states=["fraud_review"])
    assert sorted(other.promotions_in_states["candidate_id"]) == ["a1", "a2"]
    assert other.promotions_in_states["states"].tolist() == ["fraud_review"] * 2


def test_promotions_on_bill_days(tiny_audit):
    hits = tiny_audit.promotions_on_bill_days
    assert hits["candidate_id"].tolist() == ["a5"]
    assert hits["bills"].tolist() == ["BILL"]
    assert tiny_audit.headline["promotions_on_bill_days"] == 1
    assert tiny_audit.headline["customers_promoted_on_bill_days"] == 1


def test_duplicates_across_teams(tiny_audit):
    dups = tiny_audit.duplicates.set_index("message")
    assert sorted(dups.index) == ["LOAN", "offer-x"]
    assert dups.loc["offer-x", "candidate_ids"] == "a1|a2"
    assert dups.loc["offer-x", "sources"] == "cards|digital"
    assert bool(dups.loc["offer-x", "across_product_lines"])
    assert dups.loc["LOAN", "sources"] == "loans|nba_engine"
    assert not bool(dups.loc["LOAN", "across_product_lines"])
    h = tiny_audit.headline
    assert h["duplicate_groups"] == 2
    assert h["duplicate_candidates"] == 4
    assert h["surplus_contacts"] == 2
    assert h["duplicates_across_sources"] == 2
    assert h["duplicates_across_product_lines"] == 1


def test_per_product_line_and_channel(tiny_audit):
    lines = tiny_audit.by_product_line.set_index("product_line")
    assert lines["proposed"].to_dict() == {
        "cards": 2,
        "loans": 2,
        "billing": 1,
        "customer_service": 1,
        "digital": 1,
    }
    assert lines.loc["cards", "customers"] == 2
    assert lines.loc["loans", "customers"] == 1
    assert lines.loc["loans", "value"] == pytest.approx(35.0)
    assert lines.loc["loans", "outside_horizon"] == 1
    assert lines.loc["customer_service", "outside_horizon"] == 1
    assert lines.loc["loans", "in_sensitive_state"] == 1
    assert lines.loc["loans", "on_bill_day"] == 1
    assert lines.loc["loans", "duplicated"] == 2
    channels = tiny_audit.by_channel.set_index("channel")
    assert channels["proposed"].to_dict() == {"email": 6, "sms": 1}
    assert channels.loc["sms", "value"] == pytest.approx(4.0)


def test_text_and_json_agree(tiny_audit):
    text = render_audit(tiny_audit)
    assert "Contacts per customer per week" in text
    assert "loans 2, billing 1, cards 1, digital 1" in text
    data = json.loads(json.dumps(tiny_audit.to_dict()))
    assert data["headline"]["duplicate_groups"] == 2
    assert [r["customers"] for r in data["histogram"]] == [1, 0, 1, 0, 0, 1, 0, 0]


def test_audit_does_not_need_the_solver():
    code = (
        "import sys, optimiser.audit\n"
        "loaded = [m for m in ('optimiser.options', 'optimiser.solve', 'ortools') "
        "if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr


def test_retail_bank_is_internally_consistent(retail_audit):
    h = retail_audit.headline
    lines = retail_audit.by_product_line
    assert lines["proposed"].sum() == h["in_horizon"]
    assert retail_audit.by_channel["proposed"].sum() == h["in_horizon"]
    assert h["in_horizon"] + h["outside_horizon"] == h["candidates"]
    assert lines["outside_horizon"].sum() == h["outside_horizon"]
    assert lines["value"].sum() == pytest.approx(h["value_in_horizon"])
    assert retail_audit.histogram["customers"].sum() == h["customers"] == 5000
    assert retail_audit.per_customer_week["contacts"].sum() == h["in_horizon"]
    row = retail_audit.distribution.iloc[0]
    assert row["min"] <= row["median"] <= row["p90"] <= row["p99"] <= row["max"]
    assert retail_audit.most_contacted["contacts"].iloc[0] == row["max"]
    assert lines["in_sensitive_state"].sum() == h["promotions_in_sensitive_states"]
    assert lines["on_bill_day"].sum() == h["promotions_on_bill_days"]
    assert lines["duplicated"].sum() == h["duplicate_candidates"]
    assert len(retail_audit.most_contacted) == 10


def test_cli_audit_text_and_json(tiny):
    runner = CliRunner()
    result = runner.invoke(main, ["audit", str(tiny), "--top", "1"])
    assert result.exit_code == 0, result.output
    assert "Most contacted customers (top 1)" in result.output
    result = runner.invoke(
        main, ["audit", str(tiny), "--json", "--sensitive-states", "complaint,fraud_review"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["sensitive_states"] == ["complaint", "fraud_review"]
    assert data["headline"]["promotions_in_sensitive_states"] == 3  # a1, a2, a3


def test_cli_audit_invalid_scenario_exits_2(tmp_path, tiny):
    runner = CliRunner()
    result = runner.invoke(main, ["audit", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "scenario.yaml not found" in result.output
    (tiny / "candidates.csv").write_text(
        "candidate_id,customer_id,comm_id,channels,earliest,latest,value\n"
        "x1,NOBODY,LOAN,email,2026-11-23,2026-11-23,1\n"
    )
    result = runner.invoke(main, ["audit", str(tiny)])
    assert result.exit_code == 2
    assert "candidates.csv:2" in result.output


def test_cli_help_has_an_example():
    result = CliRunner().invoke(main, ["audit", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
