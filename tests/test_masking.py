"""PII never leaves the raw schema: build staging on PII-laden raw rows and scan the result."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from dbt_runner import run_dbt
from orchestration.ingestion import ensure_raw_schema
from orchestration.settings import PROJECT_DIR
from pii_scan import PII_PATTERNS, find_pii, raw_pii_values

STAGING_DIR = PROJECT_DIR / "dbt_project" / "models" / "staging"

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

TRANSACTIONS = [
    {"order_id": "ORD-1", "customer_id": "CUST-00417", "customer_email": "Jane.Doe@Example.com",
     "customer_phone": "+44 20 7946 0958", "ip_address": "203.0.113.7"},
    {"order_id": "ORD-2", "customer_id": "cust-00417", "customer_email": "jane.doe@example.com",
     "customer_phone": "(555) 010-0200", "ip_address": "2001:db8:abcd:12::1"},
    {"order_id": "ORD-3", "customer_id": "CUST-00988", "customer_email": "omar.k@mail.example.org",
     "customer_phone": "555.010.0311", "ip_address": "198.51.100.23"},
    {"order_id": "ORD-4", "customer_id": None, "customer_email": "guest.buyer@example.net",
     "customer_phone": None, "ip_address": "::ffff:192.0.2.44"},
]
INTERACTIONS = [
    {"event_id": "EV-1", "customer_id": "CUST-00417", "ip_address": "203.0.113.8", "user_agent": IPHONE_SAFARI},
    {"event_id": "EV-2", "customer_id": "CUST-00988", "ip_address": "2001:db8:abcd:ff::9", "user_agent": WINDOWS_CHROME},
    {"event_id": "EV-3", "customer_id": None, "ip_address": "192.0.2.200", "user_agent": GOOGLEBOT},
]
SOCIAL = [
    {"account_handle": "@Jane_Doe_Real", "post_id": None, "mentions": 2},
    {"account_handle": "@BrandStore", "post_id": "POST-1", "impressions": 900},
]
EMAIL = [
    {"recipient_email": "Jane.Doe@Example.com", "event_type": "click",
     "link_url": "https://shop.example.com/sale?utm_source=mail&email=jane.doe%40example.com#top"},
    {"recipient_email": "omar.k@mail.example.org", "event_type": "click", "event_ts": "2025-03-01 11:00:00",
     "link_url": "https://omar:secret@shop.example.com/u/omar.k@mail.example.org/prefs?uid=CUST-00988"},
    {"recipient_email": "omar.k@mail.example.org", "event_type": "click", "event_ts": "2025-03-01 12:00:00",
     "link_url": "https://social.example.com/@jane_doe_real/posts"},
    # PII in the path itself, percent-encoded or as a phone number (the reviewer's links)
    {"recipient_email": "r1.leak@example.com", "event_type": "click", "event_ts": "2025-03-01 13:00:00",
     "link_url": "https://shop.example/unsub/r1.leak%40example.com"},
    {"recipient_email": "r1.leak@example.com", "event_type": "click", "event_ts": "2025-03-01 14:00:00",
     "link_url": "https://shop.example/u/+49-170-5555555/prefs"},
    {"recipient_email": "r1.leak@example.com", "event_type": "click", "event_ts": "2025-03-01 15:00:00",
     "link_url": "https://shop.example/u/%2B49%20170%205555555/prefs?email=r1.leak%40example.com"},
    {"recipient_email": "r1.leak@example.com", "event_type": "click", "event_ts": "2025-03-01 16:00:00",
     "link_url": "https://shop.example/c/summer-sale-2026?utm_source=newsletter&utm_campaign=CMP-1"},
]
LABELS = [
    {"label_id": "LBL-1", "kind": "customer_outlier", "source": "transactions", "metric": "customer_order_value",
     "segment_type": "customer", "segment_value": "CUST-00417", "direction": "spike",
     "customer_id": "CUST-00417", "description": "Customer CUST-00417 orders 10x their usual value"},
]

# Values every row needs that the masking does not care about.
LINEAGE = {"_load_id": 1, "_file_hash": "0" * 64, "_file_path": "test.csv", "_loaded_at": "2025-03-02 00:00:00"}
REQUIRED_DEFAULTS: dict[str, dict[str, Any]] = {
    "transactions": {"line_number": 1, "order_ts": "2025-03-01 10:00:00", "channel": "web", "sku": "SKU-1",
                     "quantity": 1, "unit_price": 9.5, "discount_amount": 0, "currency": "EUR",
                     "status": "completed"},
    "interactions": {"event_ts": "2025-03-01 10:00:00", "session_id": "S-1", "channel": "web",
                     "event_type": "page_view"},
    "social": {"platform": "instagram", "metric_ts": "2025-03-01 10:00:00"},
    "email": {"campaign_id": "CMP-1", "event_ts": "2025-03-01 10:00:00"},
    "anomaly_labels": {"start_ts": "2025-03-01 00:00:00", "end_ts": "2025-03-02 00:00:00", "is_critical": True},
}


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    lineage = {} if table == "anomaly_labels" else LINEAGE
    for line_number, row in enumerate(rows, start=2):
        full_row = {**REQUIRED_DEFAULTS[table], **lineage, **row}
        if lineage:
            # Distinct file lines, so natural keys that repeat are de-duplicated deterministically.
            full_row["_line_number"] = line_number
        names = ", ".join(full_row)
        placeholders = ", ".join("?" for _ in full_row)
        con.execute(f"insert into raw.{table} ({names}) values ({placeholders})", list(full_row.values()))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Raw tables full of PII-looking values, with staging built on top."""
    data_dir = tmp_path_factory.mktemp("masking")
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        ensure_raw_schema(con)
        for table, rows in (("transactions", TRANSACTIONS), ("interactions", INTERACTIONS), ("social", SOCIAL),
                            ("email", EMAIL), ("anomaly_labels", LABELS)):
            insert_rows(con, table, rows)
    # the staged currencies are tested against the exchange-rate seed, so it is built too
    run_dbt(data_dir, "build", "--select", "staging", "exchange_rates")
    yield data_dir


def query(data_dir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_no_pii_outside_the_raw_schema(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse / "warehouse.duckdb"), read_only=True) as con:
        raw_values = raw_pii_values(con)
        assert {"CUST-00417", "Jane.Doe@Example.com", "+44 20 7946 0958", "@Jane_Doe_Real", GOOGLEBOT} <= raw_values
        findings = find_pii(con, raw_values)
    assert findings == [], "\n".join(map(str, findings))


def test_staging_relations_have_exactly_their_documented_columns(warehouse: Path) -> None:
    built = {}
    for table, column in query(warehouse, "select table_name, column_name from information_schema.columns "
                                          "where table_schema = 'staging' order by ordinal_position"):
        built.setdefault(table, []).append(column)
    documented = {}
    for path in STAGING_DIR.glob("*/_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            documented[model["name"]] = [column["name"] for column in model["columns"]]
    assert built == documented


def test_same_customer_gets_the_same_key_in_transactions_interactions_and_labels(warehouse: Path) -> None:
    def keys(sql: str) -> set[str]:
        return {key for (key,) in query(warehouse, sql)}

    order_keys = keys("select customer_key from staging.stg_transactions__order_lines where customer_key is not null")
    event_keys = keys("select customer_key from staging.stg_interactions__events where customer_key is not null")
    label_keys = keys("select customer_key from staging.stg_ground_truth__anomaly_labels")
    # CUST-00417 and cust-00417 are one customer; CUST-00988 another.
    assert len(order_keys) == 2
    assert event_keys == order_keys
    assert label_keys < order_keys
    same_customer = query(
        warehouse,
        "select count(distinct customer_key) from staging.stg_transactions__order_lines where order_id in ('ORD-1', 'ORD-2')",
    )
    assert same_customer == [(1,)]


def test_a_guest_has_no_customer_key(warehouse: Path) -> None:
    assert query(
        warehouse, "select customer_key, is_guest from staging.stg_transactions__order_lines where order_id = 'ORD-4'"
    ) == [(None, True)]


def test_the_recipient_key_is_the_customer_email_key(warehouse: Path) -> None:
    joined = query(
        warehouse,
        """
        select count(distinct o.order_id)
        from staging.stg_transactions__order_lines as o
        join staging.stg_email__events as e on e.recipient_key = o.customer_email_key
        """,
    )
    assert joined == [(3,)]  # ORD-1 and ORD-2 (one address, two spellings) and ORD-3


def test_links_lose_pii_in_paths_and_queries_but_keep_ordinary_paths(warehouse: Path) -> None:
    link_paths = query(warehouse, "select link_path from staging.stg_email__events order by occurred_at")
    assert link_paths == [
        ("https://shop.example.com/sale",),
        ("https://shop.example.com/u/redacted/prefs",),
        ("https://social.example.com/redacted/posts",),
        ("https://shop.example/unsub/redacted",),
        ("https://shop.example/u/redacted/prefs",),
        ("https://shop.example/u/redacted/prefs",),
        ("https://shop.example/c/summer-sale-2026",),
    ]


def test_a_different_salt_gives_unrelated_keys(warehouse: Path, tmp_path: Path) -> None:
    shutil.copy(warehouse / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    run_dbt(tmp_path, "run", "--select", "stg_transactions__order_lines", salt="another-salt")
    sql = """
        select order_id, customer_key, customer_email_key, customer_phone_key, ip_key
        from staging.stg_transactions__order_lines order by order_id
    """
    with_test_salt, with_other_salt = query(warehouse, sql), query(tmp_path, sql)
    assert [row[0] for row in with_test_salt] == [row[0] for row in with_other_salt]
    for before, after in zip(with_test_salt, with_other_salt):
        for key_before, key_after in zip(before[1:], after[1:]):
            # NULL stays NULL under any salt; every other key changes.
            assert (key_before is None) == (key_after is None)
            assert key_before is None or key_before != key_after


def test_the_scanner_finds_every_kind_of_planted_pii() -> None:
    """The scanner must be able to fail: plant each kind outside `raw`, next to clean look-alikes."""
    planted = {
        "email": "contact jane.doe@example.com today",
        "phone": "call +44 20 7946 0958",
        "ipv4": "from 203.0.113.7",
        "ipv6": "from 2001:db8:abcd:12::1",
        "user_agent": WINDOWS_CHROME,
        "handle": "thanks @jane_doe_real!",
    }
    assert set(planted) == set(PII_PATTERNS)
    clean = [
        "2025-03-01 10:00:00", "cust_0a1b2c3d4e5f6789", "desktop/chrome", "https://shop.example.com/sale",
        "revenue fell 12.5% (1,204.50 vs 1,377.00)", "score +3.2 (2025-03-01 10:00 to 12:30)", "v1.2.3", "bot",
        "price @ 5 EUR",
    ]
    with duckdb.connect() as con:
        con.execute("create schema reports")
        con.execute("create table reports.leaky (kind varchar, note varchar)")
        con.executemany("insert into reports.leaky values (?, ?)", [[kind, text] for kind, text in planted.items()])
        con.execute("create table reports.clean (note varchar)")
        con.executemany("insert into reports.clean values (?)", [[text] for text in clean])
        con.execute("create table reports.story (explanation varchar)")
        con.execute("insert into reports.story values ('Customer CUST-00417 bought 10x.')")

        findings = find_pii(con, raw_values={"CUST-00417"})

    assert {f.kind for f in findings if f.relation == '"reports"."leaky"'} == set(PII_PATTERNS)
    assert not [f for f in findings if f.relation == '"reports"."clean"']
    assert [(f.relation, f.kind) for f in findings if f.relation == '"reports"."story"'] == [
        ('"reports"."story"', "a raw PII value")
    ]
