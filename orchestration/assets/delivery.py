"""What people and BI tools receive after a successful build: serving copies, the HTML
report and alerts. Each reads the warehouse only after every report table is built."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from orchestration.alerting import load_sinks_config, send_alerts
from orchestration.assets.transformation import REPORT_TABLE_KEYS
from orchestration.publishing import publish_reports
from orchestration.report_html import render_markdown_summary, render_report
from orchestration.resources import WarehouseResource

DELIVERY_GROUP = "delivery"


@asset(
    key=AssetKey(["serving", "reports"]),
    deps=REPORT_TABLE_KEYS,
    group_name=DELIVERY_GROUP,
    description="Report tables published for BI: `<data-dir>/serving/<table>.parquet` and a read-only "
    "`<data-dir>/serving/reports.duckdb`, replaced atomically so readers always see a complete version.",
    kinds={"parquet", "duckdb"},
)
def serving_reports(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    settings = warehouse.settings()
    result = publish_reports(settings.warehouse_path, settings.serving_dir)
    context.log.info(f"Published {len(result.tables)} report tables to {settings.serving_dir}")
    return MaterializeResult(
        metadata={
            "serving_dir": MetadataValue.path(str(settings.serving_dir)),
            "tables": MetadataValue.json(result.row_counts),
            "replaced": result.changed,
        }
    )


@asset(
    key=AssetKey(["report", "anomaly_report"]),
    deps=REPORT_TABLE_KEYS,
    group_name=DELIVERY_GROUP,
    description="The anomaly report a person reads: incidents ranked by severity, each with a chart of "
    "the metric, its expected band and flagged points, the drill-down and the explanation. One HTML file.",
    kinds={"html"},
)
def anomaly_report(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    settings = warehouse.settings()
    out_path = settings.report_dir / "anomaly_report.html"
    summary = render_report(settings.warehouse_path, out_path, run_label=context.run.run_id)
    return MaterializeResult(
        metadata={
            "report": MetadataValue.path(str(out_path)),
            "summary": MetadataValue.md(render_markdown_summary(settings.warehouse_path)),
            "incidents": summary.incident_count,
            "incidents_by_severity": MetadataValue.json(summary.incidents_by_severity),
            "anomalies_by_severity": MetadataValue.json(summary.events_by_severity),
        }
    )


@asset(
    key=AssetKey(["alerts", "alert_deliveries"]),
    deps=[*REPORT_TABLE_KEYS, anomaly_report.key],
    group_name=DELIVERY_GROUP,
    description="Alerts for critical incidents, sent once per incident to every configured sink "
    "(JSON lines by default), with a delivery ledger and retries.",
    kinds={"python"},
)
def alert_deliveries(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    settings = warehouse.settings()
    result = send_alerts(settings.warehouse_path, settings.data_dir, load_sinks_config(settings))
    context.log.info(f"Alerts: {result.sent} sent, {result.failed} failed, {result.already_sent} already sent")
    return MaterializeResult(
        metadata={"sent": result.sent, "failed": result.failed, "already_sent": result.already_sent}
    )


delivery_assets = [serving_reports, anomaly_report, alert_deliveries]
