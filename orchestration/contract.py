"""The input contract (shared/input-contract.md) as data.

Ingestion validates and types landed rows from these specs; the generator writes files to
them; tests check the dbt sources against them. Keep this the single statement of the
contract in code.
"""

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "string"
    required: bool = False
    enum: tuple[str, ...] | None = None
    min_value: float | None = None
    # Strictly greater than min_value (quantity > 0) rather than >= (unit_price >= 0).
    min_exclusive: bool = False
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
        Column("quantity", "integer", required=True, min_value=0, min_exclusive=True),
        Column("unit_price", "decimal", required=True, min_value=0),
        Column("discount_amount", "decimal", default="0", min_value=0),
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
        Column("impressions", "integer", min_value=0),
        Column("likes", "integer", min_value=0),
        Column("comments", "integer", min_value=0),
        Column("shares", "integer", min_value=0),
        Column("clicks", "integer", min_value=0),
        Column("mentions", "integer", min_value=0),
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
