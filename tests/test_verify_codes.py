"""The verifier's working form (optimiser/verify_codes.py): text to codes, windows, events.

Each helper gets tiny inputs whose answer is known by hand, in every text dtype a loader
may hand over (object, pandas str, Arrow), and with the nulls and odd cells a plan file
may hold.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from models import Scenario, load_scenario
from optimiser.verify import channel_weights, verify_plan
from optimiser.verify_codes import (
    Events,
    PlanRows,
    ScenarioCodes,
    Sends,
    count_within,
    day_offsets,
    distinct_codes,
    numbers_of,
    positions_in,
    read_text_csv,
    text_of,
    vocabulary,
)
from tests.test_verify import correct_plan, move, write_plan, write_scenario

TEXT_DTYPES = [
    object,
    "string[python]",
    pd.ArrowDtype(pa.string()),
    pd.ArrowDtype(pa.large_string()),
]


@pytest.mark.parametrize("dtype", TEXT_DTYPES, ids=str)
def test_text_of_any_dtype(dtype: object) -> None:
    column = pd.Series(["a", None, "c"], dtype=dtype)  # type: ignore[call-overload]
    assert text_of(column).to_pylist() == ["a", None, "c"]


def test_positions_in_plain_and_dictionary_columns() -> None:
    within = vocabulary(["x", "y", "z"])
    plain = pa.chunked_array([["z", "q"], [None, "x"]])
    assert positions_in(plain, within).tolist() == [2, -1, -1, 0]
    encoded = pa.chunked_array(
        [pa.array(["y", None, "w"]).dictionary_encode(), pa.array(["x"]).dictionary_encode()]
    )
    assert positions_in(encoded, within).tolist() == [1, -1, -1, 0]
    assert positions_in(pd.Series([], dtype=object), within).tolist() == []


def test_distinct_codes_count_a_null_as_empty() -> None:
    codes, texts = distinct_codes(pd.Series(["b", None, "a", "b", ""], dtype=object))
    assert [texts[c] for c in codes] == ["b", "", "a", "b", ""]
    assert sorted(texts) == ["", "a", "b"]


def test_numbers_of_follows_to_numeric() -> None:
    cells = pa.chunked_array([["2", "2.0", "", "x", "1e3", " 3"]])
    got = numbers_of(cells)
    assert got[:2].tolist() == [2.0, 2.0] and got[4] == 1000.0
    assert np.isnan(got[2]) and np.isnan(got[3])
    want = pd.to_numeric(pd.Series([" 3"], dtype=object), errors="coerce").iloc[0]
    assert got[5] == want or (np.isnan(got[5]) and np.isnan(want))


def test_day_offsets_of_iso_dates() -> None:
    cells = pa.chunked_array([["2026-11-24", "2026-11-20", "2026-13-01", "tomorrow", ""]])
    got = day_offsets(cells, dt.date(2026, 11, 23))
    assert got[:2].tolist() == [1.0, -3.0]
    assert np.isnan(got[2:]).all()


def test_count_within_sorted_references() -> None:
    group = np.array([0, 0, 0, 1, 1])
    day = np.array([-3, 1, 4, 0, 0])
    counts = count_within(
        group,
        day,
        np.array([0, 0, 1, 1, 2]),
        np.array([-3, 2, 0, 1, 0]),
        np.array([1, 1, 0, 5, 9]),
    )
    assert counts.tolist() == [2, 0, 2, 0, 0]  # [2, 1] is empty; group 2 has no events


def test_count_within_nothing_to_count() -> None:
    none = np.zeros(0, dtype=np.int64)
    assert count_within(none, none, np.array([0]), np.array([0]), np.array([9])).tolist() == [0]


# --------------------------------------------------------------------------- on a scenario


@pytest.fixture()
def scenario(tmp_path: Path) -> Scenario:
    return load_scenario(write_scenario(tmp_path / "scenario"))


def test_events_are_sends_and_history_by_customer_and_day(
    scenario: Scenario, tmp_path: Path
) -> None:
    codes = ScenarioCodes.build(scenario)
    folder = write_plan(tmp_path / "plan", correct_plan())
    calendar = read_text_csv(
        folder / "calendar.csv", ["date", "channel", "candidate_id"], frozenset()
    )
    suppressed = read_text_csv(folder / "suppressed.csv", ["candidate_id"], frozenset())
    rows = PlanRows.build(codes, calendar, suppressed)
    sends = Sends.build(codes, rows)
    events = Events.build(codes, sends)
    ids = codes.candidate_ids.to_pylist()
    described = [
        (
            codes.customer_ids[c].as_py(),
            int(d),
            ids[k] if planned else "history",
        )
        for c, d, k, planned in zip(
            events.customer, events.day, events.candidate, events.planned, strict=True
        )
    ]
    # calendar order is K1, K9 (11-23), K2 (11-24), K3 (11-27); history: C1 TIPS on 11-20
    assert described == [
        ("C1", -3, "history"),
        ("C1", 0, "K1"),
        ("C1", 1, "K2"),
        ("C1", 4, "K3"),
        ("C2", 0, "K9"),
    ]
    assert events.origin.tolist() == [4, 0, 2, 3, 1]
    assert events.customer_slice(codes.customer_codes(pd.Series(["C2"]))[0]) == slice(4, 5)


def test_channel_weights_of_a_frame(scenario: Scenario) -> None:
    """C1 prefers sms|email (weights 1.0, 0.8; others 0.5); C2 lists nothing; C9 is unknown."""
    sends = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C1", "C2", "C9", "C1"],
            "channel": ["sms", "email", "call", "email", "sms", "fax"],
        }
    )
    assert channel_weights(scenario, sends).tolist() == [1.0, 0.8, 0.5, 1.0, 1.0, 0.5]
    repeated = scenario.customers.assign(
        preferred_channels=["email|sms|email", "", ""]
    )  # a repeated channel keeps its best rank
    weights = channel_weights(replace(scenario, customers=repeated), sends)
    assert weights.tolist()[:3] == [0.8, 1.0, 0.5]


@pytest.mark.parametrize("dtype", TEXT_DTYPES[1:], ids=str)
def test_verdicts_do_not_depend_on_the_text_dtype(
    scenario: Scenario, tmp_path: Path, dtype: object
) -> None:
    """A loader may hand over text columns as object, pandas string or Arrow dtype."""
    plan = correct_plan()
    move(plan, "K3", "2026-11-26", "email")  # frequency cap, with history
    move(plan, "K9", "2026-11-28", "email")  # state exclusion
    move(plan, "K6", "2026-11-29", "sms")  # never_together, dedup
    plan["suppressed"][0]["reason"] = "bored"
    folder = write_plan(tmp_path / "plan", plan)
    expected = verify_plan(scenario, folder)
    assert len(expected) > 4
    assert verify_plan(_with_text_dtype(scenario, dtype), folder) == expected


def _with_text_dtype(scenario: Scenario, dtype: object) -> Scenario:
    tables = {}
    for name in ("customers", "communications", "candidates", "history", "states"):
        frame = copy.copy(getattr(scenario, name))
        for column in frame.columns:
            if pd.api.types.is_string_dtype(frame[column]):  # object text included
                frame[column] = frame[column].astype(dtype)  # type: ignore[call-overload]
        tables[name] = frame
    return replace(scenario, **tables)
