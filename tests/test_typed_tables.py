"""Typed tables (models/tables.py): Parquet columns keep their types, CSV stays text.

One small scenario is written as CSV (tests.kit) and again as Parquet with typed columns
(int64 ids and priorities, booleans with nulls, doubles, date32 and timestamp dates), and
both must load to the same Scenario, with the same dtypes. A typed cell that does not fit
is located by row (Parquet: 1 = the first data row) and column and shown as its text;
dictionary-encoded columns split over several row groups are checked once per distinct
value but located like any other.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from models import ScenarioError, load_scenario
from models.scenario import OPEN_END
from optimiser.select import Matcher
from tests.kit import cand, comm, customer, write_scenario

DAY = dt.date(2026, 11, 23)


def rows() -> dict[str, Any]:
    """Customers 7 and 8 (integer ids in Parquet), two communications, three candidates."""
    return {
        "customers": [
            customer("7", segment="mass", score=3, vip="true"),
            customer("8", segment="premium", consent_sms="", score="", vip="false"),
        ],
        "communications": [
            comm("PROMO", priority=2, mandatory="false", cost=0.5),
            comm("BILL", priority=1, category="service", mandatory="true", cost=""),
        ],
        "candidates": [
            cand("K1", "7", "PROMO", 3.0, channels="email|sms", latest="2026-11-25", wave=1),
            cand("K2", "8", "BILL", 1.5, channels="sms", wave=2),
            cand("K3", "7", "BILL", 1.0, earliest="2026-11-24", latest="2026-11-24", wave=1),
        ],
        "history": [
            {"customer_id": "7", "comm_id": "PROMO", "channel": "email", "date": "2026-11-20"}
        ],
        "states": [
            {"customer_id": "7", "state": "complaint", "start": "2026-11-20", "end": ""},
            {"customer_id": "8", "state": "complaint", "start": "2026-11-20", "end": "2026-11-24"},
        ],
    }


def typed_tables() -> dict[str, pa.Table]:
    """The same rows as Parquet a database export would give: typed, NULL where empty."""
    return {
        "customers": pa.table(
            {
                "customer_id": pa.array([7, 8], pa.int64()),
                "consent_email": pa.array([True, True]),
                "consent_sms": pa.array([True, None]),
                "segment": pa.array(["mass", "premium"]),
                "score": pa.array([3, None], pa.int32()),
                "vip": pa.array([True, False]),
            }
        ),
        "communications": pa.table(
            {
                "comm_id": ["PROMO", "BILL"],
                "product_line": ["cards", "cards"],
                "category": ["marketing", "service"],
                "priority": pa.array([2, 1], pa.int64()),
                "mandatory": [False, True],
                "cost": pa.array([0.5, None], pa.float64()),
            }
        ),
        "candidates": pa.table(
            {
                "candidate_id": ["K1", "K2", "K3"],
                "customer_id": pa.array([7, 8, 7], pa.int64()),
                "comm_id": ["PROMO", "BILL", "BILL"],
                "channels": ["email|sms", "sms", "email"],
                "earliest": pa.array([DAY, DAY, DAY + dt.timedelta(1)], pa.date32()),
                "latest": pa.array(
                    [dt.datetime(2026, 11, 25, 9, 30), dt.datetime(2026, 11, 23),
                     dt.datetime(2026, 11, 24, 23, 59)],
                    pa.timestamp("us"),
                ),
                "value": [3.0, 1.5, 1.0],
                "wave": pa.array([1, 2, 1], pa.int16()),
            }
        ),
        "history": pa.table(
            {
                "customer_id": pa.array([7], pa.int64()),
                "comm_id": ["PROMO"],
                "channel": ["email"],
                "date": pa.array([dt.date(2026, 11, 20)], pa.date32()),
            }
        ),
        "states": pa.table(
            {
                "customer_id": pa.array([7, 8], pa.int64()),
                "state": ["complaint", "complaint"],
                "start": pa.array([dt.date(2026, 11, 20)] * 2, pa.date32()),
                "end": pa.array([None, dt.date(2026, 11, 24)], pa.date32()),
            }
        ),
    }


def csv_scenario(folder: Path) -> Path:
    return write_scenario(folder, **rows())


def parquet_scenario(folder: Path, tables: dict[str, pa.Table] | None = None,
                     row_group_size: int | None = None) -> Path:
    """The scenario with every table replaced by a Parquet file of the given tables."""
    csv_scenario(folder)
    tables = tables or typed_tables()
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet", row_group_size=row_group_size)
        (folder / f"{name}.csv").unlink()
    path = folder / "scenario.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["data"].update({name: f"{name}.parquet" for name in tables})
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder


def replace_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, values)


def load_error(folder: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    return info.value


# --------------------------------------------------------------------------- good tables


def test_typed_parquet_loads_like_csv(tmp_path: Path) -> None:
    """Same rows, typed or text: the same Scenario, column for column, dtype for dtype."""
    from_csv = load_scenario(csv_scenario(tmp_path / "csv"))
    from_parquet = load_scenario(parquet_scenario(tmp_path / "parquet"))
    for table in ("customers", "communications", "candidates", "history", "states"):
        expected = getattr(from_csv, table)
        got = getattr(from_parquet, table)[list(expected.columns)]
        pd.testing.assert_frame_equal(got, expected, obj=table)
    assert from_parquet.metrics == from_csv.metrics == ("count", "cost", "wave")


def test_loaded_dtypes(tmp_path: Path) -> None:
    scenario = load_scenario(parquet_scenario(tmp_path / "s"))
    customers, cands = scenario.customers, scenario.candidates
    assert list(customers["customer_id"]) == ["7", "8"]  # an int64 id column becomes text
    assert customers["customer_id"].dtype == "str"
    assert customers["consent_sms"].dtype == bool
    assert list(customers["consent_sms"]) == [True, False]  # NULL consent means no
    assert list(customers["score"]) == ["3", ""]  # an attribute stays text, NULL empty
    assert list(customers["vip"]) == ["true", "false"]
    comms = scenario.communications.set_index("comm_id")
    assert comms["priority"].dtype == "int64" and comms.loc["BILL", "cost"] == 0.0
    assert cands["value"].dtype == "float64" and cands["wave"].dtype == "float64"
    assert cands["earliest"].dtype == pd.ArrowDtype(pa.date32())
    # a timestamp is its date, whatever the time of day
    assert list(cands["latest"]) == [dt.date(2026, 11, 25), DAY, dt.date(2026, 11, 24)]
    assert str(cands["latest"].iloc[0]) == "2026-11-25"  # what explain and audit print
    assert list(cands["earliest_day"]) == [0, 0, 1] and list(cands["latest_day"]) == [2, 0, 1]
    assert list(scenario.history["day"]) == [-3]
    states = scenario.states
    assert states["end"].isna().tolist() == [True, False]  # empty end: open-ended
    assert list(states["end_day"]) == [OPEN_END, 1]


def test_csv_cells_are_parsed_as_text(tmp_path: Path) -> None:
    """A CSV is text: padding is trimmed, booleans are words, dates are ISO text."""
    data = rows()
    data["communications"][0].update(priority=" 2 ", mandatory="No")
    data["communications"][1].update(mandatory=" YES")
    data["candidates"][0].update(customer_id=" 7", latest="2026-11-25 ")
    data["candidates"][1].update(candidate_id="K2\t")
    scenario = load_scenario(write_scenario(tmp_path / "s", **data))
    comms = scenario.communications
    assert list(comms["priority"]) == [2, 1] and list(comms["mandatory"]) == [False, True]
    assert scenario.candidates["customer_id"].iloc[0] == "7"
    assert list(scenario.candidates["candidate_id"]) == ["K1", "K2", "K3"]
    assert scenario.candidates["latest"].iloc[0] == dt.date(2026, 11, 25)


def test_dictionary_row_groups_are_trimmed_per_value(tmp_path: Path) -> None:
    """Dictionary-encoded string columns over several row groups read as plain text."""
    tables = typed_tables()
    tables["candidates"] = replace_column(
        tables["candidates"], "comm_id", pa.array([" PROMO", "BILL\u00a0", "BILL"])
    )
    scenario = load_scenario(parquet_scenario(tmp_path / "s", tables, row_group_size=1))
    assert list(scenario.candidates["comm_id"]) == ["PROMO", "BILL", "BILL"]
    assert scenario.candidates["comm_id"].dtype == "str"


def test_a_pandas_index_is_not_a_column(tmp_path: Path) -> None:
    """pandas stores a frame's own index as a column; pandas reads it back as the index."""
    folder = parquet_scenario(tmp_path / "s")
    frame = pd.read_parquet(folder / "candidates.parquet")
    frame.index = pd.Index([10, 20, 30])
    frame.to_parquet(folder / "candidates.parquet")
    assert "__index_level_0__" in pq.read_schema(folder / "candidates.parquet").names
    scenario = load_scenario(folder)
    assert "__index_level_0__" not in scenario.candidates.columns
    assert scenario.metrics == ("count", "cost", "wave")


# --------------------------------------------------------------------------- bad typed cells


@pytest.mark.parametrize(
    "table, column, values, row, expected",
    [
        ("candidates", "value", pa.array([3.0, None, 1.0]), 2, "expected a number, got ''"),
        ("candidates", "value", pa.array([3.0, 1.0, float("inf")]), 3,
         "expected a number, got 'inf'"),
        ("communications", "priority", pa.array([2.0, 1.5]), 2, "expected an integer, got '1.5'"),
        ("communications", "priority", pa.array([True, False]), 1,
         "expected an integer, got 'true' (1 more rows like it)"),
        ("communications", "mandatory", pa.array([0, 2], pa.int8()), 2,
         "expected a boolean (true/false, yes/no, 1/0 or empty), got '2'"),
        ("candidates", "earliest", pa.array([DAY, None, None], pa.date32()), 2,
         "expected an ISO date YYYY-MM-DD, got '' (1 more rows like it)"),
        ("candidates", "earliest", pa.array([20261123] * 3, pa.int32()), 1,
         "expected an ISO date YYYY-MM-DD, got '20261123' (2 more rows like it)"),
        ("candidates", "candidate_id", pa.array([1, None, 3], pa.int64()), 2,
         "expected a non-empty identifier"),
    ],
)
def test_bad_typed_cell_is_located(
    tmp_path: Path, table: str, column: str, values: pa.Array, row: int, expected: str
) -> None:
    tables = typed_tables()
    tables[table] = replace_column(tables[table], column, values)
    error = load_error(parquet_scenario(tmp_path / "s", tables))
    assert (error.file, error.row, error.column) == (
        str(tmp_path / "s" / f"{table}.parquet"), row, column)
    assert error.message == expected


def test_bad_value_in_a_later_row_group_is_located(tmp_path: Path) -> None:
    """Checked per distinct value of dictionary chunks, reported at the right row."""
    tables = typed_tables()
    tables["candidates"] = replace_column(
        tables["candidates"], "channels", pa.array(["email", "sms", "sms|fax"])
    )
    error = load_error(parquet_scenario(tmp_path / "s", tables, row_group_size=1))
    assert (error.row, error.column) == (3, "channels")
    assert error.message.startswith("unknown channel 'fax'")


def test_text_dates_in_parquet_are_located(tmp_path: Path) -> None:
    tables = typed_tables()
    tables["history"] = replace_column(tables["history"], "date", pa.array(["2026-02-30"]))
    error = load_error(parquet_scenario(tmp_path / "s", tables, row_group_size=1))
    assert (error.row, error.column) == (1, "date")
    assert error.message == "expected an ISO date YYYY-MM-DD, got '2026-02-30'"


def test_duplicate_int_id_names_its_first_row(tmp_path: Path) -> None:
    tables = typed_tables()
    tables["customers"] = replace_column(
        tables["customers"], "customer_id", pa.array([7, 7], pa.int64())
    )
    error = load_error(parquet_scenario(tmp_path / "s", tables, row_group_size=1))
    assert (error.row, error.column) == (2, "customer_id")
    assert error.message == "duplicate id '7' (first seen at row 1)"


def test_typed_customer_attributes_match_rule_selections(tmp_path: Path) -> None:
    """A boolean or integer attribute column reads as text that selections still match."""
    scenario = load_scenario(parquet_scenario(tmp_path / "s"))
    matcher = Matcher(scenario)
    assert list(matcher.customer_mask((("vip", (True,)),))) == [True, False]
    assert list(matcher.customer_mask((("score", (3,)),))) == [True, False]
    assert list(matcher.customer_mask((("segment", ("premium",)),))) == [False, True]
