"""A small warehouse with the `reports` tables (columns as in docs/architecture.md) and the scored
series, for the publishing, HTML report and alerting tests.

Three incidents: a critical revenue drop (total and the web channel), a warning sessions spike
and a critical e-mail bounce-rate spike. Events are the cells outside their band.
"""

from contextlib import closing
from pathlib import Path

import duckdb

OBSERVATIONS = "marts.fct_metric_observations"
CRITICAL_INCIDENTS = ("inc_revenue", "inc_bounce")
ALL_INCIDENTS = ("inc_revenue", "inc_sessions", "inc_bounce")

_SQL = """
create schema reports;
create schema marts;

create table series_spec as select * from (values
    ('transactions', 'revenue', 'currency', 'total', 'all', 10000.0, 30, 32, 0.4, 'inc_revenue', 'critical'),
    ('transactions', 'revenue', 'currency', 'channel', 'web', 6000.0, 30, 32, 0.2, 'inc_revenue', 'critical'),
    ('transactions', 'revenue', 'currency', 'channel', 'app', 3000.0, 30, 32, 0.9, 'inc_revenue', 'critical'),
    ('transactions', 'revenue', 'currency', 'channel', 'store', 1000.0, 0, -1, 1.0, null, null),
    ('interactions', 'sessions', 'number', 'total', 'all', 5000.0, 20, 20, 1.8, 'inc_sessions', 'warning'),
    ('email', 'bounce_rate', 'percent', 'total', 'all', 0.02, 35, 36, 4.0, 'inc_bounce', 'critical')
) as t(source, metric, metric_unit, segment_type, segment_value, base, shock_from, shock_to, shock, incident_id, severity);

create table marts.fct_metric_observations as
select
    source || '|' || metric || '|day|' || segment_type || '|' || segment_value as series_key,
    source,
    metric,
    'day' as grain,
    segment_type,
    segment_value,
    timestamp '2026-05-01' + to_days(day::integer) as period_start,
    base * (1 + 0.05 * sin(day)) * (case when day between shock_from and shock_to then shock else 1 end) as value,
    case when day >= 7 then base end as expected,
    case when day >= 7 then base * 0.85 end as lower_bound,
    case when day >= 7 then base * 1.15 end as upper_bound,
from series_spec, range(40) as days(day);

create table reports.anomaly_events as
select
    md5(o.series_key || o.period_start) as anomaly_id,
    o.source, o.metric, s.metric_unit,
    case when s.metric_unit = 'currency' then 'EUR' end as currency,
    o.segment_type, o.segment_value, o.grain,
    o.period_start,
    o.period_start + interval 1 day as period_end,
    o.value as observed, o.expected, o.lower_bound, o.upper_bound,
    abs(o.value - o.expected) / (o.expected * 0.05) as score,
    case when o.value > o.expected then 'spike' else 'drop' end as direction,
    s.severity,
    'robust_z,seasonal' as detectors,
    o.metric || ' moved far outside its usual range' as explanation,
    s.incident_id,
from marts.fct_metric_observations as o
join series_spec as s using (source, metric, segment_type, segment_value)
where o.value < o.lower_bound or o.value > o.upper_bound;

create table reports.anomaly_incidents as
select
    incident_id,
    any_value(source) as source,
    min(period_start) as started_at,
    max(period_end) as ended_at,
    any_value(severity) as peak_severity,
    max(score) as peak_score,
    count(*) as event_count,
    any_value(metric) as primary_metric,
    string_agg(distinct metric, ',' order by metric) as affected_metrics,
    string_agg(distinct segment_type || '=' || segment_value, ',' order by segment_type || '=' || segment_value)
        as affected_segments,
    any_value(direction) as direction,
    any_value(metric) || ' ' || any_value(direction) || ' in ' || any_value(source) as headline,
    'The ' || any_value(metric) || ' left its expected band for ' || count(*) || ' periods.' as explanation,
    'seasonal shift' as likely_driver,
from reports.anomaly_events
group by incident_id;

create table reports.marketing_insights as
select
    'ins_' || incident_id as insight_id,
    incident_id,
    peak_severity as severity,
    started_at as period_start,
    ended_at as period_end,
    primary_metric || ' ' || direction as what_moved,
    affected_segments as where_it_moved,
    case incident_id when 'inc_revenue' then 'checkout outage on web' else 'campaign change' end as likely_driver,
    'Check the ' || primary_metric || ' funnel with the web team' as suggested_action,
from reports.anomaly_incidents;

create table reports.customer_anomalies as
select
    'cust_0123456789abcdef' as customer_key, 'customer_order_value' as metric,
    timestamp '2026-05-20' as period_start, timestamp '2026-05-21' as period_end,
    900.0 as observed, 80.0 as expected, 20.0 as lower_bound, 160.0 as upper_bound, 12.5 as score,
    'spike' as direction, 'warning' as severity, 'own_history' as baseline,
    'This customer spent far more than usual.' as explanation;

create table reports.detection_kpis as select * from (values
    ('robust_z', 'transactions', 'revenue', 2, 2, 1.0::double, 200, 6, 1, 0.005::double, 0.83::double,
     12.0::double, 'labels'),
    ('seasonal', 'transactions', 'revenue', 2, 1, 0.5, 200, 3, 0, 0.0, 1.0, 24.0, 'labels'),
    ('robust_z', 'email', 'bounce_rate', 1, 1, 1.0, 40, 2, 0, 0.0, 1.0, 0.0, 'labels')
) as t(detector, source, metric, labelled_anomalies, detected_anomalies, detection_rate,
       evaluated_cells, flagged_cells, false_positive_cells, false_positive_rate, precision,
       mean_time_to_detect_hours, basis);

drop table series_spec;
"""


def build_report_warehouse(path: Path) -> Path:
    """Create the warehouse at `path` (closed again on return, as the code under test expects)."""
    with closing(duckdb.connect(str(path))) as con:
        con.execute(_SQL)
    return path


def execute(path: Path, sql: str) -> list[tuple]:
    """Run SQL against the warehouse in its own short connection."""
    with closing(duckdb.connect(str(path))) as con:
        return con.execute(sql).fetchall()
