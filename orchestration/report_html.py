"""The anomaly report a person reads: one self-contained HTML file (inline CSS and SVG, no
script, no network), plus the same summary as Markdown for Dagster asset metadata."""

import html
import os
import re
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import jinja2

from orchestration.report_chart import Chart, FlaggedPoint, SeriesPoint, build_chart, format_number, format_value
from orchestration.report_incidents import SEVERITIES, Incident, read_incidents

DEFAULT_OBSERVATIONS = "marts.fct_metric_observations"
TEMPLATES_DIR = Path(__file__).parent / "templates"
# How much history and aftermath each chart shows around its incident.
CHART_CONTEXT = {
    "day": (timedelta(days=42), timedelta(days=7)),
    "hour": (timedelta(hours=72), timedelta(hours=24)),
}
DRILLDOWN_LIMIT = 10
MARKDOWN_INCIDENT_LIMIT = 20


@dataclass(frozen=True)
class ReportSummary:
    out_path: Path
    incident_count: int
    incidents_by_severity: dict[str, int]
    events_by_severity: dict[str, int]


@dataclass(frozen=True)
class Series:
    source: str
    metric: str
    grain: str
    segment_type: str
    segment_value: str


@dataclass(frozen=True)
class SegmentContribution:
    segment_type: str
    segment_value: str
    observed: float
    expected: float
    deviation: float
    contribution_share: float
    flagged: bool


@dataclass(frozen=True)
class IncidentSection:
    incident: Incident
    series: Series
    # number, percent or currency (reports.anomaly_events.metric_unit)
    metric_unit: str
    # the reporting currency of a currency metric, else None
    currency: str | None
    chart: Chart | None
    drilldown: list[SegmentContribution]


@dataclass(frozen=True)
class KpiRollup:
    detector: str
    basis: str
    labelled_anomalies: int
    detected_anomalies: int
    detection_rate: float | None
    flagged_cells: int
    false_positive_cells: int
    precision: float | None
    mean_time_to_detect_hours: float | None


@dataclass(frozen=True)
class Overview:
    generated_at: datetime
    run_label: str | None
    incidents: list[Incident]
    incidents_by_severity: dict[str, int]
    events_by_severity: dict[str, int]
    kpi_rollup: list[KpiRollup]
    kpi_columns: list[str]
    kpi_rows: list[tuple]


# Ratios of sums over metrics, so a detector's roll-up weighs each metric by its volume.
_KPI_ROLLUP_SQL = """
select
    detector,
    basis,
    sum(labelled_anomalies) as labelled_anomalies,
    sum(detected_anomalies) as detected_anomalies,
    sum(detected_anomalies) / nullif(sum(labelled_anomalies), 0) as detection_rate,
    sum(flagged_cells) as flagged_cells,
    sum(false_positive_cells) as false_positive_cells,
    1 - sum(false_positive_cells) / nullif(sum(flagged_cells), 0) as precision,
    sum(mean_time_to_detect_hours * detected_anomalies)
        / nullif(sum(detected_anomalies) filter (where mean_time_to_detect_hours is not null), 0)
        as mean_time_to_detect_hours,
from reports.detection_kpis
group by detector, basis
order by detector, basis
"""

_PRIMARY_SERIES_SQL = """
select source, metric, grain, segment_type, segment_value, metric_unit, currency
from reports.anomaly_events
where incident_id = $incident_id
order by metric = $primary_metric desc, score desc, period_start
limit 1
"""

_SERIES_FILTER = """
    source = $source and metric = $metric and grain = $grain
    and segment_type = $segment_type and segment_value = $segment_value
    and period_start between $window_start and $window_end
"""

_DRILLDOWN_SQL = """
with

incident_events as (
    select * from reports.anomaly_events
    where incident_id = $incident_id and metric = $metric and grain = $grain
),

incident_periods as (
    select distinct period_start from incident_events
),

segment_deviations as (
    select
        observations.segment_type,
        observations.segment_value,
        avg(observations.value)::double as observed,
        avg(observations.expected)::double as expected,
        sum(observations.value - observations.expected)::double as deviation,
    from {observations} as observations
    inner join incident_periods using (period_start)
    where observations.source = $source
        and observations.metric = $metric
        and observations.grain = $grain
        and observations.segment_type <> 'total'
        and observations.expected is not null
    group by observations.segment_type, observations.segment_value
),

moved_with_incident as (
    -- only segments that moved the incident's way share in it
    select
        *,
        deviation / sum(deviation) over (partition by segment_type) as contribution_share,
    from segment_deviations
    where sign(deviation) = case $direction when 'drop' then -1 else 1 end
),

final as (
    select
        moved_with_incident.*,
        exists (
            select 1 from incident_events
            where incident_events.segment_type = moved_with_incident.segment_type
                and incident_events.segment_value = moved_with_incident.segment_value
        ) as flagged,
    from moved_with_incident
)

select * from final
order by contribution_share desc, abs(deviation) desc, segment_type, segment_value
limit $limit
"""


def _relation(name: str) -> str:
    """Quote a dotted relation name given as a parameter (it is put into SQL text)."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 3 or not all(re.fullmatch(r"\w+", part) for part in parts):
        raise ValueError(f"not a relation name: {name!r}")
    return ".".join(f'"{part}"' for part in parts)


def _counts(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    found = dict(con.execute(sql).fetchall())
    return {severity: found.get(severity, 0) for severity in SEVERITIES}


def _overview(con: duckdb.DuckDBPyConnection, run_label: str | None) -> Overview:
    kpi_rows = con.execute(
        "select * from reports.detection_kpis order by detector, basis, source, metric"
    ).fetchall()
    kpi_columns = [column[0] for column in con.description]
    return Overview(
        generated_at=datetime.now(UTC).replace(microsecond=0),
        run_label=run_label,
        incidents=read_incidents(con),
        incidents_by_severity=_counts(
            con, "select peak_severity, count(*) from reports.anomaly_incidents group by all"
        ),
        events_by_severity=_counts(con, "select severity, count(*) from reports.anomaly_events group by all"),
        kpi_columns=kpi_columns,
        kpi_rows=kpi_rows,
        kpi_rollup=[KpiRollup(*row) for row in con.execute(_KPI_ROLLUP_SQL).fetchall()],
    )


def _section(con: duckdb.DuckDBPyConnection, incident: Incident, observations: str) -> IncidentSection:
    *series_columns, metric_unit, currency = con.execute(
        _PRIMARY_SERIES_SQL, {"incident_id": incident.incident_id, "primary_metric": incident.primary_metric}
    ).fetchone()
    series = Series(*series_columns)
    before, after = CHART_CONTEXT.get(series.grain, CHART_CONTEXT["day"])
    series_parameters = {
        **vars(series),
        "window_start": incident.started_at - before,
        "window_end": incident.ended_at + after,
    }
    points = [
        SeriesPoint(*row)
        for row in con.execute(
            "select period_start, value::double, expected::double, lower_bound::double, upper_bound::double"
            f" from {observations}"
            f" where {_SERIES_FILTER} order by period_start",
            series_parameters,
        ).fetchall()
    ]
    # Periods of this series flagged in other incidents are shown too, told apart, so a reader
    # does not take an unmarked excursion for a miss.
    flagged = [
        FlaggedPoint(*row)
        for row in con.execute(
            "select period_start, observed::double, expected::double, incident_id is not distinct from $incident_id"
            f" from reports.anomaly_events where {_SERIES_FILTER} order by period_start",
            {**series_parameters, "incident_id": incident.incident_id},
        ).fetchall()
    ]
    drilldown = con.execute(
        _DRILLDOWN_SQL.format(observations=observations),
        {
            "incident_id": incident.incident_id,
            "source": series.source,
            "metric": series.metric,
            "grain": series.grain,
            "direction": incident.direction,
            "limit": DRILLDOWN_LIMIT,
        },
    ).fetchall()
    return IncidentSection(
        incident=incident,
        series=series,
        metric_unit=metric_unit,
        currency=currency,
        chart=build_chart(points, flagged, series.grain, series.metric, metric_unit, currency),
        drilldown=[SegmentContribution(*row) for row in drilldown],
    )


def _format_timestamp(moment: datetime | None) -> str:
    return "–" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _format_share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        number=format_number, value=format_value, share=_format_share, timestamp=_format_timestamp
    )
    return environment.get_template("anomaly_report.html.j2")


def render_report(
    warehouse_path: Path,
    out_path: Path,
    run_label: str | None = None,
    observations: str = DEFAULT_OBSERVATIONS,
) -> ReportSummary:
    """Write the HTML report (atomically: a reader never sees half a file)."""
    relation = _relation(observations)
    with closing(duckdb.connect(str(warehouse_path), read_only=True)) as con:
        overview = _overview(con, run_label)
        sections = [_section(con, incident, relation) for incident in overview.incidents]
    page = _template().render(overview=overview, sections=sections, severities=SEVERITIES)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = out_path.with_name(f".{out_path.name}.partial")
    partial_path.write_text(page, encoding="utf-8")
    os.replace(partial_path, out_path)
    return ReportSummary(
        out_path=out_path,
        incident_count=len(overview.incidents),
        incidents_by_severity=overview.incidents_by_severity,
        events_by_severity=overview.events_by_severity,
    )


def _cell(text: object) -> str:
    """Markdown table cell: no pipes or line breaks, and no HTML."""
    if text is None:
        return "–"
    return html.escape(" ".join(str(text).split())).replace("|", "\\|")


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(_cell(value) for value in row) + " |" for row in rows),
    ]


def render_markdown_summary(warehouse_path: Path, run_label: str | None = None) -> str:
    """The report's header, incident list and detection quality as Markdown."""
    with closing(duckdb.connect(str(warehouse_path), read_only=True)) as con:
        overview = _overview(con, run_label)
    run = f" (run {_cell(run_label)})" if run_label else ""
    counts = ", ".join(f"{count} {severity}" for severity, count in overview.incidents_by_severity.items())
    lines = [f"## Anomaly report{run}", "", f"Generated {_format_timestamp(overview.generated_at)} UTC.", ""]
    if overview.incidents:
        lines += [f"Incidents: {counts}.", ""]
        lines += _markdown_table(
            ["severity", "source", "started (UTC)", "headline", "likely driver", "suggested action"],
            [
                (i.peak_severity, i.source, _format_timestamp(i.started_at), i.headline, i.likely_driver,
                 i.suggested_action)
                for i in overview.incidents[:MARKDOWN_INCIDENT_LIMIT]
            ],
        )
        hidden = len(overview.incidents) - MARKDOWN_INCIDENT_LIMIT
        if hidden > 0:
            lines += ["", f"…and {hidden} more in the HTML report."]
    else:
        lines += ["No anomalies in this run."]
    lines += ["", "### Detection quality", ""]
    lines += _markdown_table(
        ["detector", "basis", "labelled", "detected", "detection rate", "precision", "hours to detect"],
        [
            (k.detector, k.basis, k.labelled_anomalies, k.detected_anomalies, _format_share(k.detection_rate),
             _format_share(k.precision), format_number(k.mean_time_to_detect_hours))
            for k in overview.kpi_rollup
        ],
    )
    return "\n".join(lines) + "\n"
