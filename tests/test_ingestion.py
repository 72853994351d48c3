"""Ingestion: landed files of every format and source → raw.<source> / raw.quarantine / raw.load_ledger."""

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration import ingestion, ingestion_readers
from orchestration.contract import (
    EARLIEST_EVENT_TIME,
    EMAIL,
    FUTURE_TOLERANCE,
    INTERACTIONS,
    MAX_DISCOUNT_AMOUNT,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    SOCIAL,
    SOURCES,
    TRANSACTIONS,
)
from orchestration.ingestion import ensure_raw_schema, ingest_source, load_labels
from orchestration.settings import PROJECT_DIR

LOADED_AT = datetime(2026, 1, 2, 3, 4, 5)
# What a timestamp outside 2000-01-01 .. LOADED_AT + 1 day is told.
TIME_RANGE = (
    "must be between 2000-01-01 00:00:00 and 2026-01-03 03:04:05 UTC (an implausibly old or a future time)"
)

GOOD_TRANSACTION = {
    "order_id": "o-1",
    "line_number": "1",
    "order_ts": "2025-03-01T14:03:22Z",
    "customer_id": "cust-1",
    "customer_email": "ann@example.com",
    "customer_phone": "+44 20 7946 0000",
    "channel": "web",
    "sku": "sku-1",
    "category": "toys",
    "quantity": "2",
    "unit_price": "9.99",
    "discount_amount": "0.50",
    "currency": "GBP",
    "status": "completed",
    "country": "GB",
    "ip_address": "192.0.2.1",
    "campaign_id": "spring",
}
GOOD_INTERACTION = {
    "event_id": "e-1",
    "event_ts": "2025-03-01T10:00:00Z",
    "session_id": "s-1",
    "customer_id": "cust-1",
    "channel": "app",
    "event_type": "page_view",
    "sku": "sku-1",
    "device": "mobile",
    "ip_address": "192.0.2.7",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "campaign_id": None,
}


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    ensure_raw_schema(connection)
    yield connection
    connection.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


def land(landing: Path, source: str, name: str, content: str | bytes) -> Path:
    path = landing / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def csv_text(rows: list[dict[str, str | None]], header: list[str] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header or list(rows[0]), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def transaction(**overrides: str | None) -> dict[str, str | None]:
    return {**GOOD_TRANSACTION, **overrides}


def ingest(con: duckdb.DuckDBPyConnection, landing: Path, source: str = "transactions") -> ingestion.IngestReport:
    return ingest_source(con, SOURCES[source], landing, now=LOADED_AT)


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return rows(con, "select _line_number, reason_code, reason_detail from raw.quarantine order by _line_number")


def test_schema_is_idempotent_and_has_typed_columns_and_lineage(con: duckdb.DuckDBPyConnection) -> None:
    ensure_raw_schema(con)
    types = dict(
        rows(con, "select column_name, data_type from information_schema.columns where table_name = 'transactions'")
    )
    assert types["quantity"] == "BIGINT"
    assert types["unit_price"] == "DECIMAL(18,4)"
    assert types["order_ts"] == "TIMESTAMP"
    assert types["channel"] == "VARCHAR"
    for lineage in ("_load_id", "_file_hash", "_file_path", "_line_number", "_loaded_at"):
        assert lineage in types
    tables = {name for (name,) in rows(con, "select table_name from information_schema.tables where table_schema = 'raw'")}
    assert tables == set(SOURCES) | {"quarantine", "load_ledger", "anomaly_labels"}


def test_csv_rows_are_trimmed_typed_normalised_and_defaulted(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    land(
        landing,
        "transactions",
        "orders.csv",
        csv_text(
            [
                transaction(order_id="  o-1 ", channel=" Social Shop", status="Completed", category=""),
                transaction(order_id="o-2", channel="social-shop", line_number="", discount_amount=None),
            ]
        ),
    )
    report = ingest(con, landing)
    assert (report.loaded_rows, report.quarantined_rows) == (2, 0)
    assert rows(
        con,
        "select order_id, line_number, channel, status, category, quantity, unit_price, discount_amount, "
        "_file_path, _line_number, _loaded_at, _load_id from raw.transactions order by order_id",
    ) == [
        ("o-1", 1, "social_shop", "completed", None, 2, Decimal("9.99"), Decimal("0.5"), "transactions/orders.csv", 2, LOADED_AT, 1),
        ("o-2", 1, "social_shop", "completed", "toys", 2, Decimal("9.99"), Decimal("0"), "transactions/orders.csv", 3, LOADED_AT, 1),
    ]


@pytest.mark.parametrize(
    ("landed", "expected_utc"),
    [
        ("2025-03-01T14:03:22Z", datetime(2025, 3, 1, 14, 3, 22)),
        ("2025-03-01 14:03:22+01:00", datetime(2025, 3, 1, 13, 3, 22)),
        ("2025-03-01T14:03:22-05:30", datetime(2025, 3, 1, 19, 33, 22)),
        ("2025-03-01T14:03:22", datetime(2025, 3, 1, 14, 3, 22)),
        ("2025-03-01T14:03:22.250Z", datetime(2025, 3, 1, 14, 3, 22, 250000)),
        ("1740837802", datetime(2025, 3, 1, 14, 3, 22)),
        ("1740837802.5", datetime(2025, 3, 1, 14, 3, 22, 500000)),
    ],
)
def test_timestamp_forms_become_naive_utc(
    con: duckdb.DuckDBPyConnection, landing: Path, landed: str, expected_utc: datetime
) -> None:
    land(landing, "transactions", "ts.csv", csv_text([transaction(order_ts=landed)]))
    ingest(con, landing)
    assert rows(con, "select order_ts from raw.transactions") == [(expected_utc,)]


def test_naive_timestamps_are_utc_whatever_the_session_zone(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    con.execute("set TimeZone = 'America/New_York'")
    land(landing, "transactions", "ts.csv", csv_text([transaction(order_ts="2025-03-01 14:03:22")]))
    ingest(con, landing)
    assert rows(con, "select cast(order_ts as varchar) from raw.transactions") == [("2025-03-01 14:03:22",)]
    assert rows(con, "select current_setting('TimeZone')") == [("America/New_York",)]


@pytest.mark.parametrize(
    ("overrides", "reason_code", "reason_detail"),
    [
        ({"order_id": "  "}, "missing_required_field", "order_id: required value is missing"),
        ({"order_ts": "1st of March"}, "invalid_timestamp", "order_ts: not a timestamp"),
        ({"order_ts": "2025-02-30T10:00:00"}, "invalid_timestamp", "order_ts: not a timestamp"),
        ({"quantity": "two"}, "invalid_integer", "quantity: not an integer"),
        ({"quantity": "1.5"}, "invalid_integer", "quantity: not an integer"),
        ({"unit_price": "9,99"}, "invalid_decimal", "unit_price: not a decimal number"),
        ({"quantity": "0"}, "out_of_range", "quantity: must be > 0"),
        ({"quantity": "-3"}, "out_of_range", "quantity: must be > 0"),
        ({"unit_price": "-0.01"}, "out_of_range", "unit_price: must be >= 0"),
        ({"line_number": "0"}, "out_of_range", "line_number: must be >= 1"),
        ({"channel": "fax"}, "unknown_enum", "channel: not one of web, app, marketplace, store, social_shop"),
        ({"status": "lost"}, "unknown_enum", "status: not one of completed, cancelled, refunded"),
        ({"currency": "GBPX"}, "value_too_long", "currency: longer than 3 characters"),
        ({"country": "GBR"}, "value_too_long", "country: longer than 2 characters"),
        # Valid numbers, too large for the downstream DECIMAL(18, 4) once multiplied and converted.
        ({"quantity": "10000000000", "unit_price": "20000.00"}, "out_of_range", "quantity: must be <= 1,000,000"),
        ({"unit_price": "10000000.01"}, "out_of_range", "unit_price: must be <= 10,000,000"),
        ({"discount_amount": "10000000000001"}, "out_of_range", "discount_amount: must be <= 10,000,000,000,000"),
        # Epoch milliseconds read as seconds: the year 58856.
        ({"order_ts": "1795168800000"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
        ({"order_ts": "infinity"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
        ({"order_ts": "-infinity"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
        ({"order_ts": "0001-01-01"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
        ({"order_ts": "0"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
        ({"order_ts": "1999-12-31T23:59:59.999Z"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
        ({"order_ts": "2026-01-03T03:04:05.001Z"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
        # 2026-01-03 05:00 UTC: the offset counts.
        ({"order_ts": "2026-01-03T00:00:00-05:00"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
        ({"order_ts": "2100-01-01T00:00:00Z"}, "out_of_range", f"order_ts: {TIME_RANGE}"),
    ],
)
def test_each_bad_value_is_quarantined_with_its_reason(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    overrides: dict[str, str],
    reason_code: str,
    reason_detail: str,
) -> None:
    land(landing, "transactions", "mixed.csv", csv_text([transaction(), transaction(**{"order_id": "o-2", **overrides})]))
    report = ingest(con, landing)
    assert (report.loaded_rows, report.quarantined_rows) == (1, 1)
    assert report.quarantine_by_reason == {reason_code: 1}
    assert quarantine(con) == [(3, reason_code, reason_detail)]
    assert rows(con, "select _line_number from raw.transactions") == [(2,)]


def test_values_at_the_limits_load(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    at_limits = [
        transaction(order_ts="2000-01-01T00:00:00Z", quantity=str(MAX_QUANTITY), unit_price=str(MAX_UNIT_PRICE)),
        transaction(order_id="o-2", order_ts="2026-01-03T03:04:05Z", discount_amount=str(MAX_DISCOUNT_AMOUNT)),
        # 22:00 in New York is 03:00 UTC the next day: ahead of the load, within the day of tolerance.
        transaction(order_id="o-3", order_ts="2026-01-02T22:00:00-05:00"),
    ]
    land(landing, "transactions", "limits.csv", csv_text(at_limits))
    report = ingest(con, landing)
    assert (report.loaded_rows, report.quarantined_rows) == (3, 0)


def test_largest_allowed_line_fits_the_reporting_currency_cast(con: duckdb.DuckDBPyConnection) -> None:
    """int_order_lines_in_reporting_currency casts amount / rate to DECIMAL(18, 4): the largest line
    and discount must fit at the seed's strongest currency and at 0.2, room for stronger ones."""
    rates = PROJECT_DIR / "seeds" / "exchange_rates.csv"
    (strongest,) = con.execute(f"select min(units_per_reporting_currency) from read_csv('{rates}')").fetchone()
    smallest_rate = min(strongest, 0.2)
    # Raises "Could not cast value ... to DECIMAL(18,4)" when they do not.
    amounts = con.execute(
        """
        select
            cast($quantity::bigint * $price::decimal(18, 4) / $rate as decimal(18, 4)),
            cast($discount::decimal(18, 4) / $rate as decimal(18, 4))
        """,
        {"quantity": MAX_QUANTITY, "price": MAX_UNIT_PRICE, "discount": MAX_DISCOUNT_AMOUNT, "rate": smallest_rate},
    ).fetchone()
    assert all(amount >= MAX_QUANTITY * MAX_UNIT_PRICE for amount in amounts)


GOOD_ROWS = {
    "transactions": GOOD_TRANSACTION,
    "interactions": GOOD_INTERACTION,
    "social": {"platform": "instagram", "account_handle": "@brand", "metric_ts": "2025-03-01T10:00:00Z", "likes": 3},
    "email": {"campaign_id": "c1", "recipient_email": "a@example.com", "event_type": "open", "event_ts": "1740837802"},
}


@pytest.mark.parametrize("spec", [TRANSACTIONS, INTERACTIONS, SOCIAL, EMAIL], ids=lambda spec: spec.name)
def test_every_timestamp_column_is_bounded_by_the_load_time(
    con: duckdb.DuckDBPyConnection, landing: Path, spec
) -> None:
    """Without `now`, the bound is the wall clock: a row a month ahead is quarantined, not loaded."""
    now = datetime.now(timezone.utc)
    timestamps = [column.name for column in spec.columns if column.type == "timestamp"]
    good = GOOD_ROWS[spec.name]
    lines = [json.dumps({**good, **{name: (now - timedelta(hours=1)).isoformat() for name in timestamps}})]
    for name in timestamps:
        lines.append(json.dumps({**good, name: (now + timedelta(days=31)).isoformat()}))
    land(landing, spec.name, "rows.jsonl", "\n".join(lines) + "\n")
    report = ingest_source(con, spec, landing)
    assert (report.loaded_rows, report.quarantine_by_reason) == (1, {"out_of_range": len(timestamps)})
    details = [detail for _, _, detail in quarantine(con)]
    assert [detail.split(":")[0] for detail in details] == timestamps
    assert all("must be between 2000-01-01 00:00:00 and " in detail for detail in details)


def test_social_counts_beyond_what_downstream_adds_up_are_quarantined(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    # likes + comments + shares would overflow BIGINT in int_social_metric_components on every run.
    huge = {**GOOD_ROWS["social"], "post_id": "p2", "likes": 5 * 10**18, "shares": 5 * 10**18}
    land(landing, "social", "counts.jsonl", json.dumps(GOOD_ROWS["social"]) + "\n" + json.dumps(huge) + "\n")
    report = ingest(con, landing, "social")
    assert report.loaded_rows == 1
    assert quarantine(con) == [(2, "out_of_range", "likes: must be <= 1,000,000,000,000")]


def test_documented_limits_match_the_contract() -> None:
    text = (PROJECT_DIR / "docs" / "input-contract.md").read_text()
    limits = text.split("\n## Limits", 1)[1]
    documented = {
        tuple(cell.strip() for cell in line.strip("|").split("|"))
        for line in limits.splitlines()
        if line.startswith("| ") and not line.startswith("| source")
    }
    in_code = {
        (spec.name, column.name, f"{column.max_value:,}")
        for spec in SOURCES.values()
        for column in spec.columns
        if column.max_value is not None
    }
    assert documented == in_code
    assert f"from {EARLIEST_EVENT_TIME:%Y-%m-%d %H:%M:%S} UTC to the load time plus {FUTURE_TOLERANCE.days} day" in (
        re.sub(r"\s+", " ", limits)
    )


# Latin-1, as a spreadsheet exports it: "é" is the single byte E9, which UTF-8 never has alone.
LATIN_1_CATEGORY = "café_déco".encode("latin-1")


def test_csv_records_with_bytes_that_are_not_utf8_are_quarantined(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    header = ",".join([*GOOD_TRANSACTION, "r\xe9gion"]).encode("latin-1")
    good = ",".join(GOOD_TRANSACTION.values()).encode()
    latin_1 = good.replace(b"o-1", b"o-2").replace(b",toys,", b"," + LATIN_1_CATEGORY + b",")
    latin_1_email = good.replace(b"o-1", b"o-3").replace(b"ann@", b"\xe4nn@")
    utf_8 = good.replace(b"o-1", b"o-4").replace(b",toys,", b"," + "café_déco".encode() + b",")
    # Only its extra column is not UTF-8, yet the row as landed is not: it is quarantined too.
    latin_1_extra = good.replace(b"o-1", b"o-5") + b",\xe9"
    malformed = b"o-6," + LATIN_1_CATEGORY
    records = [header, good + b",n", latin_1 + b",n", latin_1_email + b",n", latin_1_extra, utf_8 + b",n", malformed]
    land(landing, "transactions", "latin1.csv.gz", gzip.compress(b"\n".join(records) + b"\n"))
    report = ingest(con, landing)
    assert (report.loaded_rows, report.quarantine_by_reason) == (2, {"invalid_encoding": 3, "malformed_row": 1})
    assert rows(con, "select order_id, category from raw.transactions order by 1") == [
        ("o-1", "toys"),
        ("o-4", "café_déco"),
    ]
    detail = "record holds bytes that are not UTF-8 (kept as \\xNN in raw_content)"
    assert quarantine(con) == [
        (3, "invalid_encoding", detail),
        (4, "invalid_encoding", detail),
        (5, "invalid_encoding", detail),
        (7, "malformed_row", "record has 2 fields, the header has 18"),
    ]
    landed = rows(con, "select raw_content from raw.quarantine order by _line_number")
    contents = [json.loads(content) for (content,) in landed]
    assert contents[0] == {**GOOD_TRANSACTION, "order_id": "o-2", "category": "caf\\xe9_d\\xe9co", "r\\xe9gion": "n"}
    assert contents[1]["customer_email"] == "\\xe4nn@example.com"
    assert contents[2]["r\\xe9gion"] == "\\xe9"
    assert contents[3] == ["o-6", "caf\\xe9_d\\xe9co"]


def test_jsonl_lines_with_bytes_that_are_not_utf8_are_quarantined(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    def event_line(event_id: str, sku: bytes) -> bytes:
        return json.dumps({**GOOD_INTERACTION, "event_id": event_id, "sku": "SKU"}).encode().replace(b"SKU", sku)

    good = event_line("e-1", b"sku-1")
    latin_1 = event_line("e-2", LATIN_1_CATEGORY)
    # A backslash, then byte E9: escaped to \\xNN, the line is valid JSON (an escaped backslash, "xe9").
    escaped_parses = event_line("e-3", b"\\\xe9")
    utf_8 = json.dumps({**GOOD_INTERACTION, "event_id": "e-4", "sku": "café"}, ensure_ascii=False).encode()
    land(landing, "interactions", "events.ndjson", b"\n".join([good, latin_1, escaped_parses, b"", utf_8]) + b"\n")
    report = ingest(con, landing, "interactions")
    assert (report.loaded_rows, report.quarantine_by_reason) == (2, {"invalid_encoding": 2})
    assert rows(con, "select event_id, sku from raw.interactions order by 1") == [("e-1", "sku-1"), ("e-4", "café")]
    detail = "line holds bytes that are not UTF-8 (kept as \\xNN in raw_content)"
    assert quarantine(con) == [(2, "invalid_encoding", detail), (3, "invalid_encoding", detail)]
    # Each kept as its line of text, the bytes that are not UTF-8 written as \\xNN.
    landed = rows(con, "select raw_content from raw.quarantine order by _line_number")
    as_landed = [line.decode("latin-1").replace("\xe9", "\\xe9") for line in (latin_1, escaped_parses)]
    assert [json.loads(content) for (content,) in landed] == as_landed


def test_parquet_strings_that_are_not_utf8_fail_naming_the_file(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    """Parquet requires UTF-8 strings and DuckDB refuses to read others: the file is unreadable."""
    landed = {**GOOD_INTERACTION, "sku": LATIN_1_CATEGORY}
    # Arrow checks UTF-8 when casting, not when viewing the same bytes as strings.
    table = pa.table(
        {name: pa.array([value], pa.binary()).view(pa.string()) for name, value in landed.items() if value is not None}
    )
    pq.write_table(table, land(landing, "interactions", "events.parquet", b""))
    with pytest.raises(ingestion.LandedFileError, match="interactions/events.parquet"):
        ingest(con, landing, "interactions")
    assert rows(con, "select count(*) from raw.load_ledger") == [(0,)]


def test_first_failing_rule_in_column_order_gives_the_reason(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    land(landing, "transactions", "two_faults.csv", csv_text([transaction(order_ts="soon", quantity="-1")]))
    ingest(con, landing)
    assert [reason for _, reason, _ in quarantine(con)] == ["invalid_timestamp"]


def test_quarantine_keeps_the_row_as_landed_but_details_never_echo_pii(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    bad = transaction(order_id="o-2", customer_email=" Bob@Example.com ", quantity="0", extra_column="kept")
    land(landing, "transactions", "pii.csv", csv_text([bad], header=[*GOOD_TRANSACTION, "extra_column"]))
    ingest(con, landing)
    ((raw_content, detail),) = rows(con, "select raw_content, reason_detail from raw.quarantine")
    assert json.loads(raw_content) == bad
    pii_values = [bad[column.name] for column in TRANSACTIONS.columns if column.pii]
    assert not any(value.strip() in detail for value in pii_values)


def test_line_numbers_count_physical_lines_of_quoted_multiline_fields(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    header = ",".join(GOOD_TRANSACTION)
    row = ",".join(GOOD_TRANSACTION.values())
    multiline = row.replace(",toys,", ',"toys\nand\r\ngames",')
    malformed = "o-9,too,few"
    # line 1 header, 2 row, 3-5 one record over three lines, 6 blank, 7 row, 8 malformed, 9 row
    land(landing, "transactions", "lines.csv", "\n".join([header, row, multiline, "", row, malformed, row]) + "\n")
    report = ingest(con, landing)
    assert (report.landed_rows, report.loaded_rows, report.quarantined_rows) == (5, 4, 1)
    assert rows(con, "select _line_number from raw.transactions order by 1") == [(2,), (3,), (7,), (9,)]
    assert rows(con, "select category from raw.transactions where _line_number = 3") == [("toys\nand\r\ngames",)]
    assert quarantine(con) == [(8, "malformed_row", "record has 3 fields, the header has 17")]
    assert rows(con, "select raw_content from raw.quarantine") == [('["o-9", "too", "few"]',)]


def unclosed_quote(row: str) -> str:
    """`row` with a quote opened before its category that is never closed."""
    return row.replace(",toys,", ',"toys,')


def fields_up_to_the_line_end(line: str) -> list[str]:
    """What a line with an unclosed quote holds: its fields, the quoted one running to the line end."""
    before, quoted = line.split(',"')
    return [*before.split(","), quoted]


@pytest.mark.parametrize(
    ("name", "newline", "encode", "chunk_chars"),
    [
        ("orders.csv", "\n", str.encode, None),
        ("orders.csv.gz", "\r\n", lambda text: gzip.compress(("\ufeff" + text).encode()), None),
        # the file read a line at a time: every record, cut or not, crosses chunk boundaries
        ("orders.csv", "\n", str.encode, 1),
    ],
    ids=["lf", "crlf_gzip_bom", "one_line_chunks"],
)
def test_an_unclosed_quote_costs_only_the_record_it_opens_in(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    newline: str,
    encode,
    chunk_chars: int | None,
) -> None:
    if chunk_chars is not None:
        monkeypatch.setattr(ingestion_readers, "_CSV_CHUNK_CHARS", chunk_chars)
    header = ",".join(GOOD_TRANSACTION)
    row = ",".join(GOOD_TRANSACTION.values())
    broken = unclosed_quote(row.replace("o-1", "o-2"))
    # line 1 header, 2 row, 3 quote never closed, 4 row, 5 blank, 6 row: without a closing quote the
    # parser read lines 3-6 as one record, whose field count made it one malformed row.
    lines = [header, row, broken, row.replace("o-1", "o-3"), "", row.replace("o-1", "o-4")]
    land(landing, "transactions", name, encode(newline.join(lines) + newline))
    report = ingest(con, landing)
    assert (report.landed_rows, report.loaded_rows, report.quarantined_rows) == (4, 3, 1)
    assert rows(con, "select order_id, _line_number from raw.transactions order by 2") == [
        ("o-1", 2),
        ("o-3", 4),
        ("o-4", 6),
    ]
    assert quarantine(con) == [(3, "malformed_row", "quote opened on line 3 is never closed")]
    ((raw_content,),) = rows(con, "select raw_content from raw.quarantine")
    assert json.loads(raw_content) == fields_up_to_the_line_end(broken)


def test_each_unclosed_quote_is_one_malformed_row_even_where_a_later_quote_seems_to_close_it(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    header = ",".join(GOOD_TRANSACTION)
    row = ",".join(GOOD_TRANSACTION.values())
    quoted = row.replace("o-1", "o-3").replace(",toys,", ',"toys, games",')
    # The parser took the quote opening "toys, games" on line 4 for the one closing line 3's: o-2 had
    # 17 fields, so it loaded with two lines in its category, and o-3 was gone.
    lines = [header, row, unclosed_quote(row.replace("o-1", "o-2")), quoted, row.replace("o-1", "o-4")]
    lines += [unclosed_quote(row.replace("o-1", "o-5")), row.replace("o-1", "o-6")]
    land(landing, "transactions", "orders.csv", "\n".join(lines) + "\n")
    report = ingest(con, landing)
    assert (report.landed_rows, report.loaded_rows, report.quarantined_rows) == (6, 4, 2)
    assert rows(con, "select order_id, category, _line_number from raw.transactions order by 3") == [
        ("o-1", "toys", 2),
        ("o-3", "toys, games", 4),
        ("o-4", "toys", 5),
        ("o-6", "toys", 7),
    ]
    assert quarantine(con) == [
        (3, "malformed_row", "quote opened on line 3 is never closed (the next quote, on line 4, is followed by text)"),
        (6, "malformed_row", "quote opened on line 6 is never closed"),
    ]


def test_a_quoted_line_break_closed_later_stays_one_record_and_a_quote_open_at_the_end_is_cut(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    header = ",".join(GOOD_TRANSACTION)
    row = ",".join(GOOD_TRANSACTION.values())
    multiline = row.replace("o-1", "o-2").replace(",toys,", ',"toys\nand ""games""",')
    # line 1 header, 2 row, 3-4 one record, 5 a quote never closed and no line break at the end
    lines = [header, row, multiline, unclosed_quote(row.replace("o-1", "o-3"))]
    land(landing, "transactions", "orders.csv", "\n".join(lines))
    report = ingest(con, landing)
    assert (report.landed_rows, report.loaded_rows, report.quarantined_rows) == (3, 2, 1)
    assert rows(con, "select order_id, category, _line_number from raw.transactions order by 3") == [
        ("o-1", "toys", 2),
        ("o-2", 'toys\nand "games"', 3),
    ]
    assert quarantine(con) == [(5, "malformed_row", "quote opened on line 5 is never closed")]


def test_an_unclosed_quote_in_the_header_ends_it_at_its_line(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    """The rows are no longer read into the header's last name: each is quarantined for its fields."""
    header = ",".join(GOOD_TRANSACTION).replace(",category,", ',"category,')
    row = ",".join(GOOD_TRANSACTION.values())
    land(landing, "transactions", "orders.csv", "\n".join([header, row, row.replace("o-1", "o-2")]) + "\n")
    report = ingest(con, landing)
    assert (report.landed_rows, report.quarantined_rows) == (2, 2)
    assert quarantine(con) == [(line, "malformed_row", "record has 17 fields, the header has 9") for line in (2, 3)]


@pytest.fixture
def field_size_limit_2000(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The CSV reader's field size limit at 2,000 characters (64 MiB in earnest), restored after."""
    monkeypatch.setattr(ingestion_readers, "_CSV_FIELD_SIZE_LIMIT", 2_000)
    limit = csv.field_size_limit(2_000)
    yield 2_000
    csv.field_size_limit(limit)


def test_a_quote_still_open_after_a_field_size_limit_of_text_is_cut_at_its_line(
    con: duckdb.DuckDBPyConnection, landing: Path, field_size_limit_2000: int
) -> None:
    """Rather than the file failing because the rest of it does not fit in one field."""
    row = ",".join(GOOD_TRANSACTION.values())
    later = [row.replace("o-1", f"o-{number}") for number in range(3, 40)]
    lines = [",".join(GOOD_TRANSACTION), row, unclosed_quote(row.replace("o-1", "o-2")), *later]
    land(landing, "transactions", "orders.csv", "\n".join(lines) + "\n")
    report = ingest(con, landing)
    assert (report.loaded_rows, report.quarantined_rows) == (38, 1)
    assert quarantine(con) == [
        (3, "malformed_row", "quote opened on line 3 is never closed (within the 2,000 characters a field may hold)")
    ]
    assert rows(con, "select max(_line_number) from raw.transactions") == [(40,)]


def test_a_line_with_a_field_beyond_the_size_limit_fails_the_load_naming_the_file(
    con: duckdb.DuckDBPyConnection, landing: Path, field_size_limit_2000: int
) -> None:
    """No quote runs on, so nothing can be cut: the file is refused, not the run crashed."""
    row = ",".join(GOOD_TRANSACTION.values()).replace("o-1", "o-" + "1" * (field_size_limit_2000 + 1_000))
    land(landing, "transactions", "orders.csv", "\n".join([",".join(GOOD_TRANSACTION), row]) + "\n")
    with pytest.raises(ingestion.LandedFileError, match="cannot load transactions/orders.csv: field larger"):
        ingest(con, landing)


def test_headers_match_case_insensitively_and_extra_or_missing_optional_columns_are_fine(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    required = [column.name for column in TRANSACTIONS.columns if column.required]
    header = [f" {name.upper()} " for name in required] + ["loyalty_tier"]
    values = [GOOD_TRANSACTION[name] for name in required] + ["gold"]
    land(landing, "transactions", "narrow.csv", ",".join(header) + "\n" + ",".join(values) + "\n")
    report = ingest(con, landing)
    assert report.loaded_rows == 1
    assert rows(con, "select order_id, customer_id, country, line_number, discount_amount from raw.transactions") == [
        ("o-1", None, None, 1, Decimal("0"))
    ]


def test_missing_required_column_quarantines_every_row(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    header = [name for name in GOOD_TRANSACTION if name not in ("order_ts", "sku")]
    land(landing, "transactions", "no_ts.csv", csv_text([transaction(), transaction(order_id="o-2")], header=header))
    report = ingest(con, landing)
    assert (report.loaded_rows, report.quarantined_rows) == (0, 2)
    assert quarantine(con) == [
        (line, "missing_column", "required column(s) absent from the file: order_ts, sku") for line in (2, 3)
    ]


def test_jsonl_interactions_with_invalid_lines(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    good = json.dumps({**GOOD_INTERACTION, "Event_Type": "Add To Cart", "event_type": None, "extra": {"a": 1}})
    anonymous = json.dumps({**GOOD_INTERACTION, "event_id": "e-2", "customer_id": None, "device": None})
    bad_enum = json.dumps({**GOOD_INTERACTION, "event_id": "e-3", "device": "watch"})
    lines = [good, "{not json", "", "[1, 2]", anonymous + "\r", "   ", bad_enum]
    land(landing, "interactions", "day/events.jsonl", "\n".join(lines) + "\n")
    report = ingest(con, landing, "interactions")
    assert (report.landed_rows, report.loaded_rows, report.quarantined_rows) == (5, 2, 3)
    assert rows(
        con, "select event_id, event_type, customer_id, device, _line_number, _file_path from raw.interactions order by 1"
    ) == [
        ("e-1", "add_to_cart", "cust-1", "mobile", 1, "interactions/day/events.jsonl"),
        ("e-2", "page_view", None, None, 5, "interactions/day/events.jsonl"),
    ]
    assert rows(con, "select _line_number, reason_code, raw_content from raw.quarantine order by 1") == [
        (2, "invalid_json", json.dumps("{not json")),
        (4, "invalid_json", json.dumps("[1, 2]")),
        (7, "unknown_enum", bad_enum),
    ]


def test_parquet_social_keeps_row_index_as_line_number(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    table = pa.table(
        {
            "Platform": ["Instagram", "tiktok", "myspace"],
            "account_handle": ["@brand", "@fan_123", "@brand"],
            "post_id": ["p1", None, "p3"],
            "metric_ts": pa.array(
                [datetime(2025, 3, 1, 10), datetime(2025, 3, 1, 11), datetime(2025, 3, 1, 12)], pa.timestamp("us", "UTC")
            ),
            "impressions": pa.array([1200, None, 5], pa.int64()),
            "likes": pa.array([3.0, 0.0, 1.0], pa.float64()),
            "mentions": pa.array([None, 4, None], pa.int32()),
        }
    )
    path = land(landing, "social", "metrics.parquet", b"")
    pq.write_table(table, path)
    report = ingest(con, landing, "social")
    assert (report.loaded_rows, report.quarantine_by_reason) == (2, {"unknown_enum": 1})
    assert rows(
        con, "select platform, post_id, metric_ts, impressions, likes, mentions, clicks, _line_number from raw.social order by 8"
    ) == [
        ("instagram", "p1", datetime(2025, 3, 1, 10), 1200, 3, None, None, 1),
        ("tiktok", None, datetime(2025, 3, 1, 11), None, 0, 4, None, 2),
    ]
    assert quarantine(con) == [(3, "unknown_enum", "platform: not one of instagram, tiktok, facebook, x, youtube, other")]


def test_gzipped_email_csv(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    text = csv_text(
        [
            {"campaign_id": "c1", "recipient_email": "ann@example.com", "event_type": "Open", "event_ts": "1740837802"},
            {"campaign_id": "c1", "recipient_email": "", "event_type": "click", "event_ts": "2025-03-01T14:03:22Z"},
        ]
    )
    land(landing, "email", "2025/03/events.csv.gz", gzip.compress(text.encode()))
    report = ingest(con, landing, "email")
    assert (report.loaded_rows, report.quarantined_rows) == (1, 1)
    assert rows(con, "select campaign_id, recipient_email, event_type, event_ts, link_url from raw.email") == [
        ("c1", "ann@example.com", "open", datetime(2025, 3, 1, 14, 3, 22), None)
    ]
    assert quarantine(con) == [(3, "missing_required_field", "recipient_email: required value is missing")]


def test_same_bytes_under_another_name_load_once_and_rerun_changes_nothing(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    content = csv_text([transaction(), transaction(order_id="o-2", quantity="0")])
    land(landing, "transactions", "a.csv", content)
    land(landing, "transactions", "copy/b.csv", content)
    land(landing, "transactions", "empty.csv", "")
    land(landing, "transactions", "notes.txt", content)
    first = ingest(con, landing)
    assert (first.files_seen, first.files_loaded, first.files_skipped_duplicate) == (3, 2, 1)
    assert [loaded.file_path for loaded in first.loaded_files] == ["transactions/a.csv", "transactions/empty.csv"]

    def state() -> tuple[list[tuple], ...]:
        return (
            rows(con, "select * from raw.transactions order by _load_id, _line_number"),
            rows(con, "select * from raw.quarantine order by _load_id, _line_number"),
            rows(con, "select * from raw.load_ledger order by load_id"),
        )

    before = state()
    second = ingest_source(con, TRANSACTIONS, landing, now=datetime(2026, 2, 1))
    assert (second.files_seen, second.files_loaded, second.files_skipped_duplicate) == (3, 0, 3)
    assert (second.landed_rows, second.loaded_rows, second.quarantined_rows) == (0, 0, 0)
    assert state() == before

    land(landing, "transactions", "later.csv", csv_text([transaction(order_id="o-3")]))
    third = ingest(con, landing)
    assert [(loaded.file_path, loaded.load_id) for loaded in third.loaded_files] == [("transactions/later.csv", 3)]


def test_empty_file_is_recorded_in_the_ledger(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    land(landing, "interactions", "empty.jsonl", "")
    land(landing, "transactions", "header_only.csv", ",".join(GOOD_TRANSACTION) + "\n")
    ingest(con, landing, "interactions")
    ingest(con, landing)
    assert rows(con, "select source, file_path, size_bytes, landed_rows from raw.load_ledger order by load_id") == [
        ("interactions", "interactions/empty.jsonl", 0, 0),
        ("transactions", "transactions/header_only.csv", len(",".join(GOOD_TRANSACTION)) + 1, 0),
    ]


def test_ledger_reconciles_with_the_tables(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    land(landing, "transactions", "a.csv", csv_text([transaction(), transaction(order_id="o-2", channel="fax")]))
    land(landing, "transactions", "b.csv", csv_text([transaction(order_id="o-3")]) + "o-4,broken\n")
    report = ingest(con, landing)
    assert report.landed_rows == report.loaded_rows + report.quarantined_rows == 4
    assert rows(
        con,
        """
        select ledger.file_path, ledger.landed_rows, ledger.loaded_rows, ledger.quarantined_rows,
            (select count(*) from raw.transactions t where t._load_id = ledger.load_id),
            (select count(*) from raw.quarantine q where q._load_id = ledger.load_id),
            ledger.file_hash = (select any_value(_file_hash) from raw.transactions t where t._load_id = ledger.load_id)
        from raw.load_ledger ledger order by ledger.load_id
        """,
    ) == [("transactions/a.csv", 2, 1, 1, 1, 1, True), ("transactions/b.csv", 2, 1, 1, 1, 1, True)]


def test_failure_mid_file_leaves_nothing_and_a_rerun_loads_it(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(landing, "transactions", "a.csv", csv_text([transaction(), transaction(order_id="o-2", quantity="0")]))

    def crash(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingestion, "_write_ledger_row", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(con, landing)
    for table in ("transactions", "quarantine", "load_ledger"):
        assert rows(con, f"select count(*) from raw.{table}") == [(0,)]

    monkeypatch.undo()
    report = ingest(con, landing)
    assert (report.files_loaded, report.loaded_rows, report.quarantined_rows) == (1, 1, 1)


def test_files_of_no_landing_format_are_reported_not_loaded(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    land(landing, "transactions", "orders.csv", csv_text([transaction()]))
    land(landing, "transactions", "export/orders.xlsx", "not a landing format")
    land(landing, "transactions", ".DS_Store", "")
    report = ingest(con, landing)
    assert (report.files_seen, report.files_loaded) == (1, 1)
    assert report.files_ignored == ["transactions/export/orders.xlsx"]


@pytest.mark.parametrize("spec", [TRANSACTIONS, INTERACTIONS, SOCIAL, EMAIL], ids=lambda spec: spec.name)
def test_no_landing_folder_loads_nothing(con: duckdb.DuckDBPyConnection, landing: Path, spec) -> None:
    report = ingest_source(con, spec, landing)
    assert (report.files_seen, report.loaded_rows) == (0, 0)


LABELS_CSV = """label_id,kind,source,metric,segment_type,segment_value,direction,start_ts,end_ts,is_critical,customer_id,description
L1,revenue_drop,transactions,revenue,channel,app,drop,2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,true,,App checkout outage
L1,revenue_drop,transactions,orders,channel,app,drop,2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,true,,App checkout outage
L2,customer_outlier,transactions,customer_order_value,customer,cust-7,spike,2025-03-05 00:00:00,2025-03-06 00:00:00,False,cust-7,Bulk buyer
"""


def test_labels_load_replace_and_stay_untouched_when_identical(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS_CSV)
    assert load_labels(con, labels) == 3
    assert rows(con, "select label_id, metric, start_ts, is_critical, customer_id from raw.anomaly_labels order by 1, 2") == [
        ("L1", "orders", datetime(2025, 3, 1), True, None),
        ("L1", "revenue", datetime(2025, 3, 1), True, None),
        ("L2", "customer_order_value", datetime(2025, 3, 5), False, "cust-7"),
    ]
    rowids = rows(con, "select rowid from raw.anomaly_labels order by rowid")
    assert load_labels(con, labels) == 3
    # A delete and re-insert would give the rows new rowids.
    assert rows(con, "select rowid from raw.anomaly_labels order by rowid") == rowids

    labels.write_text(LABELS_CSV.splitlines()[0] + "\n" + LABELS_CSV.splitlines()[3] + "\n")
    assert load_labels(con, labels) == 1
    assert rows(con, "select label_id from raw.anomaly_labels") == [("L2",)]

    labels.unlink()
    assert load_labels(con, labels) == 0
    assert rows(con, "select count(*) from raw.anomaly_labels") == [(0,)]


def test_invalid_labels_fail_the_load_and_keep_the_old_ones(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS_CSV)
    load_labels(con, labels)
    labels.write_text(LABELS_CSV.replace("2025-03-05 00:00:00", "someday"))
    with pytest.raises(ValueError, match="invalid_timestamp"):
        load_labels(con, labels)
    assert rows(con, "select count(*) from raw.anomaly_labels") == [(3,)]


def test_unreadable_file_fails_naming_it_and_writes_nothing(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    land(landing, "transactions", "a.csv", csv_text([transaction()]))
    land(landing, "transactions", "b.csv.gz", gzip.compress(csv_text([transaction(order_id="o-2")]).encode())[:40])
    with pytest.raises(ingestion.LandedFileError, match="transactions/b.csv.gz"):
        ingest(con, landing)
    assert rows(con, "select file_path from raw.load_ledger") == [("transactions/a.csv",)]
    assert rows(con, "select order_id from raw.transactions") == [("o-1",)]


def test_corrupt_gzip_data_fails_naming_the_file(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    # A valid gzip header, then a deflate block of the reserved type 3: zlib.error, not OSError.
    header = gzip.compress(b"")[:10]
    land(landing, "transactions", "c.csv.gz", header + b"\xff" * 64)
    with pytest.raises(ingestion.LandedFileError, match="cannot load transactions/c.csv.gz: Error -3"):
        ingest(con, landing)
    assert rows(con, "select count(*) from raw.load_ledger") == [(0,)]
