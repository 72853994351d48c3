"""The anomaly report a person reads: one self-contained HTML file (inline CSS and SVG, no
script, no network), plus the same summary as Markdown for Dagster asset metadata."""

import html
import numbers
import os
import re
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import jinja2

from orchestration.report_chart import (
    MISSING,
    Chart,
    FlaggedPoint,
    SeriesPoint,
    build_chart,
    format_deviation,
    format_number,
    format_value,
)
from orchestration.report_incidents import SEVERITIES, Incident, read_incidents

DEFAULT_OBSERVATIONS = "marts.fct_metric_observations"
# The model's drill-down of each total-level anomaly (declared in the report's dbt exposure).
DEFAULT_CONTRIBUTIONS = "intermediate.int_anomaly_contributions"
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
    # per-period means over the drill-down's periods, in the metric's unit
    observed: float
    expected: float
    deviation: float
    # the segment's part of the total's deviation (rates weighted by the segment's volume)
    contribution_share: float | None
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
    # `total`: segments by their share of the flagged total's move (the model's drill-down);
    # `segments`: the total was not flagged, so the flagged segments beside their peers
    drilldown_basis: str
    # the periods the drill-down's means run over (the total's flagged ones, or the incident's)
    drilldown_periods: int
    drilldown: list[SegmentContribution]


@dataclass(frozen=True)
class KpiRollup:
    """A detector's row of reports.detection_kpis for all sources and metrics (basis feedback
    knows no labels: those counts are NULL)."""

    detector: str
    basis: str
    labelled_anomalies: int | None
    detected_anomalies: int | None
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
    kpi_headers: list[str]
    # reports.detection_kpis as displayed: every cell already formatted
    kpi_rows: list[list[str]]


# The model's own roll-up rows (source and metric `all`): a label with rows on several
# metrics or sources counts once there, so adding up the per-metric or per-source rows
# would count it (and its flagged cells) several times.
_KPI_ROLLUP_SQL = """
select
    detector,
    basis,
    labelled_anomalies,
    detected_anomalies,
    detection_rate,
    flagged_cells,
    false_positive_cells,
    precision,
    mean_time_to_detect_hours,
from reports.detection_kpis
where source = 'all' and metric = 'all'
order by detector, basis
"""

# Roll-ups first within each detector: `all` sources, then each source's `all` metrics.
_KPI_ROWS_SQL = """
select * from reports.detection_kpis
order by detector, basis, source <> 'all', source, metric <> 'all', metric
"""

# Headers a reader understands; a column not named here shows its name without underscores.
KPI_HEADERS = {
    "labelled_anomalies": "labelled",
    "detected_anomalies": "detected",
    "critical_labelled_anomalies": "critical labelled",
    "critical_detected_anomalies": "critical detected",
    "false_positive_cells": "false positives",
    "false_positive_rate": "false-positive rate",
    "mean_time_to_detect_hours": "hours to detect",
}
# Fractions, shown as percentages; the false-positive rate with decimals, as its targets are
# fractions of a percent.
KPI_SHARE_COLUMNS = frozenset({"detection_rate", "critical_detection_rate", "precision"})
KPI_SMALL_SHARE_COLUMNS = frozenset({"false_positive_rate"})

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

# Periods of the incident on the charted metric: all, and those in which its total was flagged.
_INCIDENT_PERIODS_SQL = """
select
    count(distinct period_start),
    count(distinct period_start) filter (where segment_type = 'total'),
from reports.anomaly_events
where incident_id = $incident_id and source = $source and metric = $metric and grain = $grain
"""

# Both drill-downs read the incident's events of the charted metric, and mark the segments
# that are among them.
_INCIDENT_EVENTS_CTE = """incident_events as (
    select * from reports.anomaly_events
    where incident_id = $incident_id and metric = $metric and grain = $grain
),"""


def _flagged_sql(relation: str) -> str:
    return f"""exists (
            select 1 from incident_events
            where incident_events.segment_type = {relation}.segment_type
                and incident_events.segment_value = {relation}.segment_value
        ) as flagged,"""


# The model's drill-down (int_anomaly_contributions) of the incident's flagged totals of the
# metric. A segment's delta there is in the total's units (a rate's deviation weighted by the
# segment's share of the total's denominator); its share of the incident's move is its summed
# delta over the summed deviation of those totals, so it weighs each period by how far the
# total moved. Observed, expected and deviation are per-period means over the same periods.
_DRILLDOWN_SQL = """
with

{incident_events}

total_anomalies as (
    select anomaly_id, observed - expected as total_delta,
    from incident_events
    where source = $source and segment_type = 'total'
),

segment_contributions as (
    select
        contributions.segment_type,
        contributions.segment_value,
        avg(contributions.observed)::double as observed,
        avg(contributions.expected)::double as expected,
        avg(contributions.observed - contributions.expected)::double as deviation,
        -- a segment missing from a period (cold start) adds nothing to the move there
        (sum(contributions.delta) / nullif((select sum(total_delta) from total_anomalies), 0))::double
            as contribution_share,
    from {contributions} as contributions
    inner join total_anomalies using (anomaly_id)
    group by contributions.segment_type, contributions.segment_value
),

final as (
    select
        segment_contributions.*,
        {flagged}
    from segment_contributions
)

-- segments that moved with the total; the flagged ones always, whatever they did
select * from final
where contribution_share > 0 or flagged
qualify flagged or row_number() over (
    order by contribution_share desc nulls last, abs(deviation) desc, segment_type, segment_value
) <= $limit
order by contribution_share desc nulls last, abs(deviation) desc, segment_type, segment_value
"""

# An incident whose total was not flagged (a move on a segment alone) has no move of the total
# to share out, and the model no drill-down of it: its flagged segments are shown beside the
# other segments of their type, by how far each moved the incident's way.
_SEGMENT_PEERS_SQL = """
with

{incident_events}

incident_periods as (
    select distinct period_start from incident_events
),

flagged_segment_types as (
    select distinct segment_type from incident_events where segment_type <> 'total'
),

segment_moves as (
    select
        observations.segment_type,
        observations.segment_value,
        avg(observations.value)::double as observed,
        avg(observations.expected)::double as expected,
        avg(observations.value - observations.expected)::double as deviation,
    from {observations} as observations
    inner join incident_periods using (period_start)
    inner join flagged_segment_types using (segment_type)
    where observations.source = $source
        and observations.metric = $metric
        and observations.grain = $grain
        and observations.expected is not null
        and observations.value is not null
    group by observations.segment_type, observations.segment_value
),

final as (
    select
        segment_moves.*,
        null::double as contribution_share,
        {flagged}
        deviation * case $direction when 'drop' then -1 else 1 end as move_with_incident,
    from segment_moves
)

select * exclude (move_with_incident) from final
qualify flagged or row_number() over (
    order by flagged desc, move_with_incident desc, segment_type, segment_value
) <= $limit
order by flagged desc, move_with_incident desc, segment_type, segment_value
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


def _format_kpi(column: str, value: object) -> str:
    if value is None:
        return MISSING
    if column in KPI_SHARE_COLUMNS:
        return _format_share(value)
    if column in KPI_SMALL_SHARE_COLUMNS:
        return f"{float(value):.2%}"
    if isinstance(value, numbers.Number):
        return format_number(float(value))
    return str(value)


def _overview(con: duckdb.DuckDBPyConnection, run_label: str | None) -> Overview:
    rows = con.execute(_KPI_ROWS_SQL).fetchall()
    columns = [column[0] for column in con.description]
    return Overview(
        generated_at=datetime.now(UTC).replace(microsecond=0),
        run_label=run_label,
        incidents=read_incidents(con),
        incidents_by_severity=_counts(
            con, "select peak_severity, count(*) from reports.anomaly_incidents group by all"
        ),
        events_by_severity=_counts(con, "select severity, count(*) from reports.anomaly_events group by all"),
        kpi_headers=[KPI_HEADERS.get(column, column.replace("_", " ")) for column in columns],
        kpi_rows=[[_format_kpi(column, value) for column, value in zip(columns, row, strict=True)] for row in rows],
        kpi_rollup=[KpiRollup(*row) for row in con.execute(_KPI_ROLLUP_SQL).fetchall()],
    )


def _drilldown(
    con: duckdb.DuckDBPyConnection, incident: Incident, series: Series, observations: str, contributions: str
) -> tuple[str, int, list[SegmentContribution]]:
    """The segments behind the incident's move in the charted metric: how they were chosen, over
    how many periods, and the segments."""
    parameters = {
        "incident_id": incident.incident_id,
        "source": series.source,
        "metric": series.metric,
        "grain": series.grain,
    }
    periods, total_periods = con.execute(_INCIDENT_PERIODS_SQL, parameters).fetchone()
    if total_periods:
        sql = _DRILLDOWN_SQL.format(
            contributions=contributions,
            incident_events=_INCIDENT_EVENTS_CTE,
            flagged=_flagged_sql("segment_contributions"),
        )
        basis, periods = "total", total_periods
        parameters |= {"limit": DRILLDOWN_LIMIT}
    else:
        sql = _SEGMENT_PEERS_SQL.format(
            observations=observations, incident_events=_INCIDENT_EVENTS_CTE, flagged=_flagged_sql("segment_moves")
        )
        basis = "segments"
        parameters |= {"limit": DRILLDOWN_LIMIT, "direction": incident.direction}
    return basis, periods, [SegmentContribution(*row) for row in con.execute(sql, parameters).fetchall()]


def _section(
    con: duckdb.DuckDBPyConnection, incident: Incident, observations: str, contributions: str
) -> IncidentSection:
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
    drilldown_basis, drilldown_periods, drilldown = _drilldown(con, incident, series, observations, contributions)
    return IncidentSection(
        incident=incident,
        series=series,
        metric_unit=metric_unit,
        currency=currency,
        chart=build_chart(points, flagged, series.grain, series.metric, metric_unit, currency),
        drilldown_basis=drilldown_basis,
        drilldown_periods=drilldown_periods,
        drilldown=drilldown,
    )


def _format_timestamp(moment: datetime | None) -> str:
    return MISSING if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _format_share(value: float | None) -> str:
    return MISSING if value is None else f"{value:.0%}"


def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        number=format_number,
        value=format_value,
        deviation=format_deviation,
        share=_format_share,
        timestamp=_format_timestamp,
    )
    return environment.get_template("anomaly_report.html.j2")


def render_report(
    warehouse_path: Path,
    out_path: Path,
    run_label: str | None = None,
    observations: str = DEFAULT_OBSERVATIONS,
    contributions: str = DEFAULT_CONTRIBUTIONS,
) -> ReportSummary:
    """Write the HTML report (atomically: a reader never sees half a file)."""
    relations = _relation(observations), _relation(contributions)
    with closing(duckdb.connect(str(warehouse_path), read_only=True)) as con:
        overview = _overview(con, run_label)
        sections = [_section(con, incident, *relations) for incident in overview.incidents]
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
        return MISSING
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
            ["severity", "sources", "started (UTC)", "headline", "likely driver", "suggested action"],
            [
                (i.peak_severity, ", ".join(i.sources), _format_timestamp(i.started_at), i.headline, i.likely_driver,
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
