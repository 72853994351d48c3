"""End to end: landing files → warehouse → reports → serving files → alerts."""

import csv
import json
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from conftest import DEMO_END, DemoRun
from pii_scan import find_pii, raw_pii_values
from orchestration.assets.ingestion import QUARANTINE_CHECK
from orchestration.pipeline import run_pipeline
from orchestration.settings import ENV_MAX_QUARANTINE_RATE, PROJECT_DIR, load_settings

pytestmark = pytest.mark.slow

CONTRACT_REPORT_TABLES = (
    "anomaly_events",
    "anomaly_incidents",
    "customer_anomalies",
    "detection_kpis",
    "marketing_insights",
)
EVENT_COLUMNS = (
    "anomaly_id", "source", "metric", "segment_type", "segment_value", "grain", "period_start",
    "period_end", "observed", "expected", "lower_bound", "upper_bound", "score", "direction",
    "severity", "detectors", "explanation",
)


def warehouse_fingerprint(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent content hash of every table in the warehouse."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        return {
            f"{schema}.{name}": con.execute(
                f'select count(*), coalesce(sum(hash(t)), 0) from "{schema}"."{name}" as t'
            ).fetchone()
            for schema, name in tables
        }


def test_every_contract_report_table_is_built(demo_run: DemoRun) -> None:
    tables = {row[0] for row in demo_run.query("select table_name from information_schema.tables where table_schema = 'reports'")}
    assert set(CONTRACT_REPORT_TABLES) <= tables
    columns = {row[0] for row in demo_run.query(
        "select column_name from information_schema.columns where table_schema = 'reports' and table_name = 'anomaly_events'"
    )}
    assert set(EVENT_COLUMNS) <= columns


def test_the_labelled_critical_revenue_anomaly_is_found(demo_run: DemoRun) -> None:
    hits = demo_run.query(
        """
        select distinct l.label_id
        from raw.anomaly_labels as l
        join reports.anomaly_events as e
          on e.source = l.source and e.metric = l.metric
         and e.segment_type = l.segment_type and e.segment_value = l.segment_value
         and e.period_start < l.end_ts and e.period_end > l.start_ts
        where l.metric = 'revenue' and l.is_critical
        """
    )
    assert hits, "the labelled critical revenue anomaly was not flagged in reports.anomaly_events"


def test_report_tables_are_published_for_bi(demo_run: DemoRun) -> None:
    serving = demo_run.settings.serving_dir
    with duckdb.connect(str(serving / "reports.duckdb"), read_only=True) as served:
        for table in CONTRACT_REPORT_TABLES:
            expected = demo_run.query(f"select count(*) from reports.{table}")[0][0]
            assert served.execute(f"select count(*) from reports.{table}").fetchone()[0] == expected
            assert served.execute(f"select count(*) from '{serving / f'{table}.parquet'}'").fetchone()[0] == expected
            # columns keep their types in the Parquet files too (DuckDB writes a HUGEINT as a DOUBLE)
            types = f"select column_name, column_type from (describe {{}})"
            assert served.execute(types.format(f"'{serving / f'{table}.parquet'}'")).fetchall() == served.execute(
                types.format(f"reports.{table}")
            ).fetchall()


def test_one_alert_per_critical_incident(demo_run: DemoRun) -> None:
    critical = {row[0] for row in demo_run.query(
        "select incident_id from reports.anomaly_incidents where peak_severity = 'critical'"
    )}
    alerts_file = demo_run.settings.alerts_dir / "alerts.jsonl"
    alerted = [json.loads(line)["incident_id"] for line in alerts_file.read_text().splitlines()]
    assert critical, "the demo should contain at least one critical incident"
    assert sorted(alerted) == sorted(critical)


def test_html_report_is_written(demo_run: DemoRun) -> None:
    html = (demo_run.settings.report_dir / "anomaly_report.html").read_text()
    assert "<svg" in html


def test_no_pii_outside_the_raw_schema(demo_run: DemoRun) -> None:
    """Every relation of the warehouse outside `raw`, the serving copy, the alert feed and the
    HTML report are free of PII patterns and of every raw PII value."""
    with duckdb.connect(str(demo_run.settings.warehouse_path), read_only=True) as con:
        raw_values = raw_pii_values(con)
        assert raw_values, "the demo should land PII for the scan to look for"
        assert find_pii(con, raw_values) == []
    with duckdb.connect(str(demo_run.settings.serving_dir / "reports.duckdb"), read_only=True) as served:
        assert find_pii(served, raw_values) == []
    with duckdb.connect() as scratch:
        for path in (demo_run.settings.alerts_dir / "alerts.jsonl", demo_run.settings.report_dir / "anomaly_report.html"):
            scratch.execute("create or replace table delivered as select content from read_text($path)", {"path": str(path)})
            assert find_pii(scratch, raw_values, skip_schemas=()) == [], path


def test_second_run_with_nothing_new_changes_nothing(demo_run: DemoRun) -> None:
    before = warehouse_fingerprint(demo_run.settings.warehouse_path)
    alerts_before = (demo_run.settings.alerts_dir / "alerts.jsonl").read_bytes()
    started = time.time()
    result = run_pipeline(demo_run.settings)
    assert result.success, result.failures
    # the run's later dbt invocations started from the parse state the one before left, not from
    # scratch (the first starts from the checkout's last invocation: in the suite, often another
    # test's warehouse, whose path dbt's parse state depends on)
    invocations = {
        folder.name.split("-")[0]: folder
        for folder in (PROJECT_DIR / "target").glob("dbt_*")
        if folder.stat().st_mtime >= started
    }
    assert invocations.keys() == {"dbt_preparation", "dbt_detection", "dbt_reporting"}
    assert not [
        step
        for step in ("dbt_detection", "dbt_reporting")
        if "Unable to do partial parsing" in (invocations[step] / "dbt.log").read_text()
    ]
    after = warehouse_fingerprint(demo_run.settings.warehouse_path)
    # The run's own bookkeeping is the one thing a run adds: which periods it reopened (none).
    assert demo_run.query("select reason from intermediate.int_periods_reopened") == [("up_to_date",)]
    # the run named today's partition, which is no backfill
    assert demo_run.query("select reason from ops.incremental_builds order by built_at desc limit 1") == [("up_to_date",)]
    run_records = ("ops.incremental_builds", "intermediate.int_periods_reopened")
    assert after["ops.incremental_builds"][0] == before["ops.incremental_builds"][0] + 1
    assert {table: fingerprint for table, fingerprint in after.items() if table not in run_records} == {
        table: fingerprint for table, fingerprint in before.items() if table not in run_records
    }
    assert (demo_run.settings.alerts_dir / "alerts.jsonl").read_bytes() == alerts_before
    assert result.asset_metadata["serving/reports"]["replaced"] is False, "serving files were rewritten"


def test_file_written_by_another_program_flows_to_the_report(demo_run: DemoRun, tmp_path: Path) -> None:
    """A plain CSV written to the contract (not by our generator) lands, is cleaned and detected."""
    data_dir = tmp_path / "copy"
    shutil.copytree(demo_run.settings.data_dir, data_dir)
    settings = load_settings(data_dir=data_dir, landing_dir=data_dir / "landing")
    spike_day = DEMO_END
    external = settings.landing_dir / "transactions" / "partner_export" / "marketplace_dump.csv"
    external.parent.mkdir(parents=True)
    with external.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "order_ts", "channel", "sku", "quantity", "unit_price", "currency", "status", "extra_column"])
        for i in range(3000):
            writer.writerow([f"EXT-{i}", f"{spike_day}T{10 + i % 12:02d}:15:00Z", " MarketPlace ", "SKU-EXT", 1, "49.90", "EUR", "completed", "ignored"])
    result = run_pipeline(settings)
    assert result.success, result.failures
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        staged = con.execute(
            "select count(*) from staging.stg_transactions__order_lines where order_id like 'EXT-%' and channel = 'marketplace'"
        ).fetchone()[0]
        flagged = con.execute(
            f"""
            select count(*) from reports.anomaly_events
            where source = 'transactions' and metric = 'orders' and direction = 'spike'
              and grain = 'day' and period_start = timestamp '{spike_day}'
              and segment_type in ('total', 'channel')
            """
        ).fetchone()[0]
    assert staged == 3000
    assert flagged >= 1


def test_a_mostly_bad_load_blocks_publishing_and_alerting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quarantine-rate check is blocking: the run fails, says why, and publishes nothing;
    a re-run fails on the same load until a run with a higher threshold accepts it."""
    settings = load_settings(data_dir=tmp_path / "data", landing_dir=tmp_path / "landing")
    landed = settings.landing_dir / "transactions" / "broken_export.csv"
    landed.parent.mkdir(parents=True)
    rows = [["order_id", "order_ts", "channel", "sku", "quantity", "unit_price", "currency", "status"]]
    rows += [[f"B-{i}", "not a timestamp", "web", "SKU-1", "1", "9.99", "EUR", "completed"] for i in range(9)]
    rows += [["B-ok", "2026-06-01T10:00:00Z", "web", "SKU-1", "1", "9.99", "EUR", "completed"]]
    with landed.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    result = run_pipeline(settings)
    assert not result.success
    # The failure names the check and says why: how many rows were quarantined, and the threshold.
    held = "quarantine_rate_below_threshold failed: 9 of 10 rows quarantined in loads not yet accepted"
    assert any(held in failure for failure in result.failures), result.failures
    assert not settings.serving_dir.exists()
    assert not (settings.alerts_dir / "alerts.jsonl").exists()

    # nothing new: the held load fails the check again rather than being published
    again = run_pipeline(settings)
    assert not again.success
    assert any(held in failure for failure in again.failures), again.failures
    assert not settings.serving_dir.exists()

    monkeypatch.setenv(ENV_MAX_QUARANTINE_RATE, "1")
    accepted = run_pipeline(load_settings(data_dir=settings.data_dir, landing_dir=settings.landing_dir))
    assert not any(QUARANTINE_CHECK in failure for failure in accepted.failures), accepted.failures
    # the warnings a run goes on after, named for the command line to print: no source is fresh
    assert any("raw/interactions/source_is_fresh failed: newest event_ts: no rows" in w for w in accepted.warnings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select bool_and(quarantine_accepted) from raw.load_ledger").fetchone() == (True,)
