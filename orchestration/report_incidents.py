"""Incidents as people read them, with their marketing insight: one query for the HTML report
and the alerts, so both rank and describe an incident the same way."""

from dataclasses import dataclass
from datetime import datetime

import duckdb

# Most severe first: the order incidents are ranked and counted in.
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Incident:
    incident_id: str
    source: str  # the headline event's
    sources: tuple[str, ...]  # every source with events in it (an app outage: orders and sessions)
    started_at: datetime
    ended_at: datetime
    peak_severity: str
    peak_score: float
    event_count: int
    primary_metric: str
    affected_metrics: tuple[str, ...]
    affected_segments: tuple[str, ...]
    direction: str
    headline: str
    explanation: str
    likely_driver: str | None
    what_moved: str | None
    where_it_moved: str | None
    suggested_action: str | None
    anomaly_ids: tuple[str, ...]


_INCIDENTS_SQL = """
with

insights as (
    select * from reports.marketing_insights
    qualify row_number() over (partition by incident_id order by insight_id) = 1
),

ranked as (
    select
        incidents.incident_id,
        incidents.source,
        incidents.sources,
        incidents.started_at,
        incidents.ended_at,
        incidents.peak_severity,
        incidents.peak_score,
        incidents.event_count,
        incidents.primary_metric,
        incidents.affected_metrics,
        incidents.affected_segments,
        incidents.direction,
        incidents.headline,
        incidents.explanation,
        coalesce(insights.likely_driver, incidents.likely_driver) as likely_driver,
        insights.what_moved,
        insights.where_it_moved,
        insights.suggested_action,
        incidents.anomaly_ids,
        list_position($severities, incidents.peak_severity) as severity_rank,
    from reports.anomaly_incidents as incidents
    left join insights using (incident_id)
    where $severity is null or incidents.peak_severity = $severity
)

select * exclude (severity_rank) from ranked
order by severity_rank nulls last, peak_score desc, started_at, incident_id
"""


def _as_tuple(value: object) -> tuple[str, ...]:
    """The report tables may hold these as a list or as comma-separated text."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def read_incidents(con: duckdb.DuckDBPyConnection, severity: str | None = None) -> list[Incident]:
    """Incidents ranked by severity, then score; only those of `severity` when given."""
    incidents = []
    for row in con.execute(_INCIDENTS_SQL, {"severity": severity, "severities": list(SEVERITIES)}).fetchall():
        values = dict(zip([column[0] for column in con.description], row, strict=True))
        values["sources"] = _as_tuple(values["sources"])
        values["affected_metrics"] = _as_tuple(values["affected_metrics"])
        values["affected_segments"] = _as_tuple(values["affected_segments"])
        values["anomaly_ids"] = _as_tuple(values["anomaly_ids"])
        incidents.append(Incident(**values))
    return incidents
