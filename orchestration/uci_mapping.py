"""Map the UCI "Online Retail" order log onto the transactions contract as a landing file.

Decisions (benchmarks/README.md shows the figures they lead to on the whole log):

- `order_ts`: InvoiceDate is UK wall-clock time; it is written with its real offset (`+00:00`
  GMT, `+01:00` BST) so ingestion's offset handling turns it into UTC. All lines of an invoice
  take the invoice's first InvoiceDate: an order has one time (43 invoices straddle a minute).
- Cancellations (InvoiceNo `C…`) become orders of their own with status `cancelled` and the
  quantity as a positive count: the contract carries the sign in `status`, and a cancellation
  is a real business event, not bad data.
- Other negative quantities (stock write-offs such as "damaged", no customer, price 0) are not
  sales: they are landed unchanged and ingestion quarantines them as `out_of_range`, as it does
  the two "Adjust bad debt" lines with a negative price.
- `category` is derived from Description keywords (first match wins, see CATEGORY_KEYWORDS);
  non-product stock codes (postage, fees, manual adjustments) are `postage_and_fees`; no
  Description → empty.
- `country`: ISO 3166-1 alpha-2; names with no single code (Unspecified, European Community,
  Channel Islands = Jersey or Guernsey) are empty.
"""

import os
from datetime import date
from pathlib import Path

import duckdb

from orchestration.ingestion_sql import quote_literal

UK_TIME_ZONE = "Europe/London"
LANDING_SOURCE = "transactions"

COUNTRY_CODES: dict[str, str] = {
    "Australia": "AU",
    "Austria": "AT",
    "Bahrain": "BH",
    "Belgium": "BE",
    "Brazil": "BR",
    "Canada": "CA",
    "Cyprus": "CY",
    "Czech Republic": "CZ",
    "Denmark": "DK",
    "EIRE": "IE",
    "Finland": "FI",
    "France": "FR",
    "Germany": "DE",
    "Greece": "GR",
    "Hong Kong": "HK",
    "Iceland": "IS",
    "Israel": "IL",
    "Italy": "IT",
    "Japan": "JP",
    "Lebanon": "LB",
    "Lithuania": "LT",
    "Malta": "MT",
    "Netherlands": "NL",
    "Norway": "NO",
    "Poland": "PL",
    "Portugal": "PT",
    "RSA": "ZA",
    "Saudi Arabia": "SA",
    "Singapore": "SG",
    "Spain": "ES",
    "Sweden": "SE",
    "Switzerland": "CH",
    "USA": "US",
    "United Arab Emirates": "AE",
    "United Kingdom": "GB",
}
# Names in the data that no single ISO code fits; they land with an empty country.
COUNTRIES_WITHOUT_CODE = frozenset({"Unspecified", "European Community", "Channel Islands"})

# Product stock codes are five digits (plus a variant letter) or the shop's own DCGS… items;
# everything else (POST, DOT, M, BANK CHARGES, AMAZONFEE, gift vouchers, …) is not a product.
PRODUCT_STOCK_CODE = r"^([0-9]{5}|DCGS)"
NON_PRODUCT_CATEGORY = "postage_and_fees"
OTHER_CATEGORY = "other"
# Ordered: the first pattern that matches the upper-cased Description names the category.
CATEGORY_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("christmas", r"\b(CHRISTMAS|XMAS|ADVENT|SANTA|REINDEER|SNOWFLAKE|NATIVITY)"),
    ("bags", r"\b(BAGS?|SHOPPER|PURSE)\b"),
    ("lighting", r"\b(CANDLES?|T-LIGHTS?|TEA ?LIGHTS?|LANTERN|LIGHTS?|LAMP|NIGHTLIGHT)\b"),
    ("kitchen_dining", r"\b(MUGS?|CUPS?|PLATES?|BOWLS?|TEAPOT|TEA|CAKE|CAKESTAND|JAR|LUNCH|NAPKINS?|BAKING|"
                       r"CUTLERY|TRAY|SPOON|TINS?|PANTRY|KITCHEN|APRON|BOTTLE|CAKE CASES)\b"),
    ("stationery_gift_wrap", r"\b(CARDS?|WRAP|PAPER|RIBBONS?|TAGS?|STICKERS?|NOTEBOOK|PENCILS?|PENS?|"
                             r"ENVELOPES?|BOX|BOXES|GIFT)\b"),
    ("toys_party", r"\b(TOYS?|GAMES?|DOLLY|DOLL|PLAYHOUSE|JIGSAW|PARTY|BALLOONS?|SPACEBOY|CHILDS|"
                   r"CHILDRENS|KIDS|SKIPPING|PAINT SET)\b"),
    ("home_decor", r"\b(SIGN|FRAME|CLOCK|CUSHION|DOORMAT|DOORSTOP|HOOKS?|HANGER|MIRROR|VASE|WALL|"
                   r"ORNAMENT|DECORATION|BUNTING|GARLAND|WREATH|HEART|HOLDER|CABINET|DRAWER)\b"),
    ("fashion_accessories", r"\b(NECKLACE|BRACELET|EARRINGS|RING|HAIR|JEWEL|UMBRELLA|SCARF|GLOVES|"
                            r"HANDBAG|WALLET|SLIPPERS?)\b"),
    ("garden", r"\b(GARDEN|PLANT|PLANTER|BIRD|WATERING|FLOWER POT|HERB)\b"),
)


def _case_sql(branches: list[tuple[str, str]], otherwise: str) -> str:
    whens = "\n            ".join(f"when {condition} then {value}" for condition, value in branches)
    return f"case\n            {whens}\n            else {otherwise}\n        end"


def _category_sql() -> str:
    description = "upper(Description)"
    branches = [("Description is null or trim(Description) = ''", "null")]
    branches.append(
        (f"not regexp_matches(StockCode, {quote_literal(PRODUCT_STOCK_CODE)})", quote_literal(NON_PRODUCT_CATEGORY))
    )
    branches += [
        (f"regexp_matches({description}, {quote_literal(pattern)})", quote_literal(category))
        for category, pattern in CATEGORY_KEYWORDS
    ]
    return _case_sql(branches, quote_literal(OTHER_CATEGORY))


def _country_sql() -> str:
    branches = [(f"Country = {quote_literal(name)}", quote_literal(code)) for name, code in COUNTRY_CODES.items()]
    return _case_sql(branches, "null")


def _period_filter_sql(start: date | None, end: date | None) -> str:
    conditions = ["true"]
    if start is not None:
        conditions.append(f"invoiced_local >= {quote_literal(start.isoformat())}::timestamp")
    if end is not None:
        conditions.append(f"invoiced_local < {quote_literal(end.isoformat())}::timestamp")
    return " and ".join(conditions)


def mapping_sql(parquet_path: Path, start: date | None = None, end: date | None = None) -> str:
    """SELECT of the contract columns, in file order, for invoices with start <= InvoiceDate < end."""
    source = quote_literal(str(parquet_path))
    return f"""
with

order_lines as (
    select
        *,
        cast(InvoiceDate as timestamp) as line_invoiced_local,
    from read_parquet({source}, file_row_number = true)
),

invoices as (
    select
        InvoiceNo,
        -- An order has one time: the first of its lines.
        min(line_invoiced_local) as invoiced_local,
    from order_lines
    group by InvoiceNo
),

invoices_in_period as (
    select
        InvoiceNo,
        invoiced_local,
        -- Wall-clock minus UTC is the offset in force then: 0 (GMT) or 1 hour (BST).
        invoiced_local - timezone('UTC', timezone({quote_literal(UK_TIME_ZONE)}, invoiced_local)) as utc_offset,
    from invoices
    where {_period_filter_sql(start, end)}
),

mapped as (
    select
        order_lines.InvoiceNo as order_id,
        row_number() over (partition by order_lines.InvoiceNo order by order_lines.file_row_number) as line_number,
        strftime(invoices_in_period.invoiced_local, '%Y-%m-%dT%H:%M:%S')
            || case when invoices_in_period.utc_offset = interval 1 hour then '+01:00' else '+00:00' end
            as order_ts,
        cast(cast(order_lines.CustomerID as bigint) as varchar) as customer_id,
        'web' as channel,
        order_lines.StockCode as sku,
        {_category_sql()} as category,
        case
            when order_lines.InvoiceNo like 'C%' then abs(order_lines.Quantity)
            else order_lines.Quantity
        end as quantity,
        -- Prices are floats in the source; four places hold every one of them (the smallest is 0.001).
        cast(order_lines.UnitPrice as decimal(18, 4)) as unit_price,
        'GBP' as currency,
        case when order_lines.InvoiceNo like 'C%' then 'cancelled' else 'completed' end as status,
        {_country_sql()} as country,
        order_lines.file_row_number,
    from order_lines
    inner join invoices_in_period using (InvoiceNo)
),

final as (
    select * exclude (file_row_number)
    from mapped
    order by file_row_number
)

select * from final
"""


def closed_days_sql() -> str:
    """Days between the first and last loaded order without any order: closures such as bank holidays.

    Saturdays are left out: the shop never traded on a Saturday, so a quiet one is its normal week.
    """
    return """
with

trading_days as (
    select distinct order_ts::date as day from raw.transactions
),

calendar as (
    select unnest(generate_series(min(day), max(day), interval 1 day))::date as day from trading_days
),

final as (
    select day from calendar
    anti join trading_days using (day)
    where dayname(day) <> 'Saturday'
    order by day
)

select * from final
"""


def landing_file_name(start: date | None, end: date | None) -> str:
    period = f"{start.isoformat() if start else 'first'}_{end.isoformat() if end else 'last'}"
    return f"uci_online_retail_{period}.parquet"


def write_uci_landing(
    parquet_path: str | Path, landing_dir: str | Path, start: date | None = None, end: date | None = None
) -> Path:
    """Write the invoices with start <= InvoiceDate < end (UK time) to `<landing>/transactions/`.

    The file is written whole under a temporary name and renamed, so ingestion never sees half
    of it; the same arguments give the same bytes, so landing it again loads nothing new.
    """
    target_dir = Path(landing_dir) / LANDING_SOURCE
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / landing_file_name(start, end)
    # A dot-name without a landing suffix: ingestion ignores it while it is being written.
    partial = target_dir / f".{target.name}.partial"
    with duckdb.connect() as con:
        # Timestamps in the SQL are wall-clock; a session zone must not shift them.
        con.execute("set TimeZone = 'UTC'")
        con.execute(
            f"copy ({mapping_sql(Path(parquet_path), start, end)}) to {quote_literal(str(partial))} "
            "(format parquet, compression zstd)"
        )
    os.replace(partial, target)
    return target
