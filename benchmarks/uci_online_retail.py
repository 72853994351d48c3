"""Run the product on the real UCI "Online Retail" log and print what it found and how fast.

    python -m benchmarks.uci_online_retail [--shared-data PATH] [--work-dir PATH] [--start DATE] [--end DATE]

Maps the order lines onto the transactions contract (orchestration/uci_mapping.py), runs the
whole job twice on a fresh warehouse (the second run has nothing new and must change
nothing) and prints rows landed / loaded / quarantined, wall times, anomalies by metric and
severity, the top incidents, and whether the data's own events (closed days, the biggest
orders) were flagged.
"""

import argparse
import contextlib
import io
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from benchmarks.nab.corpus import shared_data_dir
from orchestration.pipeline import PipelineResult, Progress, run_pipeline
from orchestration.report_incidents import SEVERITIES, read_incidents
from orchestration.settings import Settings, load_settings
from orchestration.uci_mapping import closed_days_sql, write_uci_landing

DEFAULT_WORK_DIR = Path(__file__).resolve().parent / ".work" / "uci_online_retail"
UCI_PARQUET = Path("uci-online-retail") / "online_retail.parquet"
RAW_TRANSACTIONS_ASSET = "raw/transactions"
TOP_INCIDENTS = 8
BIGGEST_ORDERS = 3


@dataclass
class TimedRun:
    """One pipeline run with its wall time and when each step started or asset materialised."""

    result: PipelineResult
    seconds: float
    marks: dict[str, float] = field(default_factory=dict)

    def ingestion_seconds(self) -> float:
        """From the first raw step's start to the transactions table's materialisation."""
        start = min(moment for name, moment in self.marks.items() if name.startswith("raw"))
        return self.marks[RAW_TRANSACTIONS_ASSET] - start


def timed_run(settings: Settings) -> TimedRun:
    marks: dict[str, float] = {}
    started = time.perf_counter()

    def record(progress: Progress) -> None:
        marks.setdefault(progress.current, time.perf_counter() - started)

    # dbt's own console log would bury the figures; failures still come back in the result.
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_pipeline(settings, on_progress=record, log_level="ERROR")
    run = TimedRun(result, time.perf_counter() - started, marks)
    if not result.success:
        raise SystemExit("the run failed:\n  " + "\n  ".join(result.failures))
    return run


@contextlib.contextmanager
def read_only(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        yield con


def serving_state(settings: Settings) -> dict[str, int]:
    """Modification time of every serving file: publishing replaces only what changed."""
    return {path.name: path.stat().st_mtime_ns for path in sorted(settings.serving_dir.iterdir())}


def report_content(settings: Settings) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of the rows of every report table."""
    with read_only(settings) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'reports' order by 1"
        ).fetchall()
        return {
            table: con.execute(f'select count(*), coalesce(sum(hash(t)), 0) from reports."{table}" as t').fetchone()
            for (table,) in tables
        }


def print_rows(con: duckdb.DuckDBPyConnection) -> None:
    landed, loaded, quarantined = con.execute(
        "select sum(landed_rows), sum(loaded_rows), sum(quarantined_rows) "
        "from raw.load_ledger where source = 'transactions'"
    ).fetchone()
    print(f"rows landed {landed:,}, loaded {loaded:,}, quarantined {quarantined:,} ({quarantined / landed:.2%})")
    for reason, detail, rows in con.execute(
        "select reason_code, reason_detail, count(*) from raw.quarantine "
        "where source = 'transactions' group by all order by 3 desc"
    ).fetchall():
        print(f"  quarantined {rows:,}: {reason} ({detail})")
    statuses = con.execute("select status, count(*) from raw.transactions group by all order by 1").fetchall()
    print("  loaded by status: " + ", ".join(f"{status} {rows:,}" for status, rows in statuses))


def print_anomalies(con: duckdb.DuckDBPyConnection) -> None:
    severity_columns = ", ".join(f"count(*) filter (where severity = '{s}') as {s}" for s in SEVERITIES)
    rows = con.execute(
        f"select metric, {severity_columns}, count(*) from reports.anomaly_events group by metric order by metric"
    ).fetchall()
    print(f"\nanomaly events by metric ({' / '.join(SEVERITIES)} / total):")
    for metric, *counts in rows:
        print(f"  {metric:<22}" + "".join(f"{count:>9,}" for count in counts))
    by_segment = con.execute(
        "select grain, segment_type, count(*) from reports.anomaly_events group by all order by 1, 3 desc"
    ).fetchall()
    print("  by grain and segment type: " + ", ".join(f"{g}/{s} {n:,}" for g, s, n in by_segment))
    incidents = con.execute(
        "select peak_severity, count(*) from reports.anomaly_incidents group by all order by 1"
    ).fetchall()
    print("incidents by peak severity: " + ", ".join(f"{severity} {n:,}" for severity, n in incidents))


def print_top_incidents(con: duckdb.DuckDBPyConnection) -> None:
    print(f"\ntop {TOP_INCIDENTS} incidents:")
    for incident in read_incidents(con)[:TOP_INCIDENTS]:
        print(f"- [{incident.peak_severity}, score {incident.peak_score:.1f}] {incident.headline}")
        print(f"    {incident.explanation}")
        if incident.likely_driver:
            print(f"    likely driver: {incident.likely_driver}")


def _flagged_on_day(con: duckdb.DuckDBPyConnection, day: date, metrics: tuple[str, ...]) -> str:
    """The total-segment events on `metrics` overlapping the UTC day, as `metric direction (grain)`;
    when there are none, the day's observation of the first metric with its expected band."""
    events = con.execute(
        """
        select distinct metric || ' ' || direction || ' (' || grain || ')'
        from reports.anomaly_events
        where segment_type = 'total' and period_start < $end and period_end > $start
            and list_contains($metrics, metric)
        order by 1
        """,
        {"start": day, "end": day + timedelta(days=1), "metrics": list(metrics)},
    ).fetchall()
    if events:
        return ", ".join(event for (event,) in events)
    observed = con.execute(
        """
        select value, expected, lower_bound, upper_bound from marts.fct_metric_observations
        where source = 'transactions' and metric = $metric and grain = 'day' and segment_type = 'total'
            and period_start = $day
        """,
        {"metric": metrics[0], "day": day},
    ).fetchall()
    if not observed:
        return "NOT flagged (no daily observation)"
    value, expected, lower, upper = observed[0]
    band = "no baseline yet" if expected is None else f"expected {expected:,.0f}, band {lower:,.0f} to {upper:,.0f}"
    return f"NOT flagged ({metrics[0]} {value:,.0f}; {band})"


def print_known_events(con: duckdb.DuckDBPyConnection) -> None:
    """Events the data itself shows, found from raw rows rather than written down by hand."""
    print("\nthe data's own events, and what the product flagged on the total series:")
    for (day,) in con.execute(closed_days_sql()).fetchall():
        print(f"  no orders on {day:%a %d %b %Y}: {_flagged_on_day(con, day, ('orders',))}")
    for order_id, ordered_at, units in con.execute(
        f"""
        select order_id, min(order_ts), sum(quantity) from raw.transactions
        where status = 'completed' group by order_id order by 3 desc limit {BIGGEST_ORDERS}
        """
    ).fetchall():
        flagged = _flagged_on_day(con, ordered_at.date(), ("units", "revenue", "avg_order_value"))
        print(f"  order {order_id} of {units:,} units at {ordered_at:%d %b %Y %H:%M} UTC: {flagged}")
    print("  spike events on the total series by month: " + ", ".join(
        f"{month:%b %Y} {n}" for month, n in con.execute(
            "select date_trunc('month', period_start), count(*) from reports.anomaly_events "
            "where segment_type = 'total' and direction = 'spike' group by 1 order by 1"
        ).fetchall()
    ))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.uci_online_retail", description=__doc__)
    parser.add_argument(
        "--shared-data", help="shared data folder (env RETAIL_ANOMALY_SHARED_DATA; default ../shared/data)"
    )
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="where landing and warehouse are written")
    parser.add_argument("--start", type=date.fromisoformat, help="first UK day to include (default: all)")
    parser.add_argument("--end", type=date.fromisoformat, help="UK day after the last one included (default: all)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parquet = shared_data_dir(args.shared_data) / UCI_PARQUET
    if not parquet.is_file():
        print(f"error: {parquet} not found (set --shared-data or RETAIL_ANOMALY_SHARED_DATA)", file=sys.stderr)
        return 2
    work_dir = Path(args.work_dir).resolve()
    settings = load_settings(data_dir=work_dir / "data", landing_dir=work_dir / "landing")
    if settings.warehouse_path.exists():
        print(f"error: {work_dir} holds an earlier run; remove it or pass another --work-dir", file=sys.stderr)
        return 2

    started = time.perf_counter()
    landed = write_uci_landing(parquet, settings.landing_dir, args.start, args.end)
    print(f"mapped {parquet.name} → {landed} in {time.perf_counter() - started:.1f} s")
    first = timed_run(settings)
    served, reported = serving_state(settings), report_content(settings)
    second = timed_run(settings)
    unchanged = {
        "report tables": report_content(settings) == reported,
        "serving files": serving_state(settings) == served,
    }
    second_loads = second.result.asset_metadata[RAW_TRANSACTIONS_ASSET]

    with read_only(settings) as con:
        print_rows(con)
        print(f"wall time: ingestion {first.ingestion_seconds():.1f} s, whole run {first.seconds:.1f} s")
        print(
            f"re-run with nothing new: {second.seconds:.1f} s ({second.seconds / first.seconds:.0%} of the first), "
            f"{second_loads['new_rows']} new rows, "
            + ", ".join(f"{what} {'unchanged' if same else 'CHANGED'}" for what, same in unchanged.items())
            + f", alerts sent {second.result.asset_metadata['alerts/alert_deliveries']['sent']}"
        )
        print_anomalies(con)
        print_top_incidents(con)
        print_known_events(con)
    return 0


if __name__ == "__main__":
    sys.exit(main())
