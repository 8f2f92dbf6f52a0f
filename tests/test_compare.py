"""The what-if table between two plan folders: differences that add up and match the calendars."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from optimiser.cli import main
from optimiser.compare import (
    SECTIONS,
    Comparison,
    NotAPlanError,
    compare_plans,
    load_plan_folder,
    render_comparison,
)
from tests.kit import cand, comm, customer, plan_and_verify, write_scenario

# Two customers, promotions on different days, one service message. With at most
# one promotion in 7 days A gets m1 (10) and B m4 (7); with two, A also gets m2
# (8) and B m5 (3). The service message s1 is always sent.


def capped_scenario(folder: Path, cap: int) -> Path:
    return write_scenario(
        folder,
        customers=[customer("A"), customer("B")],
        communications=[
            comm("M1", product_line="cards"),
            comm("M2", product_line="loans"),
            comm("M3", product_line="loans"),
            comm("SVC", product_line="customer_service", category="service"),
        ],
        candidates=[
            cand("m1", "A", "M1", 10.0, earliest="2026-11-23", latest="2026-11-23"),
            cand("m2", "A", "M2", 8.0, earliest="2026-11-25", latest="2026-11-25", channels="sms"),
            cand("m3", "A", "M3", 5.0, earliest="2026-11-27", latest="2026-11-27"),
            cand("s1", "A", "SVC", 1.0, earliest="2026-11-24", latest="2026-11-24"),
            cand("m4", "B", "M1", 7.0, earliest="2026-11-23", latest="2026-11-23"),
            cand("m5", "B", "M2", 3.0, earliest="2026-11-26", latest="2026-11-26", channels="sms"),
        ],
        rules=[
            {
                "frequency_cap": {
                    "name": f"marketing-{cap}-per-7-days",
                    "select": {"categories": ["marketing"]},
                    "max": cap,
                    "window_days": 7,
                }
            }
        ],
    )


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("compare")
    plan_and_verify(capped_scenario(root / "cap1", 1), root / "plan1")
    plan_and_verify(capped_scenario(root / "cap2", 2), root / "plan2")
    return root / "plan1", root / "plan2"


@pytest.fixture(scope="module")
def comparison(plans: tuple[Path, Path]) -> Comparison:
    return compare_plans(*plans)


def test_hand_counted_differences(comparison):
    assert comparison.value("volume", "sends", "a") == 3
    assert comparison.value("volume", "sends", "b") == 5
    assert comparison.value("volume", "sends") == 2
    assert comparison.value("volume", "suppressed") == -2
    assert comparison.value("volume", "candidates") == 0
    assert comparison.value("value", "value of sends") == pytest.approx(8.0 + 3.0)
    assert comparison.value("value", "objective") == pytest.approx(11.0)
    assert comparison.value("suppressed_by_reason", "frequency_cap", "a") == 3
    assert comparison.value("suppressed_by_reason", "frequency_cap", "b") == 1
    lines = comparison.section("sends_by_product_line").set_index("item")["diff"].to_dict()
    assert lines == {"cards": 0, "customer_service": 0, "loans": 2}
    channels = comparison.section("sends_by_channel").set_index("item")["diff"].to_dict()
    assert channels == {"email": 0, "sms": 2}
    per_customer = comparison.section("contacts_per_customer").set_index("item")
    assert per_customer.loc["mean", "a"] == pytest.approx(1.5)
    assert per_customer.loc["mean", "b"] == pytest.approx(2.5)
    assert (per_customer.loc["max", "a"], per_customer.loc["max", "b"]) == (2, 3)
    buckets = comparison.section("customers_by_contacts").set_index("item")
    assert buckets.loc["1", "a"] == 1 and buckets.loc["2", "a"] == 1  # B 1, A 2
    assert buckets.loc["2", "b"] == 1 and buckets.loc["3", "b"] == 1  # B 2, A 3
    assert comparison.notes == []


def test_differences_add_up(comparison):
    def total(section: str, column: str = "diff") -> float:
        return float(comparison.section(section)[column].sum())

    sends = comparison.value("volume", "sends")
    assert total("sends_by_product_line") == sends
    assert total("sends_by_channel") == sends
    assert total("suppressed_by_reason") == comparison.value("volume", "suppressed")
    assert total("value_by_product_line") == pytest.approx(
        comparison.value("value", "value of sends")
    )
    assert total("objective_by_tier") == pytest.approx(comparison.value("value", "objective"))
    assert total("customers_by_contacts") == 0
    for column in ("a", "b"):
        assert total("customers_by_contacts", column) == comparison.value(
            "contacts_per_customer", "customers", column
        )
    rows = comparison.rows
    assert (rows["diff"] == rows["b"] - rows["a"]).all()


def test_matches_the_calendars(plans, comparison):
    cal_a, cal_b = (pd.read_csv(p / "calendar.csv", dtype={"customer_id": str}) for p in plans)
    assert comparison.value("volume", "sends", "a") == len(cal_a)
    assert comparison.value("volume", "sends", "b") == len(cal_b)
    by_line = comparison.section("value_by_product_line").set_index("item")
    for line, value in cal_b.groupby("product_line")["value"].sum().items():
        assert by_line.loc[line, "b"] == pytest.approx(value)
    by_channel = comparison.section("sends_by_channel").set_index("item")
    for channel, count in cal_a["channel"].value_counts().items():
        assert by_channel.loc[channel, "a"] == count
    assert set(cal_b["candidate_id"]) - set(cal_a["candidate_id"]) == {"m2", "m5"}


def test_text_and_json(comparison):
    text = render_comparison(comparison)
    for title in SECTIONS.values():
        assert title in text
    assert "+2" in text
    data = json.loads(comparison.to_json())
    assert set(data["sections"]) == set(SECTIONS)
    sends = {r["item"]: r for r in data["sections"]["volume"]}["sends"]
    assert (sends["a"], sends["b"], sends["diff"]) == (3, 5, 2)


def test_not_a_plan(tmp_path, plans):
    with pytest.raises(NotAPlanError, match="no such folder"):
        load_plan_folder(tmp_path / "missing")
    with pytest.raises(NotAPlanError, match="no summary.json"):
        load_plan_folder(tmp_path)
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "summary.json").write_text(
        json.dumps({"status": "INFEASIBLE", "diagnosis": "customer A: m1 vs cap"})
    )
    with pytest.raises(NotAPlanError, match="INFEASIBLE: customer A"):
        load_plan_folder(failed)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("summary.json", "suppressed.csv"):
        (broken / name).write_bytes((plans[0] / name).read_bytes())
    (broken / "calendar.csv").write_text("date,customer_id\n2026-11-23,A\n")
    with pytest.raises(NotAPlanError, match="missing column 'channel'"):
        load_plan_folder(broken)


def test_different_candidates_are_noted(tmp_path, plans):
    other = tmp_path / "other"
    other.mkdir()
    for name in ("summary.json", "calendar.csv"):
        (other / name).write_bytes((plans[1] / name).read_bytes())
    suppressed = pd.read_csv(plans[1] / "suppressed.csv", dtype=str, keep_default_na=False)
    suppressed.iloc[:-1].to_csv(other / "suppressed.csv", index=False)
    comparison = compare_plans(plans[0], other)
    assert comparison.value("volume", "candidates") == -1
    assert any("different candidates" in note for note in comparison.notes)


def test_cli_compare(plans, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["compare", str(plans[0]), str(plans[1])])
    assert result.exit_code == 0, result.output
    assert "B - A" in result.output
    result = runner.invoke(main, ["compare", str(plans[0]), str(plans[1]), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sections"]["volume"][1]["diff"] == 2
    result = runner.invoke(main, ["compare", str(plans[0]), str(tmp_path)])
    assert result.exit_code == 2
    assert "not a plan folder" in result.output
    result = runner.invoke(main, ["compare", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
