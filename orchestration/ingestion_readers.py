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
import itertools
import json
import re
from collections import defaultdict, deque
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
# A CSV file is read this many characters at a time (whole lines: a hint to readlines).
_CSV_CHUNK_CHARS = 1 << 20
# What follows a CSV file's last line: a blank line is no record, yet a quoted field still open at
# the end of the file takes it in, which tells that record apart.
_AFTER_LAST_LINE = "\n"
# From inside a quoted field: its text before the quote that closes it (a doubled quote is text).
_QUOTED_TEXT = re.compile(r'[^"]*(?:""[^"]*)*')
_UNCLOSED_QUOTE = "quote opened on line {} is never closed"


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


@dataclass(frozen=True)
class _Cut:
    """A CSV record cut short at a quote that is never closed: it ends on the line that quote opens on."""

    last_line: int
    fields: list[str]
    detail: str


class _CsvLines:
    """A CSV file's physical lines as csv.reader takes them, numbered from 1, that can be read again
    from the first line of the record being parsed.

    A quoted field may hold line breaks, so a record may span lines; a quote that is never closed
    would make the rest of the file (or all up to some later quote) one record. `cut` tells such a
    record, so that parsing can go on from the line after the one that quote opens on.
    """

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        # (number of the first line, lines) of the chunks read and still needed, in file order.
        self._chunks: deque[tuple[int, list[str]]] = deque()
        self._lines_read = 0
        # The first line of the record being parsed: chunks wholly before it are no longer needed.
        self.record_line = 1
        # The blank line given after the file's last one (_AFTER_LAST_LINE), once the end is read.
        self.end_line: int | None = None
        self._reading = self._read()

    def _read(self) -> Iterator[list[str]]:
        while self.end_line is None:
            chunk = self._handle.readlines(_CSV_CHUNK_CHARS)
            if not chunk:
                chunk = [_AFTER_LAST_LINE]
                self.end_line = self._lines_read + 1
            while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= self.record_line:
                self._chunks.popleft()
            self._chunks.append((self._lines_read + 1, chunk))
            self._lines_read += len(chunk)
            yield chunk

    def starting_at(self, number: int) -> Iterator[str]:
        """The lines from `number` (not before `record_line`) to the end of the file."""
        self.record_line = number
        kept = [chunk[max(number - first, 0) :] for first, chunk in self._chunks if first + len(chunk) > number]
        return itertools.chain(*kept, itertools.chain.from_iterable(self._reading))

    def _between(self, first: int, last: int) -> list[str]:
        """Lines `first` to `last`, already read."""
        lines: list[str] = []
        for start, chunk in self._chunks:
            if start <= last and start + len(chunk) > first:
                lines += chunk[max(first - start, 0) : last - start + 1]
        return lines

    def cut(self, first: int, last: int, *, oversized: bool = False) -> _Cut | None:
        """The record read from lines `first` to `last`, cut at a quote never closed; None if it has none.

        Each line after the first starts inside a quoted field. A quote in it that is not doubled
        closes the field if a comma or a line break follows (the record then only goes on past the
        line if a quote opens again on it). If anything else follows, or the file ends first, or
        (`oversized`) the field outgrew the size limit, the quote is taken as never closed.
        """
        if oversized and first == last:
            return None  # one field too large for a line of its own: no quote runs on
        opened = first
        for number, line in enumerate(self._between(first + 1, last), first + 1):
            quoted = _QUOTED_TEXT.match(line).end()  # it matches, if only the empty text
            if quoted == len(line):
                continue
            if line[quoted + 1 : quoted + 2] not in ("", ",", "\r", "\n"):
                return self._cut_at(first, opened, f"the next quote, on line {number}, is followed by text")
            opened = number
        if last == self.end_line:
            return self._cut_at(first, opened, "")
        if oversized:
            return self._cut_at(first, opened, f"within the {csv.field_size_limit():,} characters a field may hold")
        return None

    def _cut_at(self, first: int, opened: int, why: str) -> _Cut:
        lines = self._between(first, opened)
        # The quoted field ends with its line, without the line break.
        lines[-1] = lines[-1].rstrip("\r\n")
        detail = _UNCLOSED_QUOTE.format(opened) + (f" ({why})" if why else "")
        return _Cut(last_line=opened, fields=next(csv.reader(lines)), detail=detail)


def _oversized_field(error: csv.Error) -> bool:
    return str(error).startswith("field larger than field limit")


def _csv_header(lines: _CsvLines) -> tuple[list[str], int]:
    """The first record that is not blank and its last line; one with a quote never closed is cut there."""
    reader = csv.reader(lines.starting_at(1))
    last_line = 0
    try:
        for record in reader:
            first_line, last_line = last_line + 1, reader.line_num
            if first_line != last_line and (cut := lines.cut(first_line, last_line)):
                return cut.fields, cut.last_line
            if record:
                return record, last_line
    except csv.Error as error:
        if not (_oversized_field(error) and (cut := lines.cut(last_line + 1, reader.line_num, oversized=True))):
            raise
        return cut.fields, cut.last_line
    return [], last_line


def _csv_table(path: Path) -> tuple[pa.Table, tuple[str, ...]]:
    """Parse an RFC 4180 CSV; a record whose field count differs from the header's is malformed.

    So is a record with a quote that is never closed: it is cut at the end of the line the quote
    opens on, and parsing goes on from the next line as if that record had ended there.
    """
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_SIZE_LIMIT))
    line_numbers, records = [], []
    bad_lines, bad_details, bad_contents = [], [], []

    def malformed(first_line: int, record: list[str], detail: str) -> None:
        bad_lines.append(first_line)
        bad_details.append(detail)
        bad_contents.append(json.dumps([_escaped(value) for value in record], ensure_ascii=False))

    with _garbage_collection_paused(), _open_text(path) as handle:
        lines = _CsvLines(handle)
        header, last_line = _csv_header(lines)
        width = len(header)
        # One reader to the end of the file, and after each record cut at an unclosed quote a new
        # one from the next line.
        while last_line != lines.end_line:
            offset = last_line
            reader = csv.reader(lines.starting_at(offset + 1))
            try:
                for record in reader:
                    # reader.line_num is the last physical line read, so a record starts one after the previous end.
                    first_line, last_line = last_line + 1, offset + reader.line_num
                    lines.record_line = last_line + 1
                    if first_line != last_line and (cut := lines.cut(first_line, last_line)):
                        malformed(first_line, cut.fields, cut.detail)
                        last_line = cut.last_line
                        break
                    if len(record) == width:
                        line_numbers.append(first_line)
                        records.append(record)
                    elif record:  # a blank line is no record at all
                        malformed(first_line, record, f"record has {len(record)} fields, the header has {width}")
            except csv.Error as error:
                first_line, reached = last_line + 1, offset + reader.line_num
                if not (_oversized_field(error) and (cut := lines.cut(first_line, reached, oversized=True))):
                    raise
                malformed(first_line, cut.fields, cut.detail)
                last_line = cut.last_line
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
