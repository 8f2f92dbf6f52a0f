"""Typed loading of scenario tables (CSV, Parquet or SQL) with located errors.

Every cell is read as text first and converted column by column, so that a bad
value is reported with its file, row and column instead of surfacing later as
a pandas dtype surprise. Identifiers stay strings: a CSV id `007` is `"007"`.

Row numbers: for CSV the header is row 1 and the first data row is row 2 (what
a spreadsheet shows); for Parquet and SQL the first data row is row 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from models.errors import ScenarioError
from models.sql import query_frame

ColumnType = Literal["str", "id", "bool", "int", "float", "date", "optional_date"]

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0", ""})


@dataclass(frozen=True)
class Column:
    """One expected column: its name, type, and whether the table must have it."""

    name: str
    type: ColumnType
    required: bool = True
    default: object = None


@dataclass(frozen=True)
class TableSchema:
    """The columns a table must or may have; other columns are kept as text."""

    name: str
    columns: tuple[Column, ...]
    extra_numeric: bool = False  # candidates: extra numeric columns become float metrics
    key: str | None = None  # unique identifier column
    dropped: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class RawTable:
    """A table as read: all cells text, plus where it came from for error messages."""

    frame: pd.DataFrame
    file: str
    first_row: int  # the row number of the first data row (2 for CSV, 1 otherwise)


def read_raw(folder: Path, spec: object, table: str) -> RawTable:
    """Read a table given its scenario.yaml entry (a relative path or a {sql, database} map)."""
    if isinstance(spec, dict):
        return _read_sql(folder, spec, table)
    if not isinstance(spec, str) or not spec:
        raise ScenarioError(
            f"data.{table} must be a file path or {{sql: ..., database: ...}}, got {spec!r}",
            file="scenario.yaml",
        )
    path = folder / spec
    if not path.is_file():
        raise ScenarioError(f"table '{table}' file not found: {path}", file=str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise ScenarioError(f"cannot parse CSV: {exc}", file=str(path)) from exc
        return RawTable(frame, str(path), 2)
    if suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types; all mean "not a parquet file"
            raise ScenarioError(f"cannot read Parquet: {exc}", file=str(path)) from exc
        return RawTable(_as_text(frame), str(path), 1)
    raise ScenarioError(
        f"unsupported table format '{suffix}' (expected .csv or .parquet)", file=str(path)
    )


def _read_sql(folder: Path, spec: dict[str, object], table: str) -> RawTable:
    """Run a planner's SQL query (DuckDB or PostgreSQL, see models/sql.py) and treat the
    result like a file: text cells, typed and located exactly as for CSV or Parquet."""
    label = f"scenario.yaml data.{table} (sql)"
    return RawTable(_as_text(query_frame(folder, spec, label)), label, 1)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn a typed frame (Parquet, SQL) into text cells, the common form we validate."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col):
            out[str(name)] = col.map(lambda v: "" if pd.isna(v) else ("true" if v else "false"))
        elif pd.api.types.is_datetime64_any_dtype(col):
            out[str(name)] = col.dt.strftime("%Y-%m-%d").fillna("")
        elif pd.api.types.is_float_dtype(col):
            out[str(name)] = col.map(lambda v: "" if pd.isna(v) else repr(float(v)))
        else:
            out[str(name)] = col.map(_cell_text)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.strftime("%Y-%m-%d")
    return str(value)


def typed_table(raw: RawTable, schema: TableSchema) -> pd.DataFrame:
    """Check columns and convert types; raise ScenarioError at the first bad cell."""
    frame = raw.frame
    present = set(frame.columns)
    for column in schema.columns:
        if column.required and column.name not in present:
            raise ScenarioError(
                f"missing required column (table {schema.name} needs "
                f"{', '.join(c.name for c in schema.columns if c.required)})",
                file=raw.file,
                column=column.name,
            )
    out = {}
    known = {c.name for c in schema.columns}
    for column in schema.columns:
        if column.name in present:
            out[column.name] = convert(raw, column.name, column.type, column.default)
        else:
            out[column.name] = _default_series(len(frame), column)
    for name in frame.columns:
        if name in known:
            continue
        if schema.extra_numeric and _looks_numeric(frame[name]):
            out[name] = convert(raw, name, "float")
        else:
            out[name] = frame[name].astype(str)
    result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    if schema.key is not None:
        check_unique(raw, result, schema.key)
    return result


def _default_series(length: int, column: Column) -> pd.Series:
    if column.type == "bool":
        return pd.Series(np.full(length, bool(column.default)), dtype=bool)
    if column.type == "int":
        whole = int(str(column.default or 0))
        return pd.Series(np.full(length, whole, dtype=np.int64))
    if column.type == "float":
        return pd.Series(np.full(length, float(str(column.default or 0.0)), dtype=np.float64))
    if column.type == "optional_date":
        return pd.Series([None] * length, dtype=object)
    return pd.Series([str(column.default or "")] * length, dtype=object)


def _looks_numeric(series: pd.Series) -> bool:
    nonempty = series[series.str.strip() != ""]
    if len(nonempty) == 0:
        return False
    return bool(pd.to_numeric(nonempty, errors="coerce").notna().all())


def convert(
    raw: RawTable, name: str, kind: ColumnType, default: object = None
) -> pd.Series:
    """Convert one text column to its type, naming the first cell that does not fit.

    An empty cell of an optional column with a default takes the default (an empty
    `cost` is 0, an empty `mandatory` is false), as a planner would expect.
    """
    text = raw.frame[name].astype(str).str.strip()
    if default is not None and kind in ("int", "float"):
        text = text.where(text != "", str(default))
    if kind == "str":
        return text.astype(object)
    if kind == "id":
        bad = text == ""
        _fail_at(raw, name, bad, "expected a non-empty identifier")
        return text.astype(object)
    if kind == "bool":
        lowered = text.str.lower()
        truth = lowered.isin(TRUE_WORDS)
        bad = ~(truth | lowered.isin(FALSE_WORDS))
        _fail_at(raw, name, bad, "expected a boolean (true/false, yes/no, 1/0 or empty)", text)
        return truth.astype(bool)
    if kind in ("int", "float"):
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers.astype(float))
        expected = "an integer" if kind == "int" else "a number"
        _fail_at(raw, name, bad, f"expected {expected}", text)
        if kind == "int":
            whole = numbers == np.floor(numbers)
            _fail_at(raw, name, ~whole, "expected an integer", text)
            return numbers.astype(np.int64)
        return numbers.astype(np.float64)
    if kind in ("date", "optional_date"):
        empty = text == ""
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & ~(empty & (kind == "optional_date"))
        _fail_at(raw, name, bad, "expected an ISO date YYYY-MM-DD", text)
        return pd.Series(
            [None if pd.isna(v) else v.date() for v in parsed], dtype=object, index=text.index
        )
    raise AssertionError(f"unknown column type {kind}")


def _fail_at(
    raw: RawTable, name: str, bad: pd.Series, expected: str, text: pd.Series | None = None
) -> None:
    if not bool(bad.any()):
        return
    position = int(np.flatnonzero(bad.to_numpy())[0])
    got = "" if text is None else f", got {text.iloc[position]!r}"
    count = int(bad.sum())
    more = f" ({count - 1} more rows like it)" if count > 1 else ""
    raise ScenarioError(
        f"{expected}{got}{more}", file=raw.file, row=raw.first_row + position, column=name
    )


def check_unique(raw: RawTable, frame: pd.DataFrame, key: str) -> None:
    """Identifiers must be unique: a repeated id is an error, never a silent overwrite."""
    duplicated = frame[key].duplicated(keep="first")
    if bool(duplicated.any()):
        position = int(np.flatnonzero(duplicated.to_numpy())[0])
        value = frame[key].iloc[position]
        first = int(np.flatnonzero((frame[key] == value).to_numpy())[0])
        raise ScenarioError(
            f"duplicate id {value!r} (first seen at row {raw.first_row + first})",
            file=raw.file,
            row=raw.first_row + position,
            column=key,
        )


def check_reference(
    raw: RawTable, frame: pd.DataFrame, column: str, known: Iterable[str], what: str
) -> None:
    """Every reference (customer_id, comm_id, channel) must name something that exists."""
    known_index = pd.Index(list(known))
    bad = ~frame[column].isin(known_index)
    if bool(bad.any()):
        position = int(np.flatnonzero(bad.to_numpy())[0])
        count = int(bad.sum())
        more = f" ({count - 1} more rows like it)" if count > 1 else ""
        raise ScenarioError(
            f"unknown {what} {frame[column].iloc[position]!r}{more}",
            file=raw.file,
            row=raw.first_row + position,
            column=column,
        )


def fail_row(raw: RawTable, position: int, column: str, message: str) -> ScenarioError:
    """Build a located error for a row found bad by a cross-column check."""
    return ScenarioError(message, file=raw.file, row=raw.first_row + position, column=column)
