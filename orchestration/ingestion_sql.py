"""SQL that types and validates landed text values, generated from the contract's Column specs.

Every value arrives as text. One SELECT per file cleans each value, casts it to its raw-table
type and names the first rule the row breaks (or none), so validation runs vectorised in DuckDB.
"""

from dataclasses import dataclass
from datetime import datetime

from orchestration.contract import Column, ColumnType

RAW_TYPES: dict[ColumnType, str] = {
    "string": "varchar",
    "integer": "bigint",
    "decimal": "decimal(18, 4)",
    "timestamp": "timestamp",
}

# DuckDB's trim() strips only spaces; landed files also carry tabs and stray carriage returns.
_WHITESPACE = " \t\r\n"
# Plain integers, also as written by float-typed exports ("6.0"); "1.5" must not round to 2.
_INTEGER_PATTERN = r"[+-]?[0-9]+(\.0*)?"
_EPOCH_PATTERN = r"[+-]?[0-9]+(\.[0-9]+)?"
_TYPE_PROBLEM = {"integer": "an integer", "decimal": "a decimal number", "timestamp": "a timestamp"}
# (earliest, latest) naive UTC time a timestamp column may hold.
TimestampBounds = tuple[datetime, datetime]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def cleaned_text_sql(expression: str) -> str:
    """Trimmed text, empty → NULL."""
    return f"nullif(trim({expression}, {quote_literal(_WHITESPACE)}), '')"


def timestamp_sql(text: str) -> str:
    """Naive UTC TIMESTAMP from ISO-8601 (Z, offset or naive) or epoch seconds; NULL if unparseable.

    Naive strings are read in the session time zone, so callers run this with TimeZone = UTC.
    """
    epoch_micros = f"cast(try_cast({text} as decimal(38, 6)) * 1000000 as bigint)"
    return (
        f"case when regexp_full_match({text}, '{_EPOCH_PATTERN}') "
        f"then try(make_timestamp({epoch_micros})) "
        f"else try_cast(try_cast({text} as timestamptz) at time zone 'UTC' as timestamp) end"
    )


def typed_value_sql(column: Column, text: str) -> str:
    """The cleaned text cast to the column's raw type, NULL where it does not parse."""
    if column.type == "integer":
        return f"case when regexp_full_match({text}, '{_INTEGER_PATTERN}') then try_cast({text} as bigint) end"
    if column.type == "decimal":
        return f"try_cast({text} as {RAW_TYPES['decimal']})"
    if column.type == "timestamp":
        return timestamp_sql(text)
    return text


def _number_sql(value: float) -> str:
    # Not :g, which writes 1000000 as 1e+06.
    return str(int(value)) if float(value).is_integer() else repr(value)


def _number_text(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def _timestamp_literal(moment: datetime) -> str:
    return f"timestamp {quote_literal(moment.isoformat(sep=' '))}"


def _normalised_enum_sql(text: str) -> str:
    # "Social Shop" and "social-shop" both mean social_shop.
    return f"lower(regexp_replace({text}, '[\\s-]+', '_', 'g'))"


@dataclass(frozen=True)
class Rule:
    """A row check: when `condition` holds, the row is quarantined with this code and detail.

    All three are SQL expressions, so a reader's own finding (`_structure_reason`) fits too.
    """

    condition: str
    reason_code: str
    reason_detail: str


def fixed_rule(condition: str, reason_code: str, reason_detail: str) -> Rule:
    return Rule(condition, quote_literal(reason_code), quote_literal(reason_detail))


def _range_rules(column: Column, typed: str, timestamp_bounds: TimestampBounds | None) -> list[Rule]:
    """Bounds on the typed value; NULL (an absent optional value) passes them."""
    name = column.name
    rules = []
    if column.min_value is not None:
        operator = ">" if column.min_exclusive else ">="
        bound = _number_sql(column.min_value)
        rules.append(
            fixed_rule(
                f"not ({typed} {operator} {bound})",
                "out_of_range",
                f"{name}: must be {operator} {_number_text(column.min_value)}",
            )
        )
    if column.max_value is not None:
        rules.append(
            fixed_rule(
                f"not ({typed} <= {_number_sql(column.max_value)})",
                "out_of_range",
                f"{name}: must be <= {_number_text(column.max_value)}",
            )
        )
    if column.type == "timestamp" and timestamp_bounds is not None:
        earliest, latest = timestamp_bounds
        # `between` is false for 'infinity' and '-infinity' too.
        rules.append(
            fixed_rule(
                f"not ({typed} between {_timestamp_literal(earliest)} and {_timestamp_literal(latest)})",
                "out_of_range",
                f"{name}: must be between {earliest:%Y-%m-%d %H:%M:%S} and {latest:%Y-%m-%d %H:%M:%S} UTC "
                "(an implausibly old or a future time)",
            )
        )
    return rules


def column_rules(
    column: Column, text: str, typed: str, timestamp_bounds: TimestampBounds | None = None
) -> list[Rule]:
    """The checks of one column, in the order they apply. Details never include the value."""
    name = column.name
    rules = []
    if column.required:
        rules.append(fixed_rule(f"{text} is null", "missing_required_field", f"{name}: required value is missing"))
    if column.type != "string":
        rules.append(
            fixed_rule(
                f"{text} is not null and {typed} is null",
                f"invalid_{column.type}",
                f"{name}: not {_TYPE_PROBLEM[column.type]}",
            )
        )
    if column.enum is not None:
        allowed = ", ".join(quote_literal(value) for value in column.enum)
        rules.append(
            fixed_rule(f"{text} not in ({allowed})", "unknown_enum", f"{name}: not one of {', '.join(column.enum)}")
        )
    if column.max_length is not None:
        rules.append(
            fixed_rule(
                f"length({text}) > {column.max_length}",
                "value_too_long",
                f"{name}: longer than {column.max_length} characters",
            )
        )
    rules.extend(_range_rules(column, typed, timestamp_bounds))
    return rules


def failure_case_sql(rules: list[Rule]) -> str:
    """A struct(reason_code, reason_detail) for the first rule that holds, NULL if none does."""
    branches = "\n".join(
        f"        when {rule.condition} "
        f"then {{'reason_code': {rule.reason_code}, 'reason_detail': {rule.reason_detail}}}"
        for rule in rules
    )
    return f"case\n{branches}\n    end"


def validation_sql(
    columns: tuple[Column, ...],
    landed_sql: str,
    landed_expressions: dict[str, str],
    raw_content_sql: str,
    timestamp_bounds: TimestampBounds | None = None,
) -> str:
    """SELECT of `_line_number`, the typed columns, `raw_content`, `reason_code`, `reason_detail`.

    `landed_sql` yields `_line_number`, `_structure_reason`, `_structure_detail`, `_raw_content`
    and the landed text columns; `landed_expressions` maps each contract column found in the file
    to its text expression over them; `raw_content_sql` is the row's JSON for quarantined rows
    that the reader did not already keep in `_raw_content`. Timestamp columns outside
    `timestamp_bounds` are `out_of_range`; without bounds they are not range-checked.
    """
    missing_required = [c.name for c in columns if c.required and c.name not in landed_expressions]
    rules = [Rule("_structure_reason is not null", "_structure_reason", "_structure_detail")]
    if missing_required:
        absent = ", ".join(missing_required)
        rules.append(fixed_rule("true", "missing_column", f"required column(s) absent from the file: {absent}"))
    cleaned, typed = [], []
    for column in columns:
        text_name, text_ref = f"text__{column.name}", quote_identifier(f"text__{column.name}")
        text = cleaned_text_sql(landed_expressions.get(column.name, "null::varchar"))
        if column.default is not None:
            text = f"coalesce({text}, {quote_literal(column.default)})"
        if column.enum is not None:
            text = _normalised_enum_sql(text)
        cleaned.append(f"{text} as {quote_identifier(text_name)}")
        typed_sql = typed_value_sql(column, text_ref)
        typed.append(f"{typed_sql} as {quote_identifier(column.name)}")
        rules.extend(column_rules(column, text_ref, quote_identifier(column.name), timestamp_bounds))
    failure = failure_case_sql(rules)
    select_typed = ",\n        ".join(typed)
    select_cleaned = ",\n        ".join(cleaned)
    typed_names = ", ".join(quote_identifier(column.name) for column in columns)
    return f"""
with landed as (
    {landed_sql}
),

cleaned as (
    select
        landed.*,
        {select_cleaned},
    from landed
),

typed as (
    select
        cleaned.*,
        {select_typed},
    from cleaned
),

checked as (
    select
        typed.*,
        {failure} as failure,
    from typed
),

final as (
    select
        _line_number,
        {typed_names},
        case when failure is not null then coalesce(_raw_content, {raw_content_sql}) end as raw_content,
        failure.reason_code as reason_code,
        failure.reason_detail as reason_detail,
    from checked
)

select * from final
"""
