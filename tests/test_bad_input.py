"""models.load_scenario on bad input: every defect is a ScenarioError a planner can act on.

Each test starts from one valid scenario (`good`), introduces exactly one defect, and
asserts that the error names the file, the row (CSV: the header is row 1, the first data
row is row 2; Parquet: the first data row is row 1, as models/tables.py documents), the
column (for scenario.yaml: the key path) and what was expected. A few defects also go
through `contact-plan plan SCEN -o OUT`: exit code 2 and no OUT folder afterwards.

The valid scenario (horizon Mon 2026-11-23 .. Sun 2026-11-29):

    customers       C1 (segment mass), C2 (segment premium)
    communications  PROMO (marketing), BILL (service, mandatory)
    candidates      K1 C1 PROMO email, K2 C2 BILL sms|email, K3 C1 BILL email
    history         C1 PROMO email 2026-11-20
    rules           one frequency cap, one capacity, one volume on response_probability
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from models import ScenarioError, load_scenario
from optimiser.cli import main
from tests.kit import cand, comm, customer, write_scenario

# --------------------------------------------------------------------------- the valid scenario


def customers() -> list[dict[str, Any]]:
    return [customer("C1", segment="mass"), customer("C2", segment="premium")]


def communications() -> list[dict[str, Any]]:
    return [comm("PROMO", cost=0.5), comm("BILL", category="service", mandatory="true", cost=0)]


def candidates() -> list[dict[str, Any]]:
    return [
        cand("K1", "C1", "PROMO", 3.0, latest="2026-11-25", response_probability=0.1),
        cand("K2", "C2", "BILL", 1.0, channels="sms|email", response_probability=0.2),
        cand("K3", "C1", "BILL", 1.0, response_probability=0.3),
    ]


def history() -> list[dict[str, Any]]:
    return [{"customer_id": "C1", "comm_id": "PROMO", "channel": "email", "date": "2026-11-20"}]


def rules() -> list[dict[str, Any]]:
    return [
        {
            "frequency_cap": {
                "name": "marketing-cap",
                "select": {"categories": ["marketing"]},
                "max": 1,
                "window_days": 7,
            }
        },
        {"capacity": {"name": "sms-seats", "select": {"channels": ["sms"]}, "max": 10}},
        {
            "volume": {
                "name": "sales",
                "select": {},
                "max": 5,
                "metric": "response_probability",
            }
        },
    ]


def good(folder: Path, **overrides: Any) -> Path:
    """The valid scenario, with any table or rule list replaced."""
    parts: dict[str, Any] = {
        "customers": customers(),
        "communications": communications(),
        "candidates": candidates(),
        "history": history(),
        "rules": rules(),
    }
    parts.update(overrides)
    return write_scenario(folder, **parts)


def edit_yaml(folder: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    path = folder / "scenario.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder


def edit_csv(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell; `row` counts as a spreadsheet does (header 1, first data row 2)."""
    with path.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    header = table[0]
    table[row - 1][header.index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(table)


def drop_csv_column(path: Path, column: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.drop(columns=[column]).to_csv(path, index=False)


def load_error(folder: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    return str(info.value)


def assert_located(
    text: str, *, file: str, row: int | None, column: str | None, expected: list[str]
) -> None:
    """The message names the file (and row, right after it), the column and what was expected."""
    where = f"{file}:{row}:" if row is not None else file
    assert where in text, f"expected {where!r} in the error: {text}"
    if column is not None:
        assert f"column '{column}'" in text, f"expected column {column!r} in the error: {text}"
    for phrase in expected:
        assert phrase.lower() in text.lower(), f"expected {phrase!r} in the error: {text}"


def test_the_base_scenario_is_valid(tmp_path: Path) -> None:
    scenario = load_scenario(good(tmp_path / "s"))
    assert len(scenario.candidates) == 3 and len(scenario.rules) == 3


# --------------------------------------------------------------------------- files


def test_missing_scenario_yaml(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    (folder / "scenario.yaml").unlink()
    text = load_error(folder)
    assert_located(text, file=str(folder / "scenario.yaml"), row=None, column=None,
                   expected=["not found"])


def test_missing_scenario_folder(tmp_path: Path) -> None:
    text = load_error(tmp_path / "nowhere")
    assert_located(text, file="scenario.yaml", row=None, column=None, expected=["not found"])


@pytest.mark.parametrize("table", ["candidates", "history"])
def test_missing_table_file(tmp_path: Path, table: str) -> None:
    folder = good(tmp_path / "s")
    (folder / f"{table}.csv").unlink()
    text = load_error(folder)
    assert_located(text, file=str(folder / f"{table}.csv"), row=None, column=None,
                   expected=["not found", table])


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    lines = (folder / "scenario.yaml").read_text(encoding="utf-8").splitlines()
    lines.insert(3, "  broken: [1, 2")  # line 4
    (folder / "scenario.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = load_error(folder)
    assert_located(text, file="scenario.yaml", row=None, column=None,
                   expected=["not valid YAML", "line 4"])


# --------------------------------------------------------------------------- columns and types


@pytest.mark.parametrize(
    "table, column",
    [
        ("candidates", "value"),
        ("candidates", "earliest"),
        ("customers", "customer_id"),
        ("communications", "priority"),
        ("history", "date"),
    ],
)
def test_missing_required_column(tmp_path: Path, table: str, column: str) -> None:
    folder = good(tmp_path / "s")
    drop_csv_column(folder / f"{table}.csv", column)
    text = load_error(folder)
    assert_located(text, file=f"{table}.csv", row=None, column=column,
                   expected=["missing required column"])


@pytest.mark.parametrize(
    "table, row, column, value, expected",
    [
        ("candidates", 3, "value", "lots", ["expected a number", "'lots'"]),
        ("communications", 2, "priority", "high", ["expected an integer", "'high'"]),
        ("communications", 3, "priority", "1.5", ["expected an integer", "'1.5'"]),
        ("communications", 3, "priority", "0", ["expected an integer >= 1"]),
        ("communications", 3, "mandatory", "maybe", ["expected a boolean", "'maybe'"]),
        ("communications", 2, "cost", "-1", ["expected a cost >= 0"]),
        ("customers", 3, "consent_sms", "maybe", ["expected a boolean", "'maybe'"]),
        ("candidates", 4, "candidate_id", "", ["expected a non-empty identifier"]),
    ],
)
def test_wrong_type(
    tmp_path: Path, table: str, row: int, column: str, value: str, expected: list[str]
) -> None:
    folder = good(tmp_path / "s")
    edit_csv(folder / f"{table}.csv", row, column, value)
    text = load_error(folder)
    assert_located(text, file=f"{table}.csv", row=row, column=column, expected=expected)


@pytest.mark.parametrize(
    "table, row, column, value",
    [
        ("candidates", 2, "earliest", "2026-13-45"),
        ("candidates", 3, "latest", "23/11/2026"),
        ("candidates", 4, "latest", "2026-02-30"),
        ("history", 2, "date", "2026-13-45"),
        ("history", 2, "date", "20/11/2026"),
    ],
)
def test_unparseable_table_date(
    tmp_path: Path, table: str, row: int, column: str, value: str
) -> None:
    folder = good(tmp_path / "s")
    edit_csv(folder / f"{table}.csv", row, column, value)
    text = load_error(folder)
    assert_located(text, file=f"{table}.csv", row=row, column=column,
                   expected=["expected an ISO date YYYY-MM-DD", repr(value)])


def test_earliest_after_latest(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    edit_csv(folder / "candidates.csv", 3, "earliest", "2026-11-25")
    edit_csv(folder / "candidates.csv", 3, "latest", "2026-11-24")
    text = load_error(folder)
    assert_located(text, file="candidates.csv", row=3, column="latest",
                   expected=["on or after 'earliest'"])


# --------------------------------------------------------------------------- references and ids


def test_unknown_channel_in_candidate_channels(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    edit_csv(folder / "candidates.csv", 3, "channels", "sms|fax")
    text = load_error(folder)
    assert_located(text, file="candidates.csv", row=3, column="channels",
                   expected=["unknown channel 'fax'", "email", "sms"])


@pytest.mark.parametrize(
    "table, row, column, value",
    [
        ("candidates", 4, "comm_id", "NEWS"),
        ("candidates", 3, "customer_id", "C9"),
        ("history", 2, "comm_id", "NEWS"),
        ("history", 2, "customer_id", "C9"),
        ("history", 2, "channel", "fax"),
    ],
)
def test_unknown_reference(tmp_path: Path, table: str, row: int, column: str, value: str) -> None:
    folder = good(tmp_path / "s")
    edit_csv(folder / f"{table}.csv", row, column, value)
    text = load_error(folder)
    assert_located(text, file=f"{table}.csv", row=row, column=column,
                   expected=[f"unknown {column} {value!r}"])


@pytest.mark.parametrize(
    "table, row, column, value, first_row",
    [
        ("candidates", 4, "candidate_id", "K1", 2),
        ("customers", 3, "customer_id", "C1", 2),
        ("communications", 3, "comm_id", "PROMO", 2),
        ("customers", 3, "customer_id", " C1 ", 2),  # ids are compared without padding
    ],
)
def test_duplicate_id(
    tmp_path: Path, table: str, row: int, column: str, value: str, first_row: int
) -> None:
    folder = good(tmp_path / "s")
    if table == "customers":
        # keep candidate references valid: K2 pointed at C2, which is now a second C1
        edit_csv(folder / "candidates.csv", 3, "customer_id", "C1")
    if table == "communications":
        edit_csv(folder / "candidates.csv", 3, "comm_id", "PROMO")
        edit_csv(folder / "candidates.csv", 4, "comm_id", "PROMO")
    edit_csv(folder / f"{table}.csv", row, column, value)
    text = load_error(folder)
    assert_located(text, file=f"{table}.csv", row=row, column=column,
                   expected=["duplicate id", f"first seen at row {first_row}"])


def test_history_on_or_after_the_horizon_start(tmp_path: Path) -> None:
    for date in ("2026-11-23", "2026-11-26"):
        folder = good(tmp_path / date)
        edit_csv(folder / "history.csv", 2, "date", date)
        text = load_error(folder)
        assert_located(text, file="history.csv", row=2, column="date",
                       expected=["before the horizon", "2026-11-23"])


# --------------------------------------------------------------------------- scenario.yaml


def first_rule(doc: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = doc["rules"][0]["frequency_cap"]
    return body


def test_unknown_rule_key(tmp_path: Path) -> None:
    def typo(doc: dict[str, Any]) -> None:
        first_rule(doc)["window_day"] = first_rule(doc).pop("window_days")

    text = load_error(edit_yaml(good(tmp_path / "s"), typo))
    assert_located(text, file="scenario.yaml", row=None, column="rules[0].frequency_cap",
                   expected=["unknown key 'window_day'", "window_days"])


def test_unknown_rule_type(tmp_path: Path) -> None:
    def misspell(doc: dict[str, Any]) -> None:
        doc["rules"][1] = {"capacitty": doc["rules"][1]["capacity"]}

    text = load_error(edit_yaml(good(tmp_path / "s"), misspell))
    assert_located(text, file="scenario.yaml", row=None, column="rules[1]",
                   expected=["unknown rule type 'capacitty'", "capacity"])


@pytest.mark.parametrize(
    "index, kind, key, value, expected",
    [
        (0, "frequency_cap", "max", -1, "expected an integer >= 0"),
        (0, "frequency_cap", "window_days", 0, "expected an integer >= 1"),
        (1, "capacity", "max", -1, "expected a number >= 0"),
    ],
)
def test_negative_caps(
    tmp_path: Path, index: int, kind: str, key: str, value: int, expected: str
) -> None:
    def negative(doc: dict[str, Any]) -> None:
        doc["rules"][index][kind][key] = value

    text = load_error(edit_yaml(good(tmp_path / "s"), negative))
    assert_located(text, file="scenario.yaml", row=None, column=f"rules[{index}].{kind}.{key}",
                   expected=[expected, str(value)])


def test_negative_budget(tmp_path: Path) -> None:
    folder = good(tmp_path / "s", rules=[{"budget": {"name": "spend", "max": -1}}])
    text = load_error(folder)
    assert_located(text, file="scenario.yaml", row=None, column="rules[0].budget.max",
                   expected=["expected a number >= 0", "-1"])


def test_selection_dates_outside_the_horizon(tmp_path: Path) -> None:
    def december(doc: dict[str, Any]) -> None:
        first_rule(doc)["select"]["dates"] = {"from": "2026-12-07", "to": "2026-12-13"}

    text = load_error(edit_yaml(good(tmp_path / "s"), december))
    assert_located(text, file="scenario.yaml", row=None,
                   column="rules[0].frequency_cap.select.dates",
                   expected=["outside the horizon", "2026-11-23", "2026-11-29"])


@pytest.mark.parametrize("value", ["23/11/2026", "2026-13-45"])
def test_unparseable_selection_date(tmp_path: Path, value: str) -> None:
    """Quoted or not, a bad date in scenario.yaml is a located ScenarioError."""
    folder = good(tmp_path / "s")
    path = folder / "scenario.yaml"
    text = path.read_text(encoding="utf-8")
    # written by hand, unquoted, as a planner would type it: YAML itself reads
    # 2026-13-45 as a (broken) timestamp
    selection = "      categories:\n      - marketing\n"
    text = text.replace(selection, f"{selection}      dates: {{from: {value}}}\n", 1)
    path.write_text(text, encoding="utf-8")
    message = load_error(folder)
    assert_located(message, file="scenario.yaml", row=None,
                   column="rules[0].frequency_cap.select.dates.from",
                   expected=["expected an ISO date YYYY-MM-DD", value])


@pytest.mark.parametrize("value", ["23/11/2026", "2026-13-45"])
def test_unparseable_horizon_start(tmp_path: Path, value: str) -> None:
    folder = good(tmp_path / "s")
    path = folder / "scenario.yaml"
    text = path.read_text(encoding="utf-8").replace("start: '2026-11-23'", f"start: {value}")
    assert f"start: {value}" in text
    path.write_text(text, encoding="utf-8")
    message = load_error(folder)
    assert_located(message, file="scenario.yaml", row=None, column="horizon.start",
                   expected=["expected an ISO date YYYY-MM-DD", value])


def test_unknown_selection_key(tmp_path: Path) -> None:
    def singular(doc: dict[str, Any]) -> None:
        first_rule(doc)["select"] = {"category": ["marketing"]}

    text = load_error(edit_yaml(good(tmp_path / "s"), singular))
    assert_located(text, file="scenario.yaml", row=None, column="rules[0].frequency_cap.select",
                   expected=["unknown key 'category'", "categories"])


def test_unknown_channel_in_selection(tmp_path: Path) -> None:
    def fax(doc: dict[str, Any]) -> None:
        doc["rules"][1]["capacity"]["select"] = {"channels": ["fax"]}

    text = load_error(edit_yaml(good(tmp_path / "s"), fax))
    assert_located(text, file="scenario.yaml", row=None, column="rules[1].capacity.select.channels",
                   expected=["unknown channel 'fax'"])


def test_unknown_customers_column_in_selection(tmp_path: Path) -> None:
    def segmnt(doc: dict[str, Any]) -> None:
        first_rule(doc)["select"]["customers"] = {"segmnt": "mass"}

    text = load_error(edit_yaml(good(tmp_path / "s"), segmnt))
    assert_located(text, file="scenario.yaml", row=None,
                   column="rules[0].frequency_cap.select.customers",
                   expected=["unknown customers column 'segmnt'"])


def test_unknown_customers_column_in_customer_exclusion(tmp_path: Path) -> None:
    rule = {"exclusion": {"name": "dnm", "select": {}, "customers": {"do_not_market": True}}}
    text = load_error(good(tmp_path / "s", rules=[rule]))
    assert_located(text, file="scenario.yaml", row=None, column="rules[0].exclusion.customers",
                   expected=["unknown customers column 'do_not_market'"])


def test_volume_metric_that_is_not_a_column(tmp_path: Path) -> None:
    def typo(doc: dict[str, Any]) -> None:
        doc["rules"][2]["volume"]["metric"] = "response_prob"

    text = load_error(edit_yaml(good(tmp_path / "s"), typo))
    assert_located(text, file="scenario.yaml", row=None, column="rules[2].volume.metric",
                   expected=["unknown metric 'response_prob'", "response_probability"])


def test_volume_metric_on_a_text_column(tmp_path: Path) -> None:
    """A candidates column that is not numeric is not a metric."""
    rows = [dict(row, source="cards-team") for row in candidates()]
    folder = good(tmp_path / "s", candidates=rows,
                  rules=[{"volume": {"name": "v", "max": 5, "metric": "source"}}])
    text = load_error(folder)
    assert_located(text, file="scenario.yaml", row=None, column="rules[0].volume.metric",
                   expected=["unknown metric 'source'"])


# --------------------------------------------------------------------------- Parquet tables


def parquet_candidates(folder: Path, frame: pd.DataFrame) -> None:
    frame.to_parquet(folder / "candidates.parquet", index=False)
    (folder / "candidates.csv").unlink()
    edit_yaml(folder, lambda doc: doc["data"].update(candidates="candidates.parquet"))


def test_parquet_table_loads(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    frame = pd.DataFrame(candidates())
    frame["value"] = frame["value"].astype(float)
    parquet_candidates(folder, frame)
    assert list(load_scenario(folder).candidates["value"]) == [3.0, 1.0, 1.0]


def test_parquet_text_cell_in_a_number_column(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    frame = pd.DataFrame(candidates())
    frame["value"] = ["3.0", "lots", "1.0"]  # a string column: row 2 of the Parquet data
    parquet_candidates(folder, frame)
    text = load_error(folder)
    assert_located(text, file="candidates.parquet", row=2, column="value",
                   expected=["expected a number", "'lots'"])


def test_parquet_missing_number(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    frame = pd.DataFrame(candidates())
    frame["value"] = [3.0, 1.0, float("nan")]
    parquet_candidates(folder, frame)
    text = load_error(folder)
    assert_located(text, file="candidates.parquet", row=3, column="value",
                   expected=["expected a number"])


def test_parquet_bad_date(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    frame = pd.DataFrame(candidates())
    frame.loc[0, "earliest"] = "23/11/2026"
    parquet_candidates(folder, frame)
    text = load_error(folder)
    assert_located(text, file="candidates.parquet", row=1, column="earliest",
                   expected=["expected an ISO date YYYY-MM-DD", "23/11/2026"])


def test_file_that_is_not_parquet(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    parquet_candidates(folder, pd.DataFrame(candidates()))
    (folder / "candidates.parquet").write_bytes(b"candidate_id,customer_id\n")
    text = load_error(folder)
    assert_located(text, file="candidates.parquet", row=None, column=None,
                   expected=["cannot read Parquet"])


# --------------------------------------------------------------------------- the CLI


def break_type(folder: Path) -> None:
    edit_csv(folder / "communications.csv", 3, "priority", "high")


def break_table(folder: Path) -> None:
    (folder / "history.csv").unlink()


def break_rule_key(folder: Path) -> None:
    edit_yaml(folder, lambda doc: first_rule(doc).update(window_day=first_rule(doc).pop(
        "window_days")))


def break_yaml(folder: Path) -> None:
    with (folder / "scenario.yaml").open("a", encoding="utf-8") as handle:
        handle.write("objective: {cost_weight: [1\n")


def break_yaml_date(folder: Path) -> None:
    path = folder / "scenario.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "start: '2026-11-23'", "start: 2026-13-45"), encoding="utf-8")


def break_reference(folder: Path) -> None:
    edit_csv(folder / "candidates.csv", 2, "customer_id", "C9")


@pytest.mark.parametrize(
    "defect, shown",
    [
        (break_type, "communications.csv:3: column 'priority'"),
        (break_table, "history.csv"),
        (break_rule_key, "window_day"),
        (break_yaml, "scenario.yaml"),
        (break_yaml_date, "horizon.start"),
        (break_reference, "candidates.csv:2: column 'customer_id'"),
    ],
    ids=["type", "table", "rule-key", "yaml", "yaml-date", "reference"],
)
def test_cli_plan_exits_2_and_writes_nothing(
    tmp_path: Path, defect: Callable[[Path], None], shown: str
) -> None:
    folder = good(tmp_path / "s")
    defect(folder)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["plan", str(folder), "-o", str(out)])
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert shown in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no staging left behind


def test_cli_validate_exits_2(tmp_path: Path) -> None:
    folder = good(tmp_path / "s")
    break_type(folder)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 2
    assert "communications.csv:3: column 'priority': expected an integer" in result.output
