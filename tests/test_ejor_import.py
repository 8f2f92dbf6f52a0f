"""models.ejor: the EJOR 2023 benchmark importer, on the hand-made tests/data/ejor_tiny."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import models.ejor
from models.ejor import import_ejor
from models.errors import ScenarioError

TINY = Path(__file__).parent / "data" / "ejor_tiny"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A private copy of the tiny instance, safe to break."""
    source = tmp_path / "ejor_tiny"
    shutil.copytree(TINY, source)
    return source


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    return import_ejor(TINY, tmp_path / "scenario")


def scenario_yaml(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((folder / "scenario.yaml").read_text())
    return loaded


def rules_by_name(folder: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    rules = {}
    for entry in scenario_yaml(folder)["rules"]:
        ((kind, body),) = entry.items()
        rules[body["name"]] = (kind, body)
    return rules


def table2_rows() -> list[dict[str, str]]:
    with (TINY / "table2.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_writes_the_scenario_folder(imported: Path, tmp_path: Path) -> None:
    assert imported == tmp_path / "scenario"
    assert sorted(p.name for p in imported.iterdir()) == [
        "candidates.parquet",
        "communications.csv",
        "customers.csv",
        "scenario.yaml",
    ]
    # Nothing but the scenario is left next to it.
    assert [p.name for p in tmp_path.iterdir()] == ["scenario"]


def test_top_level_keys(imported: Path) -> None:
    top = scenario_yaml(imported)
    assert top["name"] == "EJOR 2023 ejor_tiny"
    assert top["source"]["licence"] == "CC BY 4.0"
    assert "Bigler, Kammermann & Baumann" in top["source"]["citation"]
    assert top["data"] == {
        "customers": "customers.csv",
        "communications": "communications.csv",
        "candidates": "candidates.parquet",
    }
    assert top["channels"] == {c: {"cost": 0.0} for c in ("sms", "call", "mail", "email")}
    assert top["objective"] == {"cost_weight": 0}
    assert top["solver"] == {"time_limit_s": 60, "seed": 0}
    # The spec's spelling, which YAML readers load as false.
    assert "\ndedup: off\n" in (imported / "scenario.yaml").read_text()
    assert top["dedup"] is False


def test_horizon_runs_to_the_last_day_of_table1_or_table3(imported: Path) -> None:
    # table1's last activity is on day 6, table3's last EndDay is 8.
    assert scenario_yaml(imported)["horizon"] == {"start": date(2026, 1, 1), "days": 8}


def test_start_moves_every_date(tmp_path: Path) -> None:
    folder = import_ejor(TINY, tmp_path / "out", start=date(2026, 3, 30))
    top = scenario_yaml(folder)
    assert top["horizon"]["start"] == date(2026, 3, 30)
    _, cap = rules_by_name(folder)["t3-6-maximum-contact"]
    assert cap["select"]["dates"] == {"from": date(2026, 3, 30), "to": date(2026, 4, 5)}
    candidates = pd.read_parquet(folder / "candidates.parquet").set_index("candidate_id")
    assert candidates.loc["1-2", "earliest"] == "2026-04-01"  # activity 2 is on day 3


def test_rules_one_per_table3_and_table4_row(imported: Path) -> None:
    rules = rules_by_name(imported)
    assert {name: kind for name, (kind, _) in rules.items()} == {
        "t3-1-minimum-assignment": "volume",
        "t3-2-maximum-assignment": "volume",
        "t3-3-budget": "budget",
        "t3-4-minimum-sales": "volume",
        "t3-5-maximum-sales": "volume",
        "t3-6-maximum-contact": "frequency_cap",
        "t4-1": "min_gap",
    }


def test_table3_rule_shapes(imported: Path) -> None:
    rules = rules_by_name(imported)
    penalty = {"penalty": 424.475232328}  # max |ExpectedProfit| of table2
    d = date(2026, 1, 1).replace

    assert rules["t3-1-minimum-assignment"][1] == {
        "name": "t3-1-minimum-assignment",
        "select": {"channels": ["email", "sms"], "dates": {"from": d(day=1), "to": d(day=3)}},
        "min": 2.0,
        "metric": "count",
        "soft": penalty,
    }
    assert rules["t3-2-maximum-assignment"][1] == {
        "name": "t3-2-maximum-assignment",
        "select": {"channels": ["call"], "dates": {"from": d(day=1), "to": d(day=6)}},
        "max": 1.5,
        "metric": "count",
    }
    assert rules["t3-3-budget"][1] == {
        "name": "t3-3-budget",
        "select": {"channels": ["mail", "call"], "dates": {"from": d(day=1), "to": d(day=8)}},
        "max": 10.500000000000002,  # full precision survives the YAML
    }
    assert rules["t3-4-minimum-sales"][1] == {
        "name": "t3-4-minimum-sales",
        "select": {"tags": ["p11"], "dates": {"from": d(day=1), "to": d(day=8)}},
        "min": 0.7,
        "metric": "response_probability",
        "soft": penalty,
    }
    assert rules["t3-5-maximum-sales"][1] == {
        "name": "t3-5-maximum-sales",
        "select": {"tags": ["p1", "p2"], "dates": {"from": d(day=2), "to": d(day=8)}},
        "max": 0.9,
        "metric": "response_probability",
        "soft": penalty,
    }
    # Maximum contact: per customer, counted once over its day range.
    assert rules["t3-6-maximum-contact"][1] == {
        "name": "t3-6-maximum-contact",
        "select": {"dates": {"from": d(day=1), "to": d(day=7)}},
        "max": 2,
        "period": "horizon",
    }


def test_table4_row_becomes_min_gap_of_lag_plus_one(imported: Path) -> None:
    kind, gap = rules_by_name(imported)["t4-1"]
    assert kind == "min_gap"
    assert gap == {
        "name": "t4-1",
        "first": {"channels": ["email"], "tags": ["p1"]},
        "then": {"channels": ["sms"]},  # TargetProduct2 ALL: no tags key
        "days": 4,  # Lag 3
    }


def test_communications_one_per_activity(imported: Path) -> None:
    comms = pd.read_csv(imported / "communications.csv", dtype=str, keep_default_na=False)
    assert comms["comm_id"].tolist() == ["1", "2", "3", "4"]
    assert comms["product_line"].tolist() == ["ejor-email", "ejor-sms", "ejor-mail", "ejor-call"]
    assert comms["tags"].tolist() == ["p1", "p1|p11", "p2", "p11"]
    assert [float(c) for c in comms["cost"]] == [0.0, 0.035, 1.4, 9.1]
    assert set(comms["category"]) == {"marketing"}
    assert set(comms["priority"]) == {"1"}
    assert set(comms["mandatory"]) == {"false"}
    assert set(comms["dedup_key"]) == {""}


def test_consent_on_the_channels_of_eligible_activities(imported: Path) -> None:
    customers = pd.read_csv(imported / "customers.csv", dtype=str).set_index("customer_id")
    assert customers.index.tolist() == ["1", "2", "3", "4"]
    assert "preferred_channels" not in customers.columns
    consent = customers.map(lambda v: v == "true")
    assert consent.loc["1"].to_dict() == {
        "consent_sms": True,
        "consent_call": False,
        "consent_mail": False,
        "consent_email": True,
    }
    assert consent.loc["3"].to_dict() == {
        "consent_sms": False,
        "consent_call": True,
        "consent_mail": True,
        "consent_email": False,
    }
    assert consent.loc["4"].sum() == 1 and consent.loc["4", "consent_email"]


def test_candidates_one_per_table2_row_with_exact_values(imported: Path) -> None:
    candidates = pd.read_parquet(imported / "candidates.parquet")
    rows = table2_rows()
    assert candidates["candidate_id"].tolist() == [f"{r['Customer']}-{r['Activity']}" for r in rows]
    # Exact equality: the floats must round-trip bit for bit.
    assert candidates["value"].tolist() == [float(r["ExpectedProfit"]) for r in rows]
    assert candidates["response_probability"].tolist() == [
        float(r["ResponseProbability"]) for r in rows
    ]
    first = candidates.set_index("candidate_id").loc["3-4"]
    assert first["customer_id"] == "3"
    assert first["comm_id"] == "4"
    assert first["channels"] == "call"
    assert first["earliest"] == first["latest"] == "2026-01-06"
    assert set(candidates["source"]) == {"ejor"}


def test_an_empty_existing_folder_is_used(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert import_ejor(TINY, out) == out
    assert (out / "scenario.yaml").is_file()


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        import_ejor(TINY, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def edit_cell(folder: Path, table: str, row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` counts as a spreadsheet does (header = 1)."""
    path = folder / table
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    rows[row - 2][column] = value
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def drop_column(folder: Path, table: str, column: str) -> None:
    path = folder / table
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.drop(columns=[column]).to_csv(path, index=False)


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "message"),
    [
        ("table2.csv", 4, "ExpectedProfit", "12,5", "not a number"),
        ("table2.csv", 3, "ResponseProbability", "nan", "not a number"),
        ("table2.csv", 5, "Customer", "x7", "not an integer"),
        ("table1.csv", 3, "Channel", "carrier pigeon", "unknown channel"),
        ("table3.csv", 3, "Channels", "email; fax", "unknown channel"),
        ("table4.csv", 2, "Channel2", "telex", "unknown channel"),
        ("table2.csv", 6, "Activity", "99", "not in table1.csv"),
        ("table2.csv", 3, "Activity", "1", "listed twice"),
        ("table3.csv", 4, "Type", "Minimum happiness", "unknown rule type"),
        ("table3.csv", 2, "EndDay", "0", "at least 1"),
        ("table4.csv", 2, "Lag", "-1", "at least 0"),
        ("table1.csv", 2, "TargetProducts", "1;", "empty item"),
    ],
)
def test_bad_cell_names_file_row_and_column(
    tiny: Path, tmp_path: Path, table: str, row: int, column: str, value: str, message: str
) -> None:
    edit_cell(tiny, table, row, column, value)
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as raised:
        import_ejor(tiny, out)
    error = raised.value
    assert error.file is not None and Path(error.file).name == table
    assert error.row == row
    assert error.column == column
    assert message in str(error)
    assert f"{table}:{row}: column '{column}'" in str(error)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ejor_tiny"]


def test_blank_lines_keep_row_numbers_right(tiny: Path, tmp_path: Path) -> None:
    path = tiny / "table2.csv"
    lines = path.read_text().splitlines()
    lines.insert(2, "")  # a blank line 3: the row after it is line 4 of the file
    lines[3] = lines[3].replace("-2.5", "oops")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError) as raised:
        import_ejor(tiny, tmp_path / "out")
    assert raised.value.row == 4
    assert raised.value.column == "ExpectedProfit"


@pytest.mark.parametrize(
    ("table", "column"),
    [("table1.csv", "Cost"), ("table2.csv", "ResponseProbability"), ("table4.csv", "Lag")],
)
def test_missing_column(tiny: Path, tmp_path: Path, table: str, column: str) -> None:
    drop_column(tiny, table, column)
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as raised:
        import_ejor(tiny, out)
    assert Path(str(raised.value.file)).name == table
    assert raised.value.column == column
    assert "missing column" in str(raised.value)
    assert not out.exists()


def test_missing_table_file(tiny: Path, tmp_path: Path) -> None:
    (tiny / "table4.csv").unlink()
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as raised:
        import_ejor(tiny, out)
    assert Path(str(raised.value.file)).name == "table4.csv"
    assert "missing table file" in str(raised.value)
    assert not out.exists()


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(models.ejor.pq, "write_table", disk_full)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        import_ejor(TINY, out)
    assert list(tmp_path.iterdir()) == []
