"""SQL scenario tables (models/sql.py): `data.<table>: {sql: ..., database: ...}`.

One small scenario is written as CSV files (tests.kit) and loaded, column-typed, into a
real DuckDB file and, where a PostgreSQL server can be had, into PostgreSQL. Planned from
SQL it must give exactly the calendar it gives from CSV. Errors name the table as
`scenario.yaml data.<table> (sql)`, rows count from 1 (the first result row), and a
database password never shows.

PostgreSQL: set CONTACT_PLAN_TEST_PG_URL=postgresql://user:pass@host:port/db to use a
running server (its tables are replaced), or have the server binaries installed
(Debian: `apt-get install -y postgresql`) and the `postgres_url` fixture starts a
throwaway server on a free loopback port; otherwise those tests skip, saying why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from models import ScenarioError, load_scenario
from models.sql import mask_password
from tests.kit import cand, comm, customer, plan_and_verify, write_scenario

duckdb = pytest.importorskip("duckdb")

TABLES = ("customers", "communications", "candidates", "history", "states")

# SQL column types for each table (both DuckDB and PostgreSQL accept these names): the
# tables are typed as a planner's database would be, not text as in a CSV.
COLUMN_TYPES: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "varchar",
        "segment": "varchar",
        "age": "integer",
        "consent_email": "boolean",
        "consent_sms": "boolean",
        "preferred_channels": "varchar",
    },
    "communications": {
        "comm_id": "varchar",
        "product_line": "varchar",
        "category": "varchar",
        "priority": "integer",
        "mandatory": "boolean",
        "dedup_key": "varchar",
        "tags": "varchar",
        "cost": "numeric(10, 2)",
    },
    "candidates": {
        "candidate_id": "varchar",
        "customer_id": "varchar",
        "comm_id": "varchar",
        "channels": "varchar",
        "earliest": "date",
        "latest": "date",
        "value": "double precision",
        "response_probability": "double precision",
        "wave": "integer",
    },
    "history": {
        "customer_id": "varchar",
        "comm_id": "varchar",
        "channel": "varchar",
        "date": "date",
    },
    "states": {"customer_id": "varchar", "state": "varchar", "start": "date", "end": "date"},
}


def scenario_rows() -> dict[str, Any]:
    """Three customers (one id with a leading zero), a mandatory bill, two promotions."""
    return {
        "customers": [
            customer("007", segment="retail", age=42, preferred_channels="sms|email"),
            customer("C2", segment="premium", consent_sms=""),  # NULL consent -> no sms
            customer("C3", segment="retail", age=35),
        ],
        "communications": [
            comm(
                "BILL",
                priority=1,
                category="service",
                mandatory="true",
                tags="bill",
                product_line="billing",
            ),
            comm("PROMO", priority=2, dedup_key="autumn", tags="cards", cost="0.10"),
            comm(
                "PROMO2",
                priority=2,
                dedup_key="autumn",
                tags="cards",
                cost="0.25",
                product_line="digital",
            ),
        ],
        "candidates": [
            cand(
                "K1",
                "007",
                "BILL",
                1.0,
                channels="email|sms",
                latest="2026-11-27",
                wave=1,
                response_probability=0.0,
            ),
            cand(
                "K2",
                "007",
                "PROMO",
                5.0,
                channels="sms|email",
                earliest="2026-11-24",
                latest="2026-11-29",
                response_probability=0.2,
                wave=2,
            ),
            cand("K3", "007", "PROMO2", 6.0, latest="2026-11-29", response_probability=0.3, wave=1),
            cand(
                "K4",
                "C2",
                "PROMO",
                4.0,
                channels="sms|email",
                latest="2026-11-26",
                response_probability=0.1,
                wave=1,
            ),
            cand(
                "K5",
                "C2",
                "BILL",
                1.0,
                channels="sms",
                latest="2026-11-29",
                wave=1,
                response_probability=0.0,
            ),
            cand(
                "K6",
                "C3",
                "PROMO",
                3.5,
                channels="sms",
                latest="2026-11-29",
                response_probability=0.4,
                wave=3,
            ),
            cand(
                "K7",
                "C3",
                "BILL",
                1.0,
                channels="email|sms",
                earliest="2026-11-25",
                latest="2026-11-29",
                wave=2,
                response_probability=0.0,
            ),
        ],
        "history": [
            {"customer_id": "C3", "comm_id": "PROMO", "channel": "email", "date": "2026-11-21"}
        ],
        "states": [
            {"customer_id": "C3", "state": "complaint", "start": "2026-11-23", "end": "2026-11-24"}
        ],
        "channels": {"email": {"cost": 0.001}, "sms": {"cost": 0.03, "closed": ["sun"]}},
        "rules": [
            {
                "frequency_cap": {
                    "name": "marketing-3d",
                    "select": {"categories": ["marketing"]},
                    "max": 1,
                    "window_days": 3,
                }
            },
            {
                "capacity": {
                    "name": "sms-seats",
                    "select": {"channels": ["sms"]},
                    "max": 1,
                    "per": "day",
                }
            },
            {
                "exclusion": {
                    "name": "no-sms-in-complaint",
                    "select": {"channels": ["sms"]},
                    "states": ["complaint"],
                }
            },
        ],
        "objective": {"channel_preference": {"weights": [1.0, 0.9], "others": 0.8}},
    }


def write_csv_scenario(folder: Path) -> Path:
    return write_scenario(folder, **scenario_rows())


def _sql_value(text: Any, sql_type: str) -> Any:
    """A kit cell (text) as the typed value a database column holds; empty is NULL."""
    if text is None or str(text) == "":
        return None
    text = str(text)
    if sql_type == "boolean":
        return text.lower() == "true"
    if sql_type == "integer":
        return int(text)
    if sql_type == "date":
        return dt.date.fromisoformat(text)
    if sql_type.startswith(("double", "numeric")):
        return float(text)
    return text


def load_tables(
    connection: Any, rows: Mapping[str, Sequence[Mapping[str, Any]]], placeholder: str
) -> None:
    """Create the typed tables and insert the rows (DuckDB `?`, psycopg `%s` placeholders)."""
    for table in TABLES:
        types = COLUMN_TYPES[table]
        columns = ", ".join(f'"{name}" {sql_type}' for name, sql_type in types.items())
        connection.execute(f"drop table if exists {table}")
        connection.execute(f"create table {table} ({columns})")
        names = ", ".join(f'"{name}"' for name in types)
        marks = ", ".join([placeholder] * len(types))
        for row in rows[table]:
            unknown = set(row) - set(types)
            assert not unknown, f"{table}: add {unknown} to COLUMN_TYPES"
            values = [_sql_value(row.get(name), sql_type) for name, sql_type in types.items()]
            connection.execute(f"insert into {table} ({names}) values ({marks})", values)


def point_data_at(folder: Path, entries: Mapping[str, Any]) -> None:
    """Rewrite scenario.yaml so that the named tables come from the given data entries."""
    path = folder / "scenario.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["data"].update(entries)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def sql_entries(database: str) -> dict[str, Any]:
    return {table: {"sql": f"select * from {table}", "database": database} for table in TABLES}


def assert_same_plan(csv_folder: Path, sql_folder: Path) -> None:
    expected = plan_and_verify(csv_folder)
    got = plan_and_verify(sql_folder)
    assert len(expected.calendar) > 0
    pd.testing.assert_frame_equal(
        got.calendar.reset_index(drop=True), expected.calendar.reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        got.suppressed.reset_index(drop=True), expected.suppressed.reset_index(drop=True)
    )


@pytest.fixture
def duckdb_scenario(tmp_path: Path) -> Path:
    """A scenario folder whose tables all come from plan.duckdb (the CSVs stay beside it)."""
    folder = write_csv_scenario(tmp_path / "sql")
    with duckdb.connect(str(folder / "plan.duckdb")) as connection:
        load_tables(connection, scenario_rows(), "?")
    point_data_at(folder, sql_entries("plan.duckdb"))
    return folder


def test_duckdb_file_plans_like_csv(tmp_path: Path, duckdb_scenario: Path) -> None:
    csv_folder = write_csv_scenario(tmp_path / "csv")
    scenario = load_scenario(duckdb_scenario)
    customers = scenario.customers.set_index("customer_id")
    assert "007" in customers.index  # a varchar id keeps its leading zero
    assert not customers.loc["C2", "consent_sms"]  # NULL consent means no
    comms = scenario.communications.set_index("comm_id")
    assert comms.loc["PROMO", "cost"] == pytest.approx(0.10)  # numeric -> float
    assert bool(comms.loc["BILL", "mandatory"])
    assert "wave" in scenario.metrics  # an integer column of candidates is a metric
    assert list(customers["age"]) == ["42", "", "35"]  # integer NULL -> empty, as in CSV
    assert scenario.states["end"].iloc[0] == dt.date(2026, 11, 24)
    assert_same_plan(csv_folder, duckdb_scenario)


def test_duckdb_url_and_memory_database_read_files(tmp_path: Path) -> None:
    """`duckdb:///file` is the same file; `:memory:` (the default) reads CSV/Parquet by query."""
    csv_folder = write_csv_scenario(tmp_path / "csv")
    folder = write_csv_scenario(tmp_path / "memory")
    with duckdb.connect(str(folder / "plan.duckdb")) as connection:
        load_tables(connection, scenario_rows(), "?")
    pd.read_csv(folder / "candidates.csv", dtype=str, keep_default_na=False).to_parquet(
        folder / "candidates.parquet"
    )
    point_data_at(
        folder,
        {
            "customers": {"sql": "select * from customers", "database": "duckdb:///plan.duckdb"},
            # relative paths in a query are relative to the scenario folder, not the cwd
            "communications": {
                "sql": "select * from read_csv('communications.csv', all_varchar = true)"
            },
            "candidates": {
                "sql": "select * from 'candidates.parquet' order by candidate_id",
                "database": ":memory:",
            },
        },
    )
    assert_same_plan(csv_folder, folder)


def test_bad_sql_names_the_table(duckdb_scenario: Path) -> None:
    point_data_at(
        duckdb_scenario,
        {"candidates": {"sql": "select * from no_such_table", "database": "plan.duckdb"}},
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(duckdb_scenario)
    assert info.value.file == "scenario.yaml data.candidates (sql)"
    assert "SQL query failed" in info.value.message and "no_such_table" in info.value.message


def test_bad_cell_from_sql_is_located(duckdb_scenario: Path) -> None:
    query = (
        "select * replace (case when candidate_id = 'K2' then 'lots' "
        "else cast(value as varchar) end as value) from candidates order by candidate_id"
    )
    point_data_at(duckdb_scenario, {"candidates": {"sql": query, "database": "plan.duckdb"}})
    with pytest.raises(ScenarioError) as info:
        load_scenario(duckdb_scenario)
    error = info.value
    assert (error.file, error.row, error.column) == (
        "scenario.yaml data.candidates (sql)",
        2,
        "value",
    )
    assert "expected a number" in error.message and "'lots'" in error.message
    assert str(error).startswith("scenario.yaml data.candidates (sql):2: column 'value'")


def test_missing_database_file_is_a_clear_error(duckdb_scenario: Path) -> None:
    point_data_at(
        duckdb_scenario,
        {"customers": {"sql": "select * from customers", "database": "nowhere.duckdb"}},
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(duckdb_scenario)
    assert info.value.file == "scenario.yaml data.customers (sql)"
    assert "DuckDB database file not found" in info.value.message
    assert "nowhere.duckdb" in info.value.message
    assert not (duckdb_scenario / "nowhere.duckdb").exists()  # never created by reading


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"sql": 42}, "expected a 'sql' query string"),
        ({"query": "select 1"}, "unknown key(s) ['query']"),
        ({"sql": "select 1", "database": "mysql://u:topsecret@h/db"}, "unsupported database"),
        ({"sql": "select 1", "database": "duckdb://plan.duckdb"}, "expected duckdb:///"),
    ],
)
def test_malformed_entry(duckdb_scenario: Path, entry: dict[str, Any], expected: str) -> None:
    point_data_at(duckdb_scenario, {"states": entry})
    with pytest.raises(ScenarioError) as info:
        load_scenario(duckdb_scenario)
    assert info.value.file == "scenario.yaml data.states (sql)"
    assert expected in info.value.message
    assert "topsecret" not in str(info.value)


def test_missing_driver_says_what_to_install(
    duckdb_scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    with pytest.raises(ScenarioError, match=r"need the 'duckdb' package .*contact-plan\[sql\]"):
        load_scenario(duckdb_scenario)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    point_data_at(
        duckdb_scenario,
        {"customers": {"sql": "select 1", "database": "postgresql://u:pw@127.0.0.1:1/db"}},
    )
    with pytest.raises(ScenarioError, match=r"need the 'psycopg' package"):
        load_scenario(duckdb_scenario)


def test_mask_password() -> None:
    assert mask_password("postgresql://planner:s3cr%40t@db.example:5432/plan") == (
        "postgresql://planner:***@db.example:5432/plan"
    )
    assert mask_password("postgresql://db/plan?user=a&password=x&sslmode=require") == (
        "postgresql://db/plan?user=a&password=***&sslmode=require"
    )
    assert mask_password("postgresql://planner@db/plan") == "postgresql://planner@db/plan"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_hides_password(duckdb_scenario: Path) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://planner:hunter2secret@127.0.0.1:{free_port()}/plan"
    point_data_at(duckdb_scenario, {"customers": {"sql": "select 1", "database": url}})
    with pytest.raises(ScenarioError) as info:
        load_scenario(duckdb_scenario)
    assert info.value.file == "scenario.yaml data.customers (sql)"
    assert "cannot connect to postgresql://planner:***@127.0.0.1" in info.value.message
    assert "hunter2secret" not in str(info.value)


# --------------------------------------------------------------------------- PostgreSQL

PG_USER, PG_PASSWORD, PG_DATABASE = "planner", "pl@n-s3cret", "contact_plan"


def _postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _run_as(user: tuple[int, int] | None, args: list[str], cwd: str) -> None:
    """Run a server command; as `nobody` when we are root (PostgreSQL refuses root)."""
    options: dict[str, Any] = {}
    if user is not None:
        options = {"user": user[0], "group": user[1], "extra_groups": []}
    result = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
        **options,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{Path(args[0]).name} failed: {(result.stderr or result.stdout)[-400:]}"
        )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL with a password: CONTACT_PLAN_TEST_PG_URL, or a throwaway local server."""
    psycopg = pytest.importorskip(
        "psycopg", reason="psycopg not installed (pip install 'contact-plan[sql]')"
    )
    given = os.environ.get("CONTACT_PLAN_TEST_PG_URL")
    if given:
        problem = ""
        try:
            psycopg.connect(given, connect_timeout=5).close()
        except psycopg.Error as exc:
            problem = str(exc)
        if problem:  # fail outside the except: the driver's traceback would show the password
            shown = mask_password(given)
            pytest.fail(
                f"CONTACT_PLAN_TEST_PG_URL={shown} is unreachable: {problem}", pytrace=False
            )
        yield given
        return
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl); on Debian: "
            "apt-get install -y postgresql; or set CONTACT_PLAN_TEST_PG_URL"
        )
    user: tuple[int, int] | None = None
    if os.geteuid() == 0:
        import pwd

        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root and there is no 'nobody' user to run PostgreSQL as")
        user = (nobody.pw_uid, nobody.pw_gid)
    # Not under tmp_path: pytest's base temp folder is private to us, and `nobody` must
    # be able to reach the data folder.
    root = tempfile.mkdtemp(prefix="contact-plan-pg-")
    data, log, pwfile = f"{root}/data", f"{root}/server.log", f"{root}/pwfile"
    Path(pwfile).write_text(PG_PASSWORD + "\n", encoding="utf-8")
    if user is not None:
        for path in (root, pwfile):
            os.chown(path, *user)
    port = free_port()
    started = False
    try:
        try:
            _run_as(
                user,
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    data,
                    "-U",
                    PG_USER,
                    "--pwfile",
                    pwfile,
                    "-A",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                root,
            )
            started = True  # from here on, always try to stop it
            _run_as(
                user,
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    data,
                    "-l",
                    log,
                    "-w",
                    "-t",
                    "10",
                    "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c full_page_writes=off",
                    "start",
                ],
                root,
            )
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            server_log = Path(log).read_text(errors="replace")[-400:] if Path(log).exists() else ""
            pytest.skip(f"could not start a local PostgreSQL server: {exc} {server_log}".strip())
        admin = f"postgresql://{PG_USER}:{PG_PASSWORD.replace('@', '%40')}@127.0.0.1:{port}"
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as connection:
            connection.execute(f"create database {PG_DATABASE}")
        yield f"{admin}/{PG_DATABASE}"
    finally:
        if started:
            # If it never started or is already gone there is nothing to stop.
            with contextlib.suppress(RuntimeError, OSError, subprocess.TimeoutExpired):
                _run_as(
                    user,
                    [str(bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                    root,
                )
        shutil.rmtree(root, ignore_errors=True)


def test_postgresql_plans_like_csv(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        load_tables(connection, scenario_rows(), "%s")
    csv_folder = write_csv_scenario(tmp_path / "csv")
    folder = write_csv_scenario(tmp_path / "pg")
    point_data_at(folder, sql_entries(postgres_url))
    assert_same_plan(csv_folder, folder)


def test_postgresql_errors_name_table_and_hide_password(tmp_path: Path, postgres_url: str) -> None:
    folder = write_csv_scenario(tmp_path / "pg")
    password = mask_password(postgres_url) != postgres_url
    query = (
        "select candidate_id, customer_id, comm_id, channels, earliest, "
        "case when candidate_id = 'K3' then 'soon' else cast(latest as text) end as latest, "
        "value from candidates order by candidate_id"
    )
    point_data_at(folder, {"candidates": {"sql": query, "database": postgres_url}})
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    assert (info.value.row, info.value.column) == (3, "latest")
    point_data_at(
        folder, {"candidates": {"sql": "select * from no_such_table", "database": postgres_url}}
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    assert info.value.file == "scenario.yaml data.candidates (sql)"
    assert "no_such_table" in info.value.message
    if password:
        assert "***" in info.value.message and PG_PASSWORD not in str(info.value)
