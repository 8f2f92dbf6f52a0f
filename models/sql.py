"""Scenario tables from a SQL query: DuckDB (embedded, the default) or PostgreSQL.

A `data:` entry `{sql: "select ...", database: ...}` names where the query runs:
- a DuckDB file, relative to the scenario folder (`plan.duckdb`, or the URL form
  `duckdb:///plan.duckdb`; `duckdb:////abs/plan.duckdb` is absolute), opened read-only;
- `:memory:` (the default): an empty DuckDB whose functions still read files, e.g.
  `select * from read_csv('candidates.csv')`, relative to the scenario folder;
- `postgresql://user:pass@host:port/db`, read (read-only) through psycopg 3.

The result comes back as an Arrow table, typed as the database gives it; tables.py types
it exactly as it types a file, so a bad cell is reported by row (1 = first result row)
and column. Passwords never appear in an error: URLs are shown masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import pyarrow as pa

from models.errors import ScenarioError

SQL_KEYS = frozenset({"sql", "database"})
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
EXPECTED_DATABASE = (
    "a DuckDB file path, duckdb:///path, :memory: or postgresql://user:pass@host:port/db"
)
INSTALL_HINT = "pip install 'contact-plan[sql]'"
CONNECT_TIMEOUT_S = 10


def query_table(folder: Path, spec: Mapping[str, object], label: str) -> pa.Table:
    """Run the query of one `data:` entry and return its result (typed as the database gives it)."""
    unknown = sorted(str(key) for key in spec if key not in SQL_KEYS)
    if unknown:
        raise ScenarioError(
            f"unknown key(s) {unknown} (expected 'sql' and optionally 'database')", file=label
        )
    query = spec.get("sql")
    if not isinstance(query, str) or not query.strip():
        raise ScenarioError(f"expected a 'sql' query string, got {query!r}", file=label)
    database = spec.get("database", ":memory:")
    if not isinstance(database, str) or not database.strip():
        raise ScenarioError(
            f"expected 'database' to be {EXPECTED_DATABASE}, got {database!r}", file=label
        )
    scheme = database.split("://", 1)[0].lower() if "://" in database else ""
    if scheme in POSTGRES_SCHEMES:
        table = _postgresql(database, query, label)
    elif scheme == "duckdb":
        rest = database[len("duckdb://") :]
        if not rest.startswith("/"):
            raise ScenarioError(
                f"expected duckdb:///relative/path or duckdb:////absolute/path, got {database!r}",
                file=label,
            )
        table = _duckdb(folder, rest[1:] or ":memory:", query, label)
    elif scheme:
        raise ScenarioError(
            f"unsupported database {mask_password(database)!r} (expected {EXPECTED_DATABASE})",
            file=label,
        )
    else:
        table = _duckdb(folder, database, query, label)
    names = table.column_names
    repeated = [name for position, name in enumerate(names) if name in names[:position]]
    if repeated:
        raise ScenarioError(
            f"the query returns column {repeated[0]!r} twice (expected unique column names)",
            file=label,
        )
    return table


def _duckdb(folder: Path, database: str, query: str, label: str) -> pa.Table:
    try:
        import duckdb  # optional dependency: only needed for SQL tables
    except ImportError as exc:
        raise ScenarioError(
            f"SQL tables on DuckDB need the 'duckdb' package ({INSTALL_HINT})", file=label
        ) from exc
    if database != ":memory:":
        path = folder / database
        if not path.is_file():
            raise ScenarioError(
                f"DuckDB database file not found: {path} "
                "(expected a file relative to the scenario folder)",
                file=label,
            )
        database = str(path)
    try:
        con = duckdb.connect(database, read_only=database != ":memory:")
    except duckdb.Error as exc:
        raise ScenarioError(f"cannot open DuckDB database {database}: {exc}", file=label) from exc
    try:
        # Files named in the query (read_csv('x.csv')) are relative to the scenario folder.
        con.execute(f"SET file_search_path = '{str(folder).replace(chr(39), chr(39) * 2)}'")
        relation = con.sql(query)
        if relation is None:
            raise ScenarioError("the query returned no result set (expected a SELECT)", file=label)
        return relation.to_arrow_table()
    except duckdb.Error as exc:
        raise ScenarioError(f"SQL query failed: {exc}", file=label) from exc
    finally:
        con.close()


def _postgresql(url: str, query: str, label: str) -> pa.Table:
    shown = mask_password(url)
    try:
        import psycopg  # optional dependency: only needed for PostgreSQL tables
    except ImportError as exc:
        raise ScenarioError(
            f"SQL tables on PostgreSQL need the 'psycopg' package ({INSTALL_HINT})", file=label
        ) from exc
    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        connection = psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise ScenarioError(
            f"cannot connect to {shown}: {_scrub(str(exc), url)}", file=label
        ) from exc
    try:
        with connection:
            connection.read_only = True  # a plan reads the planners' data, never changes it
            with connection.cursor() as cursor:
                cursor.execute(query)
                if cursor.description is None:
                    raise ScenarioError(
                        "the query returned no result set (expected a SELECT)", file=label
                    )
                names = [column.name for column in cursor.description]
                rows = cursor.fetchall()
    except psycopg.Error as exc:
        raise ScenarioError(
            f"SQL query failed on {shown}: {_scrub(str(exc), url)}", file=label
        ) from exc
    columns = [_arrow_column([row[i] for row in rows]) for i in range(len(names))]
    return pa.Table.from_arrays(columns, names=names)


def _arrow_column(values: list[object]) -> pa.Array:
    """One result column as Arrow, typed from the driver's Python values (int, Decimal, date,
    str, None): an integer column with NULLs stays integers. Values Arrow cannot type as
    one column (a json value, mixed types) are kept as their text."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if value is None else str(value) for value in values], pa.string())


def mask_password(url: str) -> str:
    """The URL with any password replaced by ***, fit for an error message."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _scrub(message: str, url: str) -> str:
    """A driver message with the URL's password removed, should the driver ever echo it."""
    password = urlsplit(url).password
    for secret in {password, unquote(password)} if password else ():
        message = message.replace(secret, "***")
    return message
