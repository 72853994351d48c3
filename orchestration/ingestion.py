"""Load landed files into the raw schema: the library the Dagster ingestion assets call.

A file is identified by the sha256 of its bytes: one already in `raw.load_ledger` is never read
again. Each new file is loaded in one transaction: its good rows go to `raw.<source>`, its bad
rows to `raw.quarantine` with a reason code, and its ledger row records the counts, so every
landed row is in exactly one of the two tables and a crash never leaves half a file.
"""

import csv
import hashlib
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from orchestration.contract import (
    EARLIEST_EVENT_TIME,
    FUTURE_TOLERANCE,
    LANDING_SUFFIXES,
    SOURCES,
    Column,
    SourceSpec,
)
from orchestration.ingestion_readers import LandedBatch, landed_batch
from orchestration.ingestion_sql import (
    RAW_TYPES,
    TimestampBounds,
    quote_identifier,
    quote_literal,
    validation_sql,
)

LABEL_COLUMNS: tuple[Column, ...] = (
    Column("label_id", required=True),
    Column("kind", required=True),
    Column("source", required=True),
    Column("metric", required=True),
    Column("segment_type"),
    Column("segment_value"),
    Column("direction"),
    Column("start_ts", "timestamp", required=True),
    Column("end_ts", "timestamp", required=True),
    # Text while validating (the contract has no boolean type); cast when stored.
    Column("is_critical"),
    Column("customer_id", pii=True),
    Column("description"),
)

_RAW_TABLE_LINEAGE = """
    _load_id bigint not null,
    _file_hash varchar not null,
    _file_path varchar not null,
    _line_number bigint not null,
    _loaded_at timestamp not null
"""
_QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    source varchar not null,
    _load_id bigint not null,
    _file_hash varchar not null,
    _file_path varchar not null,
    _line_number bigint not null,
    raw_content varchar,
    reason_code varchar not null,
    reason_detail varchar,
    _loaded_at timestamp not null
)
"""
_LOAD_LEDGER_DDL = """
create table if not exists raw.load_ledger (
    load_id bigint primary key,
    file_hash varchar not null,
    source varchar not null,
    file_path varchar not null,
    size_bytes bigint not null,
    landed_rows bigint not null,
    loaded_rows bigint not null,
    quarantined_rows bigint not null,
    loaded_at timestamp not null,
    -- earliest event time the load adds or replaces: incremental dbt runs reopen from there
    reopens_from timestamp,
    -- whether a run's quarantine-rate check has passed with this load in it
    quarantine_accepted boolean not null default false,
    unique (source, file_hash)
)
"""
# Warehouses created before a column existed get it: their loads then reopen everything, and
# count as accepted (they were published).
_LOAD_LEDGER_MIGRATIONS = (
    "alter table raw.load_ledger add column if not exists reopens_from timestamp",
    "alter table raw.load_ledger add column if not exists quarantine_accepted boolean default true",
    "alter table raw.load_ledger alter column quarantine_accepted set default false",
)
_ANOMALY_LABELS_DDL = """
create table if not exists raw.anomaly_labels (
    label_id varchar not null,
    kind varchar not null,
    source varchar not null,
    metric varchar not null,
    segment_type varchar,
    segment_value varchar,
    direction varchar,
    start_ts timestamp not null,
    end_ts timestamp not null,
    is_critical boolean,
    customer_id varchar,
    description varchar
)
"""
# Each file is validated into this temporary table, then split into the raw table and the quarantine.
_VALIDATED = "_validated_rows"
_NEW_LABELS = "_new_anomaly_labels"


class LandedFileError(Exception):
    """A landed file could not be loaded (unreadable or corrupt); nothing of it was written."""


@dataclass(frozen=True)
class LoadedFile:
    """One file's row in `raw.load_ledger`, with its quarantine reasons."""

    load_id: int
    file_hash: str
    file_path: str
    size_bytes: int
    landed_rows: int
    loaded_rows: int
    quarantined_rows: int
    quarantine_by_reason: dict[str, int]
    reopens_from: datetime | None = None


@dataclass
class IngestReport:
    """What one `ingest_source` call did; row counts cover the files it loaded."""

    source: str
    files_seen: int = 0
    files_loaded: int = 0
    files_skipped_duplicate: int = 0
    landed_rows: int = 0
    loaded_rows: int = 0
    quarantined_rows: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    loaded_files: list[LoadedFile] = field(default_factory=list)
    # files in the source's folder that are no landing format (a stray .xlsx, a README)
    files_ignored: list[str] = field(default_factory=list)

    def add(self, loaded: LoadedFile) -> None:
        self.files_loaded += 1
        self.landed_rows += loaded.landed_rows
        self.loaded_rows += loaded.loaded_rows
        self.quarantined_rows += loaded.quarantined_rows
        self.quarantine_by_reason = dict(Counter(self.quarantine_by_reason) + Counter(loaded.quarantine_by_reason))
        self.loaded_files.append(loaded)


def _column_ddl(column: Column) -> str:
    # Required and defaulted columns are never NULL after validation; the constraint guards that.
    not_null = " not null" if column.required or column.default is not None else ""
    return f"{quote_identifier(column.name)} {RAW_TYPES[column.type]}{not_null}"


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and its tables if they do not exist yet."""
    con.execute("create schema if not exists raw")
    for spec in SOURCES.values():
        columns = ",\n    ".join(_column_ddl(column) for column in spec.columns)
        con.execute(f"create table if not exists raw.{spec.name} (\n    {columns},{_RAW_TABLE_LINEAGE})")
    for ddl in (_QUARANTINE_DDL, _LOAD_LEDGER_DDL, *_LOAD_LEDGER_MIGRATIONS, _ANOMALY_LABELS_DDL):
        con.execute(ddl)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | dict | None = None) -> object:
    # fetchall, not fetchone: a half-fetched result blocks register() on the connection (DuckDB 2.0).
    return con.execute(sql, parameters or []).fetchall()[0][0]


@contextmanager
def utc_session(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Read timestamps without an offset as UTC, restoring the connection's own zone afterwards."""
    previous = _scalar(con, "select current_setting('TimeZone')")
    con.execute("set TimeZone = 'UTC'")
    try:
        yield
    finally:
        con.execute(f"set TimeZone = {quote_literal(previous)}")


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def landing_folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """The files under `folder` with a landing suffix, sorted by path for a repeatable order,
    and those of no landing format (hidden ones such as .DS_Store aside), from one scan."""
    files = sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []
    landed = [path for path in files if path.name.lower().endswith(LANDING_SUFFIXES)]
    ignored = [
        path for path in files
        if path not in landed and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return landed, ignored


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _utc_naive(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def event_time_bounds(loaded_at: datetime) -> TimestampBounds:
    """The times a landed timestamp may hold in a load at `loaded_at` (naive UTC)."""
    return EARLIEST_EVENT_TIME, loaded_at + FUTURE_TOLERANCE


def _typed_rows_sql(
    columns: tuple[Column, ...], batch: LandedBatch, timestamp_bounds: TimestampBounds | None = None
) -> str:
    return validation_sql(
        columns, batch.select_sql, batch.column_expressions(columns), batch.raw_content_sql(), timestamp_bounds
    )


def _is_loaded(con: duckdb.DuckDBPyConnection, source: str, file_hash: str) -> bool:
    return _scalar(
        con, "select count(*) > 0 from raw.load_ledger where source = ? and file_hash = ?", [source, file_hash]
    )


def _insert_rows(con: duckdb.DuckDBPyConnection, spec: SourceSpec, lineage: dict[str, object]) -> None:
    columns = ", ".join(quote_identifier(name) for name in spec.column_names)
    con.execute(
        f"""
        insert into raw.{spec.name} ({columns}, _load_id, _file_hash, _file_path, _line_number, _loaded_at)
        select {columns}, $load_id, $file_hash, $file_path, _line_number, $loaded_at
        from {_VALIDATED}
        where reason_code is null
        order by _line_number
        """,
        lineage,
    )


def _insert_quarantine(con: duckdb.DuckDBPyConnection, spec: SourceSpec, lineage: dict[str, object]) -> None:
    con.execute(
        f"""
        insert into raw.quarantine
            (source, _load_id, _file_hash, _file_path, _line_number,
             raw_content, reason_code, reason_detail, _loaded_at)
        select $source, $load_id, $file_hash, $file_path, _line_number,
            raw_content, reason_code, reason_detail, $loaded_at
        from {_VALIDATED}
        where reason_code is not null
        order by _line_number
        """,
        {"source": spec.name, **lineage},
    )


def _reopens_from(con: duckdb.DuckDBPyConnection, spec: SourceSpec, load_id: int) -> datetime | None:
    """Earliest event time among the load's rows and the earlier versions they replace.

    A re-delivered row may move its event to another period; the period it left changes too.
    """
    event_time = quote_identifier(spec.event_time)
    key_match = " and ".join(f"earlier.{quote_identifier(key)} = loaded.{quote_identifier(key)}" for key in spec.natural_key)
    return _scalar(
        con,
        f"""
        select min({event_time}) from raw.{spec.name} as earlier
        where _load_id = $load_id
            or (_load_id < $load_id and exists (
                select 1 from raw.{spec.name} as loaded where loaded._load_id = $load_id and {key_match}
            ))
        """,
        {"load_id": load_id},
    )


def _write_ledger_row(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, loaded: LoadedFile, loaded_at: datetime
) -> None:
    con.execute(
        """
        insert into raw.load_ledger
            (load_id, file_hash, source, file_path, size_bytes, landed_rows, loaded_rows, quarantined_rows, loaded_at,
             reopens_from)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            loaded.load_id,
            loaded.file_hash,
            spec.name,
            loaded.file_path,
            loaded.size_bytes,
            loaded.landed_rows,
            loaded.loaded_rows,
            loaded.quarantined_rows,
            loaded_at,
            loaded.reopens_from,
        ],
    )


def _load_file(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path, file_path: str, file_hash: str, loaded_at: datetime
) -> LoadedFile:
    with _transaction(con):
        load_id = _scalar(con, "select coalesce(max(load_id), 0) + 1 from raw.load_ledger")
        with landed_batch(con, path) as batch:
            typed_rows = _typed_rows_sql(spec.columns, batch, event_time_bounds(loaded_at))
            con.execute(f"create or replace temp table {_VALIDATED} as {typed_rows}")
        quarantine_by_reason = dict(
            con.execute(f"select reason_code, count(*) from {_VALIDATED} group by reason_code").fetchall()
        )
        loaded_rows = quarantine_by_reason.pop(None, 0)
        quarantined_rows = sum(quarantine_by_reason.values())
        loaded = LoadedFile(
            load_id=load_id,
            file_hash=file_hash,
            file_path=file_path,
            size_bytes=path.stat().st_size,
            landed_rows=loaded_rows + quarantined_rows,
            loaded_rows=loaded_rows,
            quarantined_rows=quarantined_rows,
            quarantine_by_reason=quarantine_by_reason,
        )
        lineage = {"load_id": load_id, "file_hash": file_hash, "file_path": file_path, "loaded_at": loaded_at}
        _insert_rows(con, spec, lineage)
        _insert_quarantine(con, spec, lineage)
        loaded = replace(loaded, reopens_from=_reopens_from(con, spec, load_id))
        _write_ledger_row(con, spec, loaded, loaded_at)
        con.execute(f"drop table {_VALIDATED}")
    return loaded


def ingest_source(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, landing_dir: Path, now: datetime | None = None
) -> IngestReport:
    """Load every file under `<landing_dir>/<source>/` whose bytes are not in the ledger yet."""
    loaded_at = _utc_naive(now)
    landed, ignored = landing_folder_files(landing_dir / spec.name)
    report = IngestReport(source=spec.name, files_ignored=[path.relative_to(landing_dir).as_posix() for path in ignored])
    with utc_session(con):
        for path in landed:
            report.files_seen += 1
            file_hash = file_sha256(path)
            # Checked per file, so the same bytes twice within one scan are loaded once too.
            if _is_loaded(con, spec.name, file_hash):
                report.files_skipped_duplicate += 1
                continue
            file_path = path.relative_to(landing_dir).as_posix()
            try:
                loaded = _load_file(con, spec, path, file_path, file_hash, loaded_at)
            # zlib.error: a .csv.gz whose compressed data is corrupt (gzip raises it, not OSError);
            # csv.Error: a line holding one field beyond the field size limit.
            except (OSError, EOFError, UnicodeError, zlib.error, csv.Error, duckdb.Error) as error:
                # Fail the run naming the file: it is immutable, so someone must replace or remove it.
                raise LandedFileError(f"cannot load {file_path}: {error}") from error
            report.add(loaded)
    return report


def load_labels(con: duckdb.DuckDBPyConnection, labels_path: Path) -> int:
    """Replace `raw.anomaly_labels` with the generator's labels CSV (empty without one); return its rows.

    The table is left untouched when its content already equals the file's. Ground truth comes
    from our own generator, so an invalid label row fails the load instead of being quarantined.
    """
    label_names = ", ".join(column.name for column in LABEL_COLUMNS)
    stored = ", ".join(
        "cast(is_critical as boolean) as is_critical" if column.name == "is_critical" else column.name
        for column in LABEL_COLUMNS
    )
    with utc_session(con), _transaction(con):
        if labels_path.is_file():
            with landed_batch(con, labels_path) as batch:
                # No time bounds: labels describe the generated rows, which ingestion bounds itself.
                con.execute(f"create or replace temp table {_VALIDATED} as {_typed_rows_sql(LABEL_COLUMNS, batch)}")
            problems = con.execute(
                f"select _line_number, reason_code, reason_detail from {_VALIDATED} "
                "where reason_code is not null order by _line_number limit 5"
            ).fetchall()
            if problems:
                raise ValueError(f"invalid rows in {labels_path} (line, reason, detail): {problems}")
            con.execute(f"create or replace temp table {_NEW_LABELS} as select {stored} from {_VALIDATED}")
            con.execute(f"drop table {_VALIDATED}")
        else:
            con.execute(f"create or replace temp table {_NEW_LABELS} as select * from raw.anomaly_labels limit 0")
        differing_rows = _scalar(
            con,
            f"""
            select count(*) from (
                (select {label_names} from {_NEW_LABELS} except all select {label_names} from raw.anomaly_labels)
                union all
                (select {label_names} from raw.anomaly_labels except all select {label_names} from {_NEW_LABELS})
            )
            """,
        )
        if differing_rows:
            con.execute("delete from raw.anomaly_labels")
            con.execute(f"insert into raw.anomaly_labels ({label_names}) select {label_names} from {_NEW_LABELS}")
        rows = _scalar(con, f"select count(*) from {_NEW_LABELS}")
        con.execute(f"drop table {_NEW_LABELS}")
    return rows
