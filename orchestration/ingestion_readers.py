"""Readers that present one landed file to DuckDB as rows of text values with their line numbers.

Every reader yields the same shape, so one generated SQL statement can validate any format:
`_line_number`, `_structure_reason` / `_structure_detail` (set when the row could not even be
split into columns), `_raw_content` (JSON of the row when the reader already has it) and one
VARCHAR column `landed_<i>` per column found in the file.

Landed text must be UTF-8. A CSV record or JSONL line holding bytes that are not is
`invalid_encoding`, kept with those bytes written as `\\xNN`; the rest of its file loads.
"""

import codecs
import csv
import gc
import gzip
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.contract import Column
from orchestration.ingestion_sql import cleaned_text_sql, quote_identifier, quote_literal

# The name a parsed file is registered under while it is being loaded.
LANDED_VIEW = "_landed_file"
# Python's csv default (128 KiB) would fail a whole file for one oversized free-text field.
_CSV_FIELD_SIZE_LIMIT = 64 * 1024 * 1024
# Decoding with surrogateescape reads each byte that is not UTF-8 as one of these lone
# surrogates, which valid text never holds: they mark the rows to quarantine.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_INVALID_ENCODING = "invalid_encoding"
_INVALID_ENCODING_DETAIL = "{} holds bytes that are not UTF-8 (kept as \\xNN in raw_content)"


def landed_column(index: int) -> str:
    return f"landed_{index}"


@dataclass(frozen=True)
class LandedBatch:
    """One landed file as text: a SELECT over it and the column names as written in the file."""

    select_sql: str
    column_names: tuple[str, ...]

    def column_expressions(self, columns: tuple[Column, ...]) -> dict[str, str]:
        """Text expression of each contract column present, matched case-insensitively after trimming.

        A name written twice (or in two cases across JSON lines) takes its first non-null value.
        """
        positions: dict[str, list[str]] = defaultdict(list)
        for index, name in enumerate(self.column_names):
            positions[name.strip().lower()].append(landed_column(index))
        return {
            column.name: f"coalesce({', '.join(positions[column.name])})"
            for column in columns
            if column.name in positions
        }

    def raw_content_sql(self) -> str:
        """JSON object of the row's values as landed, keyed by the file's own column names."""
        pairs = ", ".join(
            f"{quote_literal(name)}, {landed_column(index)}" for index, name in enumerate(self.column_names)
        )
        return f"json_object({pairs})"


@contextmanager
def landed_batch(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[LandedBatch]:
    """Read `path` by its suffix; the batch is valid (registered on `con`) inside the block."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield _parquet_batch(con, path)
        return
    try:
        if name.endswith((".jsonl", ".ndjson")):
            con.register(LANDED_VIEW, _jsonl_lines(path))
            batch = _jsonl_batch(con)
        else:
            table, header = _csv_table(path)
            con.register(LANDED_VIEW, table)
            batch = LandedBatch(select_sql=f"select * from {LANDED_VIEW}", column_names=header)
        yield batch
    finally:
        con.unregister(LANDED_VIEW)


def _open_text(path: Path) -> IO[str]:
    # utf-8-sig drops a byte-order mark. Bytes that are not UTF-8 become lone surrogates rather
    # than failing the file (or U+FFFD, which would load altered text): see _records_tables.
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline="")


def _escaped(text: str) -> str:
    """`text` read with surrogateescape, its bytes that are not UTF-8 written as `\\xNN`."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@contextmanager
def _garbage_collection_paused() -> Iterator[None]:
    """Hold off the cyclic collector while building millions of short-lived lists and strings.

    None of them form cycles, yet allocating them triggers collections that would triple the
    parse time of a large CSV.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _text_table(
    line_numbers: list[int],
    values: list[tuple[str, ...]] | None,
    width: int,
    reason: str | None = None,
    details: list[str] | None = None,
    contents: list[str] | None = None,
) -> pa.Table:
    count = len(line_numbers)

    def text(column: list | tuple | None) -> pa.Array:
        return pa.nulls(count, pa.string()) if column is None else pa.array(column, pa.string())

    arrays = {
        "_line_number": pa.array(line_numbers, pa.int64()),
        "_structure_reason": text(None if reason is None else [reason] * count),
        "_structure_detail": text(details),
        "_raw_content": text(contents),
    }
    for index in range(width):
        arrays[landed_column(index)] = text(None if values is None else values[index])
    return pa.table(arrays)


def _columns(records: list[list[str]], width: int) -> list[tuple[str, ...]]:
    return list(zip(*records)) if records else [()] * width


def _records_tables(line_numbers: list[int], records: list[list[str]], width: int) -> list[pa.Table]:
    """Well-formed records; those holding bytes that are not UTF-8 are `invalid_encoding`."""
    try:
        return [_text_table(line_numbers, _columns(records, width), width)]
    except UnicodeEncodeError:
        # Arrow takes UTF-8 only, so some record holds a lone surrogate. Only now, in a file that
        # has one, is it worth checking record by record.
        pass
    valid_lines, valid, invalid_lines, invalid = [], [], [], []
    for line, record in zip(line_numbers, records):
        if _NOT_UTF8.search("".join(record)):
            invalid_lines.append(line)
            invalid.append([_escaped(value) for value in record])
        else:
            valid_lines.append(line)
            valid.append(record)
    details = [_INVALID_ENCODING_DETAIL.format("record")] * len(invalid)
    return [
        _text_table(valid_lines, _columns(valid, width), width),
        _text_table(invalid_lines, _columns(invalid, width), width, _INVALID_ENCODING, details),
    ]


def _csv_table(path: Path) -> tuple[pa.Table, tuple[str, ...]]:
    """Parse an RFC 4180 CSV; a record whose field count differs from the header's is malformed."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_SIZE_LIMIT))
    line_numbers, records = [], []
    bad_lines, bad_details, bad_contents = [], [], []
    with _garbage_collection_paused(), _open_text(path) as handle:
        reader = csv.reader(handle)
        header = next((record for record in reader if record), [])
        width = len(header)
        # reader.line_num is the last physical line read, so a record starts one after the previous end.
        last_line = reader.line_num
        for record in reader:
            first_line, last_line = last_line + 1, reader.line_num
            if len(record) == width:
                line_numbers.append(first_line)
                records.append(record)
            elif record:  # a blank line is no record at all
                bad_lines.append(first_line)
                bad_details.append(f"record has {len(record)} fields, the header has {width}")
                bad_contents.append(json.dumps([_escaped(value) for value in record], ensure_ascii=False))
        good = _records_tables(line_numbers, records, width)
        bad = _text_table(bad_lines, None, width, "malformed_row", bad_details, bad_contents)
    # A header name that is not UTF-8 matches no contract column: it is an extra column.
    return pa.concat_tables([*good, bad]), tuple(_escaped(name) for name in header)


def _jsonl_lines(path: Path) -> pa.Table:
    """Every line with its 1-based number and whether it holds bytes that are not UTF-8.

    JSON text cannot hold a raw newline.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _jsonl_lines_not_all_utf8(data)
    # Split in Arrow: a Python list of half a million lines costs more than the rest of the load.
    lines = pc.split_pattern(pa.array([text], pa.large_string()), "\n").flatten()
    return pa.table(
        {
            "_line_number": pa.array(range(1, len(lines) + 1), pa.int64()),
            "_line": lines,
            "_not_utf8": pa.repeat(False, len(lines)),
        }
    )


def _jsonl_lines_not_all_utf8(data: bytes) -> pa.Table:
    """Line by line, for the rare file with bytes that are not UTF-8; such lines keep them as `\\xNN`.

    A newline byte never occurs inside a UTF-8 sequence, so splitting the bytes splits no character.
    """
    lines, not_utf8 = [], []
    for line in data.removeprefix(codecs.BOM_UTF8).split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
            not_utf8.append(False)
        except UnicodeDecodeError:
            lines.append(line.decode("utf-8", "backslashreplace"))
            not_utf8.append(True)
    return pa.table(
        {
            "_line_number": pa.array(range(1, len(lines) + 1), pa.int64()),
            "_line": pa.array(lines, pa.large_string()),
            "_not_utf8": pa.array(not_utf8, pa.bool_()),
        }
    )


def _json_pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _jsonl_batch(con: duckdb.DuckDBPyConnection) -> LandedBatch:
    """Extract every key any object line has; blank lines are skipped, other non-objects are `invalid_json`.

    A line with bytes that are not UTF-8 is `invalid_encoding` even if its escaped text parses.
    """
    # CASE, unlike AND/OR, guarantees json_type never sees text that is not JSON and trim (slow on
    # long text) only runs on the few lines that do not parse.
    objects = f"""
        select
            _line_number,
            _line,
            _not_utf8,
            is_json,
            case when is_json and not _not_utf8 then json_type(_line) = 'OBJECT' else false end as is_object,
        from (select _line_number, _line, _not_utf8, json_valid(_line) as is_json from {LANDED_VIEW})
        where case when is_json then true else {cleaned_text_sql("_line")} is not null end
    """
    keys = tuple(
        key
        for (key,) in con.execute(
            f"select distinct unnest(json_keys(_line)) as key from ({objects}) where is_object order by key"
        ).fetchall()
    )
    pointers = ", ".join(quote_literal(_json_pointer(key)) for key in keys)
    values = f"case when is_object then json_extract_string(_line, [{pointers}]) end" if keys else "null"
    landed = "".join(
        f",\n            landed_values[{index + 1}] as {landed_column(index)}" for index in range(len(keys))
    )
    select_sql = f"""
        select
            _line_number,
            case
                when _not_utf8 then {quote_literal(_INVALID_ENCODING)}
                when not is_object then 'invalid_json'
            end as _structure_reason,
            case
                when _not_utf8 then {quote_literal(_INVALID_ENCODING_DETAIL.format("line"))}
                when not is_json then 'line is not valid JSON'
                when not is_object then 'line is JSON but not an object'
            end as _structure_detail,
            case when is_object then _line else to_json(_line) end as _raw_content{landed}
        from (select *, {values} as landed_values from ({objects}))
    """
    return LandedBatch(select_sql=select_sql, column_names=keys)


def _parquet_batch(con: duckdb.DuckDBPyConnection, path: Path) -> LandedBatch:
    """DuckDB reads Parquet natively; every column is cast to text like the other formats."""
    source = quote_literal(str(path))
    names = tuple(
        name for name, *_ in con.execute(f"describe select * from read_parquet({source})").fetchall()
    )
    landed = "".join(
        f",\n            cast({quote_identifier(name)} as varchar) as {landed_column(index)}"
        for index, name in enumerate(names)
    )
    select_sql = f"""
        select
            file_row_number + 1 as _line_number,
            null::varchar as _structure_reason,
            null::varchar as _structure_detail,
            null::varchar as _raw_content{landed}
        from read_parquet({source}, file_row_number = true)
    """
    return LandedBatch(select_sql=select_sql, column_names=names)
