"""Typed loading of scenario tables (CSV, Parquet or SQL) with located errors.

Every table is read as Arrow columns (models/sql.py gives a SQL result the same way) and
converted column by column to the type its schema names, so that a bad value is reported
with its file, row and column instead of surfacing later as a pandas dtype surprise.

Raw columns come in two kinds; either gives the same result:
- text (every CSV cell; string columns of Parquet or SQL) is parsed as a planner typed it:
  ` 12 ` in a priority column is 12, `yes` in a boolean column is true;
- typed (numbers, booleans, dates of Parquet or SQL) is kept as it is when it fits the
  schema type, and otherwise read as the text a CSV would hold for it, so a boolean column
  where a number is expected says `got 'true'`.

Checks are vectorised and cost nothing on good data: only once a check fails is its first
bad cell looked for. Columns whose values repeat (dates, booleans as text, and the
dictionary-encoded columns of a Parquet file) are parsed once per distinct value.

What comes out, whatever the source: ids and text as pandas' Arrow-backed `str` (a few
bytes a cell, not a Python object each); bool; int64; float64; dates as `date32[pyarrow]`
(a cell is a datetime.date, which prints as ISO YYYY-MM-DD; a missing optional date is NA).

Identifiers stay strings: a CSV id `007` is `"007"`, and an integer id column of Parquet
or SQL becomes its decimal text. Ids are labels that join tables read from different
sources (a Parquet candidates file names the customers of a CSV file), so they must be
the same text whatever column type held them.

Row numbers: for CSV the header is row 1 and the first data row is row 2 (what a
spreadsheet shows); for Parquet and SQL the first data row is row 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from models.errors import ScenarioError
from models.sql import query_table

ColumnType = Literal["str", "id", "bool", "int", "float", "date", "optional_date"]

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0", ""})
DATE_DTYPE = pd.ArrowDtype(pa.date32())
ISO_DATE = "expected an ISO date YYYY-MM-DD"


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
    """A table as read (Arrow columns, text or typed), and where it came from for errors.

    `typed_table` takes the columns out as it converts them, so that a table of millions of
    rows is never held twice; `file` and `first_row` stay to locate later checks.
    """

    columns: dict[str, pa.ChunkedArray]
    rows: int
    file: str
    first_row: int  # the row number of the first data row (2 for CSV, 1 otherwise)


def read_raw(folder: Path, spec: object, table: str) -> RawTable:
    """Read a table given its scenario.yaml entry (a relative path or a {sql, database} map)."""
    if isinstance(spec, dict):
        label = f"scenario.yaml data.{table} (sql)"
        return _raw(query_table(folder, spec, label), label, 1)
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
        return _raw(_read_csv(path), str(path), 2)
    if suffix in (".parquet", ".pq"):
        return _raw(_read_parquet(path), str(path), 1)
    raise ScenarioError(
        f"unsupported table format '{suffix}' (expected .csv or .parquet)", file=str(path)
    )


def _raw(table: pa.Table, file: str, first_row: int) -> RawTable:
    columns = {str(name): table.column(i) for i, name in enumerate(table.column_names)}
    return RawTable(columns, table.num_rows, file, first_row)


def _read_csv(path: Path) -> pa.Table:
    """Every cell as text, empty cells empty (never NaN): a CSV has no types to keep."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ScenarioError(f"cannot parse CSV: {exc}", file=str(path)) from exc
    text = pa.schema([(str(name), pa.large_string()) for name in frame.columns])
    return pa.Table.from_pandas(frame, schema=text, preserve_index=False)


def _read_parquet(path: Path) -> pa.Table:
    """The file's columns as stored; string columns the file dictionary-encodes stay encoded
    (a comm id or a date is then a small integer a row, and is checked once per value)."""
    try:
        metadata = pq.read_metadata(path)
        table = pq.read_table(path, read_dictionary=_dictionary_columns(metadata))
    except Exception as exc:  # pyarrow raises many types; all mean "not a parquet file"
        raise ScenarioError(f"cannot read Parquet: {exc}", file=str(path)) from exc
    # a file pandas wrote with its index holds the index as columns: not data
    index = (table.schema.pandas_metadata or {}).get("index_columns", [])
    return table.drop_columns([name for name in index if isinstance(name, str)])


def _dictionary_columns(metadata: pq.FileMetaData) -> list[str]:
    """Top-level string columns with a dictionary in every row group."""
    schema = metadata.schema.to_arrow_schema()
    encoded = {field.name for field in schema if _is_text(field.type)}
    for group in range(metadata.num_row_groups):
        chunks = metadata.row_group(group)
        for index in range(chunks.num_columns):
            chunk = chunks.column(index)
            if not chunk.has_dictionary_page:
                encoded.discard(chunk.path_in_schema)
    return sorted(encoded)


def typed_table(raw: RawTable, schema: TableSchema) -> pd.DataFrame:
    """Check columns and convert types; raise ScenarioError at the first bad cell."""
    for column in schema.columns:
        if column.required and column.name not in raw.columns:
            raise ScenarioError(
                f"missing required column (table {schema.name} needs "
                f"{', '.join(c.name for c in schema.columns if c.required)})",
                file=raw.file,
                column=column.name,
            )
    known = {c.name for c in schema.columns}
    extra = [name for name in raw.columns if name not in known]
    out = {}
    for column in schema.columns:  # each raw column is released as soon as it is converted
        out[column.name] = (
            convert(raw, column.name, raw.columns.pop(column.name), column.type, column.default)
            if column.name in raw.columns
            else _default_series(raw.rows, column)
        )
    for name in extra:
        out[name] = _extra_column(raw, name, raw.columns.pop(name), schema.extra_numeric)
    result = pd.DataFrame(out, index=pd.RangeIndex(raw.rows), copy=False)
    if schema.key is not None:
        check_unique(raw, result, schema.key)
    return result


def _default_series(length: int, column: Column) -> pd.Series:
    if column.type == "bool":
        return pd.Series(np.full(length, bool(column.default)), copy=False)
    if column.type == "int":
        whole = int(str(column.default or 0))
        return pd.Series(np.full(length, whole, dtype=np.int64), copy=False)
    if column.type == "float":
        return pd.Series(
            np.full(length, float(str(column.default or 0.0)), dtype=np.float64), copy=False
        )
    if column.type == "optional_date":
        return _date_series(pa.nulls(length, pa.date32()))
    return _str_series(pa.repeat(pa.scalar(str(column.default or "")), length))


def _extra_column(raw: RawTable, name: str, cells: pa.ChunkedArray, metrics: bool) -> pd.Series:
    """A column the schema does not name: a float metric when the table takes metrics and
    every non-empty cell is a number, else text as written (a customer attribute is matched
    by rules as the planner wrote it)."""
    if metrics and _looks_numeric(cells):
        return convert(raw, name, cells, "float")
    return _str_series(_text(cells if _is_text(cells.type) else _typed_text(cells), strip=False))


def _looks_numeric(cells: pa.ChunkedArray) -> bool:
    if not _is_text(cells.type):
        return _is_number(cells.type) and not bool(np.isnan(_floats(cells)).all())
    _, values = _distinct(cells)
    words = _clean(values, strip=True)
    nonempty = _str_series(words.filter(pc.not_equal(words, "")))
    if len(nonempty) == 0:
        return False
    return bool(pd.to_numeric(nonempty, errors="coerce").notna().all())


def convert(
    raw: RawTable, name: str, cells: pa.ChunkedArray, kind: ColumnType, default: object = None
) -> pd.Series:
    """Convert one column to its type, naming the first cell that does not fit.

    A typed column that fits the type is kept as it is; any other is read as text. An
    empty cell of an optional column with a default takes the default (an empty `cost`
    is 0, an empty `mandatory` is false), as a planner would expect.
    """
    if not _is_text(cells.type):
        typed = _from_typed(raw, name, cells, kind, default)
        if typed is not None:
            return typed
        cells = _typed_text(cells)
    if kind in ("str", "id"):
        text = _text(cells, strip=True)
        if kind == "id":
            empty = pc.equal(pc.binary_length(text), 0).to_numpy()
            _fail_at(raw, name, empty, "expected a non-empty identifier")
        return _str_series(text)
    if kind == "bool":
        return _text_bool(raw, name, cells)
    if kind in ("int", "float"):
        return _text_number(raw, name, cells, kind, default)
    if kind in ("date", "optional_date"):
        return _text_date(raw, name, cells, optional=kind == "optional_date")
    raise AssertionError(f"unknown column type {kind}")


def _from_typed(
    raw: RawTable, name: str, cells: pa.ChunkedArray, kind: ColumnType, default: object
) -> pd.Series | None:
    """A typed column of the right kind, checked; None when its type does not fit the kind."""
    if kind == "bool" and pa.types.is_boolean(cells.type):
        # a missing boolean is false, as an empty CSV cell is
        return pd.Series(pc.fill_null(cells, False).to_numpy(), copy=False)
    if kind in ("int", "float") and _is_number(cells.type):
        return _typed_number(raw, name, cells, kind, default)
    if kind in ("date", "optional_date") and _is_temporal(cells.type):
        dates = _as_dates(cells)
        if kind == "date":
            _fail_at(raw, name, dates.is_null().to_numpy(), ISO_DATE, cells)
        return _date_series(dates)
    return None


def _typed_number(
    raw: RawTable, name: str, cells: pa.ChunkedArray, kind: ColumnType, default: object
) -> pd.Series:
    expected = "an integer" if kind == "int" else "a number"
    if kind == "int" and pa.types.is_integer(cells.type):
        if default is not None:
            cells = pc.fill_null(cells, int(str(default)))
        _fail_at(raw, name, cells.is_null().to_numpy(), f"expected {expected}", cells)
        return pd.Series(pc.cast(cells, pa.int64()).to_numpy(), copy=False)
    numbers = _floats(cells)  # a missing cell (null, or NaN) is NaN: an empty cell
    if default is not None:
        numbers = np.where(np.isnan(numbers), float(str(default)), numbers)
    _fail_at(raw, name, ~np.isfinite(numbers), f"expected {expected}", cells)
    if kind == "int":
        _fail_at(raw, name, numbers != np.floor(numbers), "expected an integer", cells)
        return pd.Series(numbers.astype(np.int64), copy=False)
    return pd.Series(numbers, copy=False)


def _text_bool(raw: RawTable, name: str, cells: pa.ChunkedArray) -> pd.Series:
    codes, values = _distinct(cells)
    text = _clean(values, strip=True)
    words = pc.utf8_lower(text)
    truth = pc.is_in(words, value_set=pa.array(sorted(TRUE_WORDS))).to_numpy(zero_copy_only=False)
    known = truth | pc.is_in(words, value_set=pa.array(sorted(FALSE_WORDS))).to_numpy(
        zero_copy_only=False
    )
    expected = "expected a boolean (true/false, yes/no, 1/0 or empty)"
    _fail_distinct(raw, name, codes, ~known, expected, text)
    return pd.Series(truth[codes], copy=False)


def _text_number(
    raw: RawTable, name: str, cells: pa.ChunkedArray, kind: ColumnType, default: object
) -> pd.Series:
    stripped = _text(cells, strip=True)
    text = _str_series(stripped)
    if default is not None:
        text = text.where(text != "", str(default))
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.astype(float))
    expected = "an integer" if kind == "int" else "a number"
    _fail_at(raw, name, bad.to_numpy(), f"expected {expected}", stripped)
    if kind == "int":
        whole = numbers == np.floor(numbers)
        _fail_at(raw, name, ~whole.to_numpy(), "expected an integer", stripped)
        return numbers.astype(np.int64)
    return numbers.astype(np.float64)


def _text_date(raw: RawTable, name: str, cells: pa.ChunkedArray, optional: bool) -> pd.Series:
    """ISO dates, parsed once per distinct text; an empty cell is NA when the date is optional."""
    codes, values = _distinct(cells)
    text = _clean(values, strip=True)
    parsed = pd.to_datetime(_str_series(text), format="%Y-%m-%d", errors="coerce")
    missing = parsed.isna().to_numpy()
    empty = pc.equal(text, "").to_numpy(zero_copy_only=False)
    _fail_distinct(raw, name, codes, missing & ~(empty & optional), ISO_DATE, text)
    dates = pc.cast(pa.array(parsed, from_pandas=True), pa.date32())
    return _date_series(pc.take(dates, pa.array(codes)))


def _fail_at(
    raw: RawTable,
    name: str,
    bad: np.ndarray,
    expected: str,
    cells: pa.Array | pa.ChunkedArray | None = None,
) -> None:
    """Raise at the first row where `bad` holds, showing its cell (as text) when given."""
    if not bool(bad.any()):
        return
    position = int(np.flatnonzero(bad)[0])
    got = "" if cells is None else f", got {_cell_text(cells[position].as_py())!r}"
    count = int(bad.sum())
    more = f" ({count - 1} more rows like it)" if count > 1 else ""
    raise ScenarioError(
        f"{expected}{got}{more}", file=raw.file, row=raw.first_row + position, column=name
    )


def _fail_distinct(
    raw: RawTable, name: str, codes: np.ndarray, bad: np.ndarray, expected: str, values: pa.Array
) -> None:
    """_fail_at for a check made once per distinct value: rows are looked at only on failure."""
    if bool(bad.any()):
        cells = pa.DictionaryArray.from_arrays(pa.array(codes), values)
        _fail_at(raw, name, bad[codes], expected, cells)


# --------------------------------------------------------------------------- Arrow helpers


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_number(kind: pa.DataType) -> bool:
    # uint64 may not fit int64: it is read as text, as a CSV cell would be
    return (
        pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or (pa.types.is_integer(kind) and kind != pa.uint64())
    )


def _is_temporal(kind: pa.DataType) -> bool:
    return pa.types.is_date(kind) or pa.types.is_timestamp(kind)


def _floats(cells: pa.ChunkedArray) -> np.ndarray:
    """Numbers as float64, null as NaN."""
    return pc.cast(cells, pa.float64()).to_numpy()


def _as_dates(cells: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dates, or timestamps as the date on their own clock (a time zone's local date)."""
    if pa.types.is_timestamp(cells.type) and cells.type.tz is not None:
        cells = pc.local_timestamp(cells)
    return pc.cast(cells, pa.date32())


def _distinct(cells: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Each row's index into the column's distinct values, and the values (a null cell
    indexes a trailing null), so that a check or a parse runs once per distinct value."""
    encoded = cells if pa.types.is_dictionary(cells.type) else pc.dictionary_encode(cells)
    combined = encoded.unify_dictionaries().combine_chunks()
    indices, values = combined.indices, combined.dictionary
    if indices.null_count:
        indices = pc.fill_null(indices, len(values))
        values = pa.concat_arrays([values, pa.nulls(1, values.type)])
    return indices.to_numpy(), values


def _text(cells: pa.ChunkedArray, *, strip: bool) -> pa.ChunkedArray:
    """Text cells as plain strings, a missing one empty, trimmed of spaces if asked. A
    dictionary column is trimmed once per distinct value of each chunk, then expanded."""
    if not pa.types.is_dictionary(cells.type):
        return _clean(cells, strip=strip)
    chunks = [
        pa.DictionaryArray.from_arrays(chunk.indices, _clean(chunk.dictionary, strip=strip))
        for chunk in cells.chunks
    ]
    return _clean(pa.chunked_array(chunks, type=cells.type).cast(pa.large_string()), strip=False)


def _clean(values: pa.Array | pa.ChunkedArray, *, strip: bool) -> pa.Array | pa.ChunkedArray:
    filled = pc.fill_null(values, "") if values.null_count else values
    return pc.utf8_trim_whitespace(filled) if strip and _may_have_padding(filled) else filled


# Bytes that may start or end a whitespace character: ASCII spaces and separators, and any
# byte of a multi-byte UTF-8 character (U+00A0 and other Unicode spaces).
_MAY_BE_SPACE = np.zeros(256, dtype=bool)
_MAY_BE_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_MAY_BE_SPACE[128:] = True


def _may_have_padding(text: pa.Array | pa.ChunkedArray) -> bool:
    """Whether trimming could change a cell, from each cell's first and last byte: ids
    rarely have padding, and trimming copies a whole column (15M ids: a quarter GB)."""
    for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
        if not len(chunk):
            continue
        offsets, data = _string_buffers(chunk)
        starts, ends = offsets[:-1], offsets[1:]
        filled = ends > starts
        if _MAY_BE_SPACE[data[starts[filled]]].any() or _MAY_BE_SPACE[data[ends[filled] - 1]].any():
            return True
    return False


def _typed_text(cells: pa.ChunkedArray) -> pa.ChunkedArray:
    """Typed cells as the text a CSV would hold for them (42, 1.5, true, 2026-11-23; a missing
    cell empty), formatted once per distinct value."""
    if pa.types.is_integer(cells.type):
        return pc.fill_null(pc.cast(cells, pa.string()), "")
    try:
        codes, values = _distinct(cells)
    except pa.ArrowNotImplementedError:  # lists, structs: no hashing kernel, rare enough
        return pa.chunked_array([pa.array([_cell_text(v) for v in cells.to_pylist()], pa.string())])
    words = pa.array([_cell_text(v) for v in values.to_pylist()], pa.string())
    return pa.chunked_array([pc.take(words, pa.array(codes))])


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date):  # a datetime too: its date, as a CSV export writes it
        return value.strftime("%Y-%m-%d")
    return str(value)


def _str_series(text: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.array(text, dtype="str"))


def _date_series(dates: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(dates))


def arrow_column(column: pd.Series) -> pa.ChunkedArray:
    """A pandas column as Arrow, without copying an Arrow-backed one."""
    array = pa.array(column)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


# --------------------------------------------------------------------------- table checks


def check_unique(raw: RawTable, frame: pd.DataFrame, key: str) -> None:
    """Identifiers must be unique: a repeated id is an error, never a silent overwrite."""
    if _surely_distinct(arrow_column(frame[key])):
        return
    duplicated = frame[key].duplicated(keep="first")
    if not bool(duplicated.any()):
        return  # two ids shared a hash
    position = int(np.flatnonzero(duplicated.to_numpy())[0])
    value = frame[key].iloc[position]
    first = int(np.flatnonzero((frame[key] == value).to_numpy())[0])
    raise ScenarioError(
        f"duplicate id {value!r} (first seen at row {raw.first_row + first})",
        file=raw.file,
        row=raw.first_row + position,
        column=key,
    )


def _surely_distinct(ids: pa.ChunkedArray) -> bool:
    """True when the ids' 64-bit hashes all differ, which proves the ids do: a sort of 15M
    hashes takes a fraction of a second where hashing the strings into a table takes
    seconds. A shared hash (a repeat, or about one chance in 10^5 at 15M ids a collision)
    sends the caller to the exact check."""
    hashes = np.empty(len(ids), dtype=np.uint64)
    start = 0
    for chunk in (chunk for chunk in ids.chunks if len(chunk)):
        _fnv1a(*_string_buffers(chunk), hashes[start : start + len(chunk)])
        start += len(chunk)
    hashes.sort()
    return not bool((hashes[1:] == hashes[:-1]).any())


def _string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets and bytes of an Arrow string array without nulls, as numpy views."""
    _, offsets, data = chunk.buffers()
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    starts = np.frombuffer(offsets, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
    text = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return starts, text


@numba.njit(cache=True)
def _fnv1a(offsets: np.ndarray, data: np.ndarray, out: np.ndarray) -> None:
    """Write the 64-bit FNV-1a hash of each string to `out` (arithmetic wraps modulo 2^64,
    as the hash wants)."""
    for row in range(len(out)):
        value = np.uint64(14695981039346656037)
        for at in range(offsets[row], offsets[row + 1]):
            value = (value ^ np.uint64(data[at])) * np.uint64(1099511628211)
        out[row] = value


def check_reference(
    raw: RawTable, frame: pd.DataFrame, column: str, known: Iterable[str], what: str
) -> None:
    """Every reference (customer_id, comm_id, channel) must name something that exists."""
    names = known if isinstance(known, pd.Series) else pd.Series(list(known), dtype="str")
    found = pc.is_in(arrow_column(frame[column]), value_set=arrow_column(names).combine_chunks())
    bad = ~found.to_numpy()
    if bool(bad.any()):
        position = int(np.flatnonzero(bad)[0])
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
