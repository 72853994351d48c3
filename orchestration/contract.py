"""The input contract (shared/input-contract.md) as data.

Ingestion validates and types landed rows from these specs; the generator writes files to
them; tests check the dbt sources against them. Keep this the single statement of the
contract in code.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

ColumnType = Literal["string", "integer", "decimal", "timestamp"]

CHANNELS = ("web", "app", "marketplace", "store", "social_shop")
TRANSACTION_STATUSES = ("completed", "cancelled", "refunded")
EVENT_TYPES = (
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout_start",
    "purchase",
    "support_contact",
)
DEVICES = ("desktop", "mobile", "tablet", "other")
PLATFORMS = ("instagram", "tiktok", "facebook", "x", "youtube", "other")
EMAIL_EVENT_TYPES = ("sent", "delivered", "open", "click", "bounce", "unsubscribe", "spam_complaint")

# Plausibility bounds: a value outside them is quarantined as out_of_range (docs/input-contract.md,
# "Limits"). Every timestamp column must lie from EARLIEST_EVENT_TIME to the load time plus
# FUTURE_TOLERANCE (both naive UTC, like the raw tables): nothing the shop records predates 2000,
# and one row dated in the future stretches every downstream series to that date, which then
# reports its empty periods as anomalies. The tolerance allows for clock skew and time zones.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1)
FUTURE_TOLERANCE = timedelta(days=1)
# Amounts stay within what DECIMAL(18, 4) holds downstream (just under 1e14): the largest line,
# MAX_QUANTITY x MAX_UNIT_PRICE = 1e13, still fits after conversion to the reporting currency at
# any rate down to 0.2 units per reporting-currency unit (the strongest currency, the Kuwaiti
# dinar, is about 0.3 per euro). A real shop never reaches them.
MAX_QUANTITY = 1_000_000
MAX_UNIT_PRICE = 10_000_000
# A discount is for the whole line, so it may be as large as the largest line.
MAX_DISCOUNT_AMOUNT = MAX_QUANTITY * MAX_UNIT_PRICE
# Counts for one interval; downstream adds likes + comments + shares as BIGINT (about 9.2e18).
MAX_SOCIAL_COUNT = 1_000_000_000_000


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "string"
    required: bool = False
    enum: tuple[str, ...] | None = None
    min_value: float | None = None
    # Strictly greater than min_value (quantity > 0) rather than >= (unit_price >= 0).
    min_exclusive: bool = False
    # Inclusive; keeps values within what the downstream types can hold.
    max_value: float | None = None
    default: str | None = None
    pii: bool = False
    max_length: int | None = None


@dataclass(frozen=True)
class SourceSpec:
    name: str
    description: str
    natural_key: tuple[str, ...]
    # The timestamp that places a row in a period; incremental runs reopen periods from it.
    event_time: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


TRANSACTIONS = SourceSpec(
    name="transactions",
    description="E-commerce transaction logs, one row per order line.",
    natural_key=("order_id", "line_number"),
    event_time="order_ts",
    columns=(
        Column("order_id", required=True),
        Column("line_number", "integer", default="1", min_value=1),
        Column("order_ts", "timestamp", required=True),
        Column("customer_id", pii=True),
        Column("customer_email", pii=True),
        Column("customer_phone", pii=True),
        Column("channel", required=True, enum=CHANNELS),
        Column("sku", required=True),
        Column("category"),
        Column("quantity", "integer", required=True, min_value=0, min_exclusive=True, max_value=MAX_QUANTITY),
        Column("unit_price", "decimal", required=True, min_value=0, max_value=MAX_UNIT_PRICE),
        Column("discount_amount", "decimal", default="0", min_value=0, max_value=MAX_DISCOUNT_AMOUNT),
        Column("currency", required=True, max_length=3),
        Column("status", required=True, enum=TRANSACTION_STATUSES),
        Column("country", max_length=2),
        Column("ip_address", pii=True),
        Column("campaign_id"),
    ),
)

INTERACTIONS = SourceSpec(
    name="interactions",
    description="Customer interaction events, one row per event.",
    natural_key=("event_id",),
    event_time="event_ts",
    columns=(
        Column("event_id", required=True),
        Column("event_ts", "timestamp", required=True),
        Column("session_id", required=True),
        Column("customer_id", pii=True),
        Column("channel", required=True, enum=CHANNELS),
        Column("event_type", required=True, enum=EVENT_TYPES),
        Column("sku"),
        Column("device", enum=DEVICES),
        Column("ip_address", pii=True),
        Column("user_agent", pii=True),
        Column("campaign_id"),
    ),
)

SOCIAL = SourceSpec(
    name="social",
    description="Social media engagement metrics, one row per account/post per interval.",
    natural_key=("platform", "account_handle", "post_id", "metric_ts"),
    event_time="metric_ts",
    columns=(
        Column("platform", required=True, enum=PLATFORMS),
        Column("account_handle", required=True, pii=True),
        Column("post_id"),
        Column("campaign_id"),
        Column("metric_ts", "timestamp", required=True),
        Column("impressions", "integer", min_value=0, max_value=MAX_SOCIAL_COUNT),
        Column("likes", "integer", min_value=0, max_value=MAX_SOCIAL_COUNT),
        Column("comments", "integer", min_value=0, max_value=MAX_SOCIAL_COUNT),
        Column("shares", "integer", min_value=0, max_value=MAX_SOCIAL_COUNT),
        Column("clicks", "integer", min_value=0, max_value=MAX_SOCIAL_COUNT),
        Column("mentions", "integer", min_value=0, max_value=MAX_SOCIAL_COUNT),
    ),
)

EMAIL = SourceSpec(
    name="email",
    description="Email campaign performance data, one row per recipient event.",
    natural_key=("campaign_id", "recipient_email", "event_type", "event_ts"),
    event_time="event_ts",
    columns=(
        Column("campaign_id", required=True),
        Column("campaign_name"),
        Column("recipient_email", required=True, pii=True),
        Column("event_type", required=True, enum=EMAIL_EVENT_TYPES),
        Column("event_ts", "timestamp", required=True),
        Column("link_url", pii=True),
    ),
)

SOURCES: dict[str, SourceSpec] = {spec.name: spec for spec in (TRANSACTIONS, INTERACTIONS, SOCIAL, EMAIL)}

LANDING_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".ndjson", ".parquet")
