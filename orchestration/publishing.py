"""Publish the report tables for BI tools, which never open the live warehouse.

Every table of schema `reports` becomes `<serving>/<table>.parquet` and a table of
`<serving>/reports.duckdb`. Files are built in a hidden folder beside the targets and moved
in with `os.replace`, so a reader sees either the previous complete version or the new one;
a reader holding the old DuckDB file open keeps reading the old file.
"""

import filecmp
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import duckdb

REPORT_SCHEMA = "reports"
SERVING_DATABASE = "reports.duckdb"
_STAGING_PREFIX = ".publishing-"


@dataclass(frozen=True)
class PublishResult:
    serving_dir: Path
    tables: tuple[str, ...]
    row_counts: dict[str, int]
    # False when the serving folder already held exactly this content and nothing was replaced.
    changed: bool


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_reports(
    warehouse_path: Path, serving_dir: Path, tables: Sequence[str] | None = None
) -> PublishResult:
    """Publish `tables` (default: every table of schema `reports`); the serving folder then
    holds exactly those tables. Publishing unchanged content replaces nothing."""
    serving_dir.mkdir(parents=True, exist_ok=True)
    staging_dir = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=serving_dir))
    try:
        row_counts = _stage(warehouse_path, staging_dir, tables)
        file_names = [f"{table}.parquet" for table in row_counts] + [SERVING_DATABASE]
        changed = not _already_published(staging_dir, serving_dir, file_names)
        if changed:
            _swap_in(staging_dir, serving_dir, file_names)
            for stale in serving_dir.glob("*.parquet"):
                if stale.stem not in row_counts:
                    stale.unlink()
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return PublishResult(
        serving_dir=serving_dir, tables=tuple(row_counts), row_counts=row_counts, changed=changed
    )


def _stage(warehouse_path: Path, staging_dir: Path, tables: Sequence[str] | None) -> dict[str, int]:
    """Copy the tables into a new DuckDB file (default schema, see docs/bi.md) and Parquet files."""
    staged_database = staging_dir / SERVING_DATABASE
    row_counts: dict[str, int] = {}
    with closing(duckdb.connect(str(staged_database))) as con:
        con.execute(f"attach {quote_literal(str(warehouse_path))} as warehouse (read_only)")
        available = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'warehouse' and table_schema = ? order by table_name",
                [REPORT_SCHEMA],
            ).fetchall()
        ]
        missing = sorted(set(tables or ()) - set(available))
        if missing:
            raise ValueError(f"not in schema {REPORT_SCHEMA} of {warehouse_path}: {', '.join(missing)}")
        for table in available if tables is None else tables:
            name = quote_identifier(table)
            # A fixed row order keeps the Parquet bytes stable when the content is unchanged, so a
            # re-run with nothing new replaces nothing.
            con.execute(f"create table main.{name} as select * from warehouse.{REPORT_SCHEMA}.{name} order by all")
            # Parquet from the copied table, so both files hold the same snapshot.
            parquet_path = quote_literal(str(staging_dir / f"{table}.parquet"))
            con.execute(f"copy main.{name} to {parquet_path} (format parquet)")
            row_counts[table] = con.execute(f"select count(*) from main.{name}").fetchone()[0]
        con.execute("detach warehouse")
    staged_database.chmod(0o444)
    return row_counts


def _already_published(staging_dir: Path, serving_dir: Path, file_names: list[str]) -> bool:
    # Parquet output is deterministic, so equal bytes mean equal tables; the DuckDB file is
    # built from the same rows and is not byte-stable, so only its presence is checked.
    parquet_names = [name for name in file_names if name.endswith(".parquet")]
    published_parquet = {path.name for path in serving_dir.glob("*.parquet")}
    return (
        (serving_dir / SERVING_DATABASE).is_file()
        and published_parquet == set(parquet_names)
        and all(filecmp.cmp(staging_dir / name, serving_dir / name, shallow=False) for name in parquet_names)
    )


def _swap_in(staging_dir: Path, serving_dir: Path, file_names: list[str]) -> None:
    """Move the staged files over the published ones; on failure put the previous ones back."""
    previous_dir = staging_dir / "previous"
    previous_dir.mkdir()
    for name in file_names:
        if (serving_dir / name).exists():
            os.link(serving_dir / name, previous_dir / name)
    replaced: list[str] = []
    try:
        for name in file_names:
            os.replace(staging_dir / name, serving_dir / name)
            replaced.append(name)
    except BaseException:
        for name in replaced:
            if (previous_dir / name).exists():
                os.replace(previous_dir / name, serving_dir / name)
            else:
                (serving_dir / name).unlink()
        raise
