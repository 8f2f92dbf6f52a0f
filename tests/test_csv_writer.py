"""The plan's CSV files are the bytes pandas' `to_csv` would write (optimiser.csv_writer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from optimiser.csv_writer import write_csv

TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\té-') + ["€"]), max_size=6)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [0.1 + 0.2, 1e-5, 1e16, -0.0, 40.0, 3.34])


def _pandas_bytes(frame: pd.DataFrame, folder: Path) -> bytes:
    path = folder / "pandas.csv"
    frame.to_csv(path, index=False)
    return path.read_bytes()


def _ours(frame: pd.DataFrame, folder: Path) -> bytes:
    path = folder / "ours.csv"
    write_csv(frame, path)
    return path.read_bytes()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(TEXT, st.none() | TEXT, st.integers(-10**12, 10**12), FLOATS,
                          st.booleans()), max_size=12))
def test_mixed_columns_match_pandas(tmp_path_factory, rows) -> None:
    folder = tmp_path_factory.mktemp("csv")
    frame = pd.DataFrame(rows, columns=["text", "maybe, text", "int", "float", "flag"])
    frame["text"] = frame["text"].astype(object)
    frame["maybe, text"] = frame["maybe, text"].astype("string")
    frame["int"] = frame["int"].astype(np.int64)
    frame["float"] = frame["float"].astype(float)
    frame["flag"] = frame["flag"].astype(bool)
    assert _ours(frame, folder) == _pandas_bytes(frame, folder)


def test_empty_frame_and_single_column_match_pandas(tmp_path: Path) -> None:
    empty = pd.DataFrame({"a": pd.Series([], dtype=object), "b": pd.Series([], dtype=float)})
    assert _ours(empty, tmp_path) == _pandas_bytes(empty, tmp_path) == b"a,b\n"
    single = pd.DataFrame({"a": ["", "x"]})  # pandas quotes a lone empty field: ""
    assert _ours(single, tmp_path) == _pandas_bytes(single, tmp_path)


def test_non_string_objects_fall_back_to_pandas(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, "x", 2.5], "b": ["p", "q", "r"]})
    assert _ours(frame, tmp_path) == _pandas_bytes(frame, tmp_path)


def test_rows_beyond_one_chunk(tmp_path: Path, monkeypatch) -> None:
    import optimiser.csv_writer as writer

    monkeypatch.setattr(writer, "CHUNK_ROWS", 3)
    frame = pd.DataFrame({"a": [f"v,{i}" for i in range(10)], "b": np.arange(10.0)})
    assert _ours(frame, tmp_path) == _pandas_bytes(frame, tmp_path)
