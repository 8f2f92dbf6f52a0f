"""Scenario tables from a SQL query: DuckDB (embedded, the default) or PostgreSQL.

A `data:` entry `{sql: "select ...", database: ...}` names where the query runs:
- a DuckDB file, relative to the scenario folder (`plan.duckdb`, or the URL form
  `duckdb:///plan.duckdb`; `duckdb:////abs/plan.duckdb` is absolute), opened read-only;
- `:memory:` (the default): an empty DuckDB whose functions still read files, e.g.
  `select * from read_csv('candidates.csv')`, relative to the scenario folder;
- `postgresql://user:pass@host:port/db`, read (read-only) through psycopg 3.

The result comes back as a pandas frame; tables.py turns it into text cells and types
it exactly as it types a file, so a bad cell is reported by row (1 = first result row)
and column. Passwords never appear in an error: URLs are shown masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import pandas as pd

from models.errors import ScenarioError

SQL_KEYS = frozenset({"sql", "database"})
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
EXPECTED_DATABASE = (
    "a DuckDB file path, duckdb:///path, :memory: or postgresql://user:pass@host:port/db"
)
INSTALL_HINT = "pip install 'contact-plan[sql]'"
CONNECT_TIMEOUT_S = 10


def query_frame(folder: Path, spec: Mapping[str, object], label: str) -> pd.DataFrame:
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
        frame = _postgresql(database, query, label)
    elif scheme == "duckdb":
        rest = database[len("duckdb://") :]
        if not rest.startswith("/"):
            raise ScenarioError(
                f"expected duckdb:///relative/path or duckdb:////absolute/path, got {database!r}",
                file=label,
            )
        frame = _duckdb(folder, rest[1:] or ":memory:", query, label)
    elif scheme:
        raise ScenarioError(
            f"unsupported database {mask_password(database)!r} (expected {EXPECTED_DATABASE})",
            file=label,
        )
    else:
        frame = _duckdb(folder, database, query, label)
    repeated = frame.columns[frame.columns.duplicated()]
    if len(repeated):
        raise ScenarioError(
            f"the query returns column {str(repeated[0])!r} twice (expected unique column names)",
            file=label,
        )
    return frame


def _duckdb(folder: Path, database: str, query: str, label: str) -> pd.DataFrame:
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
        frame = con.execute(query).df()
    except duckdb.Error as exc:
        raise ScenarioError(f"SQL query failed: {exc}", file=label) from exc
    finally:
        con.close()
    # DuckDB gives integer columns with NULLs as pandas nullable ints (pd.NA): make the
    # missing cells None so they read as empty cells, as an empty CSV cell does.
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_extension_array_dtype(column) and pd.api.types.is_integer_dtype(column):
            frame[name] = column.astype(object).where(column.notna(), None)
    return frame


def _postgresql(url: str, query: str, label: str) -> pd.DataFrame:
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
    # Object cells keep Python values as the driver gave them (int, Decimal, date, None),
    # so an integer column with NULLs does not turn into floats like 3.0.
    return pd.DataFrame(rows, columns=names, dtype=object)


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
