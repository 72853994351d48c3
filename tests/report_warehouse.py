"""A small warehouse with the `reports` tables (columns as in docs/architecture.md) and the scored
series, for the publishing, HTML report and alerting tests.

Three incidents: a critical revenue drop (total and the web channel), a warning sessions spike
and a critical e-mail bounce-rate spike (total and both campaigns: the big newsletter moves a
little, the small winback a lot). Events are the cells outside their band. Segments add up to
their total (revenue: amounts; bounce rate: weighted by sends), and
intermediate.int_anomaly_contributions is built from them as the dbt model builds it.
"""

from contextlib import closing
from pathlib import Path

import duckdb

OBSERVATIONS = "marts.fct_metric_observations"
CONTRIBUTIONS = "intermediate.int_anomaly_contributions"
CRITICAL_INCIDENTS = ("inc_revenue", "inc_bounce")
ALL_INCIDENTS = ("inc_revenue", "inc_sessions", "inc_bounce")

_SQL = """
create schema reports;
create schema marts;
create schema intermediate;

create table metric_spec as select * from (values
    ('transactions', 'revenue', 'currency', 'amount'),
    ('interactions', 'sessions', 'number', 'count'),
    ('email', 'bounce_rate', 'percent', 'rate')
) as t(source, metric, metric_unit, metric_kind);

-- denominator: what a rate is a share of (sends), or the volume behind a count or amount
create table series_spec as select * from metric_spec natural join (values
    ('transactions', 'revenue', 'total', 'all', 10000.0, 500, 30, 32, 0.49, 'inc_revenue', 'critical'),
    ('transactions', 'revenue', 'channel', 'web', 6000.0, 300, 30, 32, 0.2, 'inc_revenue', 'critical'),
    ('transactions', 'revenue', 'channel', 'app', 3000.0, 150, 30, 32, 0.9, 'inc_revenue', 'critical'),
    ('transactions', 'revenue', 'channel', 'store', 1000.0, 50, 0, -1, 1.0, null, null),
    ('interactions', 'sessions', 'total', 'all', 5000.0, 5000, 20, 20, 1.8, 'inc_sessions', 'warning'),
    ('email', 'bounce_rate', 'total', 'all', 0.02, 10000, 35, 36, 2.6, 'inc_bounce', 'critical'),
    ('email', 'bounce_rate', 'campaign', 'newsletter', 0.02, 9000, 35, 36, 2.0, 'inc_bounce', 'critical'),
    ('email', 'bounce_rate', 'campaign', 'winback', 0.02, 1000, 35, 36, 8.0, 'inc_bounce', 'critical')
) as t(source, metric, segment_type, segment_value, base, denominator, shock_from, shock_to, shock, incident_id,
       severity);

create table marts.fct_metric_observations as
select
    source || '|' || metric || '|day|' || segment_type || '|' || segment_value as series_key,
    source,
    metric,
    metric_kind,
    'day' as grain,
    segment_type,
    segment_value,
    timestamp '2026-05-01' + to_days(day::integer) as period_start,
    base * (1 + 0.05 * sin(day)) * (case when day between shock_from and shock_to then shock else 1 end) as value,
    case when day >= 7 then base::double end as expected,
    case when day >= 7 then base::double * 0.85 end as lower_bound,
    case when day >= 7 then base::double * 1.15 end as upper_bound,
    denominator,
from series_spec, range(40) as days(day);

create table reports.anomaly_events as
select
    md5(o.series_key || o.period_start) as anomaly_id,
    o.source, o.metric, o.metric_kind, s.metric_unit,
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
    any_value(source) as sources,
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
    list(anomaly_id order by anomaly_id) as anomaly_ids,
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

-- as dbt_project/models/intermediate/detection/int_anomaly_contributions.sql
create table intermediate.int_anomaly_contributions as
with total_anomalies as (
    select e.anomaly_id, e.source, e.metric, e.metric_kind, e.grain, e.period_start,
        e.observed - e.expected as total_delta, o.denominator as total_denominator,
    from reports.anomaly_events as e
    join marts.fct_metric_observations as o
        on o.series_key = e.source || '|' || e.metric || '|day|total|all' and o.period_start = e.period_start
    where e.segment_type = 'total'
),
segment_deltas as (
    select t.anomaly_id, o.segment_type, o.segment_value, o.value as observed, o.expected,
        case when t.metric_kind in ('count', 'amount') then o.value - o.expected
            else (o.value - o.expected) * o.denominator / nullif(t.total_denominator, 0) end as delta,
        t.total_delta,
        case when o.value < o.lower_bound or o.value > o.upper_bound then 'anomaly' else 'normal' end
            as segment_status,
    from total_anomalies as t
    join marts.fct_metric_observations as o using (source, metric, grain, period_start)
    where o.segment_type <> 'total' and o.expected is not null and o.value is not null
)
select anomaly_id, segment_type, segment_value, observed, expected,
    round(delta, 6) as delta,
    round(delta / nullif(total_delta, 0), 6) as contribution_share,
    row_number() over (partition by anomaly_id, segment_type
        order by delta / nullif(total_delta, 0) desc nulls last, segment_value) as rank,
    segment_status,
from segment_deltas;

create table reports.customer_anomalies as
select
    'cust_0123456789abcdef' as customer_key, 'customer_order_value' as metric,
    timestamp '2026-05-20' as period_start, timestamp '2026-05-21' as period_end,
    900.0 as observed, 80.0 as expected, 20.0 as lower_bound, 160.0 as upper_bound, 12.5 as score,
    'spike' as direction, 'warning' as severity, 'own_history' as baseline,
    'This customer spent far more than usual.' as explanation;

-- Columns as the model's, with its roll-up rows (source or metric `all`). Both transactions
-- labels have rows on revenue and orders, so they count once in the roll-ups: adding up the
-- rows would count them three times over. Basis feedback knows no detection rate.
create table reports.detection_kpis as
select * replace (critical_detection_rate::double as critical_detection_rate,
                  mean_time_to_detect_hours::double as mean_time_to_detect_hours)
from (values
    ('robust_z', 'all', 'all', 3, 2, 2 / 3, 1, 1, 1.0, 480, 11, 1, 1 / 480, 10 / 11, 6.0, 'labels'),
    ('robust_z', 'transactions', 'all', 2, 1, 0.5, 1, 1, 1.0, 400, 9, 1, 1 / 400, 8 / 9, 12.0, 'labels'),
    ('robust_z', 'transactions', 'revenue', 2, 1, 0.5, 1, 1, 1.0, 200, 6, 1, 1 / 200, 5 / 6, 12.0, 'labels'),
    ('robust_z', 'transactions', 'orders', 2, 1, 0.5, 1, 1, 1.0, 200, 3, 0, 0.0, 1.0, 30.0, 'labels'),
    ('robust_z', 'email', 'all', 1, 1, 1.0, 0, 0, null, 80, 2, 0, 0.0, 1.0, 0.0, 'labels'),
    ('robust_z', 'email', 'bounce_rate', 1, 1, 1.0, 0, 0, null, 80, 2, 0, 0.0, 1.0, 0.0, 'labels'),
    ('seasonal', 'all', 'all', 3, 1, 1 / 3, 1, 0, 0.0, 480, 3, 0, 0.0, 1.0, 24.0, 'labels'),
    ('seasonal', 'transactions', 'all', 2, 1, 0.5, 1, 0, 0.0, 400, 3, 0, 0.0, 1.0, 24.0, 'labels'),
    ('seasonal', 'transactions', 'revenue', 2, 1, 0.5, 1, 0, 0.0, 200, 3, 0, 0.0, 1.0, 24.0, 'labels'),
    ('seasonal', 'email', 'all', 1, 0, 0.0, 0, 0, null, 80, 0, 0, 0.0, null, null, 'labels'),
    ('seasonal', 'email', 'bounce_rate', 1, 0, 0.0, 0, 0, null, 80, 0, 0, 0.0, null, null, 'labels'),
    ('ensemble', 'all', 'all', null, null, null, null, null, null, 480, 4, 1, 1 / 480, 0.75, null, 'feedback'),
    ('ensemble', 'transactions', 'all', null, null, null, null, null, null, 400, 4, 1, 1 / 400, 0.75, null, 'feedback'),
    ('ensemble', 'transactions', 'revenue', null, null, null, null, null, null, 200, 4, 1, 1 / 200, 0.75, null,
     'feedback')
) as t(detector, source, metric, labelled_anomalies, detected_anomalies, detection_rate,
       critical_labelled_anomalies, critical_detected_anomalies, critical_detection_rate,
       evaluated_cells, flagged_cells, false_positive_cells, false_positive_rate, precision,
       mean_time_to_detect_hours, basis);

drop table series_spec;
drop table metric_spec;
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
