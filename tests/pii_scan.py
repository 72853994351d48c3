"""Find raw PII in a warehouse: every text-bearing column of every relation outside `raw`.

`find_pii` looks for PII-shaped text (e-mail, phone, IPv4, IPv6, user agent, @handle: the
patterns of orchestration/pii_guard.py, which also guards the alerts) and, when given raw values
(`raw_pii_values`), for those exact values as whole cells or as words inside longer text. The
masking tests call it on a staging-only warehouse; the end-to-end test calls it on the full one.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from orchestration.contract import SOURCES
from orchestration.pii_guard import PII_PATTERNS, PiiPattern

# Where words are cut to find a raw value inside longer text; `@ . - :` stay inside words so
# e-mails, ids and addresses stay whole.
WORD_SEPARATORS = r"[\s,;()\[\]{}<>\"'=&?#/|]+"
# Shorter raw values (a 3-digit id) would match ordinary words and numbers.
MIN_RAW_VALUE_LENGTH = 4
# Columns of these types cannot hold text, so cannot hold PII.
NON_TEXT_TYPES = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                  "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
                  "DATE", "TIME", "TIMESTAMP", "INTERVAL", "UUID")
# link_url is PII only through its query string, whose e-mails the e-mail pattern finds; as a
# whole value it would flag every clean link that had nothing to strip.
RAW_VALUE_EXCLUDED_COLUMNS = frozenset({"link_url"})


@dataclass(frozen=True)
class PiiFinding:
    relation: str
    column: str
    kind: str
    matching_values: int

    def __str__(self) -> str:
        return f"{self.relation}.{self.column}: {self.matching_values} value(s) look like {self.kind}"


def raw_pii_values(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every distinct value of the contract's PII columns (and label customer ids) in `raw`."""
    selects = [
        f"select cast({column.name} as varchar) from raw.{spec.name}"
        for spec in SOURCES.values()
        for column in spec.columns
        if column.pii and column.name not in RAW_VALUE_EXCLUDED_COLUMNS
    ]
    selects.append("select customer_id from raw.anomaly_labels")
    rows = con.execute(" union ".join(selects)).fetchall()
    return {value for (value,) in rows if value is not None}


def find_pii(
    con: duckdb.DuckDBPyConnection,
    raw_values: Iterable[str] = (),
    skip_schemas: Iterable[str] = ("raw",),
) -> list[PiiFinding]:
    """All PII found outside `skip_schemas`; empty when the warehouse is clean."""
    searched_values = sorted({value.lower() for value in raw_values if len(value) >= MIN_RAW_VALUE_LENGTH})
    con.register("_pii_raw_values", pa.table({"value": pa.array(searched_values, pa.string())}))
    try:
        findings: list[PiiFinding] = []
        for relation, columns in _text_columns(con, tuple(skip_schemas)).items():
            findings += _scan_relation(con, relation, columns)
        return findings
    finally:
        con.unregister("_pii_raw_values")


def _text_columns(con: duckdb.DuckDBPyConnection, skip_schemas: tuple[str, ...]) -> dict[str, list[str]]:
    rows = con.execute(
        """
        select table_schema, table_name, column_name, data_type
        from information_schema.columns
        where table_catalog = current_database()
            and table_schema not in ('information_schema', 'pg_catalog')
            and not list_contains($skip, table_schema)
        order by table_schema, table_name, ordinal_position
        """,
        {"skip": list(skip_schemas)},
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for schema, table, column, data_type in rows:
        if not data_type.upper().startswith(NON_TEXT_TYPES):
            columns.setdefault(f'"{schema}"."{table}"', []).append(column)
    return columns


def _scan_relation(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> list[PiiFinding]:
    casts = ", ".join(f'cast("{column}" as varchar) as "{column}"' for column in columns)
    unpivot_on = ", ".join(f'"{column}"' for column in columns)
    pattern_counts = ",\n".join(
        f"count(*) filter (where {_matches_sql(pattern)}) as \"{kind}\"" for kind, pattern in PII_PATTERNS.items()
    )
    # One pass over the relation: every pattern is counted in the same scan.
    con.execute(
        f"""
        create or replace temp table _pii_cells as
        select distinct column_name, cell
        from (unpivot (select {casts} from {relation}) on {unpivot_on} into name column_name value cell)
        where cell is not null
        """
    )
    pattern_rows = con.execute(
        f"select column_name, {pattern_counts} from _pii_cells group by column_name"
    ).fetchall()
    raw_value_rows = con.execute(
        f"""
        with words as (
            select column_name, lower(cell) as word from _pii_cells
            union
            select column_name, trim(unnest(string_split_regex(lower(cell), {_sql_string(WORD_SEPARATORS)})), '.:!')
            from _pii_cells
        )
        select column_name, count(*)
        from words
        join _pii_raw_values on words.word = _pii_raw_values.value
        group by column_name
        """
    ).fetchall()
    con.execute("drop table _pii_cells")

    findings = [
        PiiFinding(relation, column, kind, count)
        for column, *counts in pattern_rows
        for kind, count in zip(PII_PATTERNS, counts)
        if count
    ]
    findings += [PiiFinding(relation, column, "a raw PII value", count) for column, count in raw_value_rows]
    return findings


def _matches_sql(pattern: PiiPattern) -> str:
    """SQL true when `cell` holds PII of this kind: the same matches `PiiPattern.spans` finds."""
    if pattern.unless is None:
        return " or ".join(f"regexp_matches(cell, {_sql_string(regex)}, 'i')" for regex in pattern.regexes)
    matches = ", ".join(f"regexp_extract_all(cell, {_sql_string(regex)}, 1, 'i')" for regex in pattern.regexes)
    return (
        f"len(list_filter(flatten([{matches}]), "
        f"lambda found: not regexp_matches(found, {_sql_string(pattern.unless)}, 'i'))) > 0"
    )


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
