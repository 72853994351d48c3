{#- One row per incident: its time span, peak, the primary event (highest severity, then the
    largest score) that headlines it, and what else moved. An incident may span sources (an
    outage of the app channel moves orders and sessions): `source` is the primary event's,
    `sources` lists them all. -#}
with

events as (
    select * from {{ ref('fct_anomaly_events') }}
),

incident_events as (
    select * from {{ ref('int_incident_events') }}
),

ranked_events as (
    select
        incident_events.incident_id,
        events.*,
        case events.severity when 'critical' then 3 when 'warning' then 2 else 1 end as severity_rank,
        case when events.segment_type = 'total' then 'total' else events.segment_type || '=' || events.segment_value end as segment_label,
        lower({{ metric_display_name('events.metric') }}) as metric_name,
        case
            when events.segment_type = 'total' then 'overall'
            else trim({{ segment_phrase('events.segment_type', 'events.segment_value') }})
        end as segment_name,
    from events
    inner join incident_events using (anomaly_id)
),

incidents as (
    select
        incident_id,
        string_agg(distinct source, ', ' order by source) as sources,
        min(period_start) as started_at,
        max(period_end) as ended_at,
        max(severity_rank) as peak_severity_rank,
        max(abs(score)) as peak_score,
        count(*) as event_count,
        arg_max(anomaly_id, (severity_rank, abs(score), anomaly_id)) as primary_anomaly_id,
        -- the drill-down explains total-level moves, so insights look at the strongest one
        arg_max(anomaly_id, (severity_rank, abs(score), anomaly_id)) filter (where segment_type = 'total')
            as primary_total_anomaly_id,
        string_agg(distinct metric, ', ' order by metric) as affected_metrics,
        string_agg(distinct segment_label, ', ' order by segment_label) as affected_segments,
        string_agg(distinct metric_name, ', ' order by metric_name) as affected_metric_names,
        string_agg(distinct segment_name, ', ' order by segment_name) as affected_segment_names,
        count(distinct segment_label) as affected_segment_count,
        list(anomaly_id order by period_start, anomaly_id) as anomaly_ids,
    from ranked_events
    group by incident_id
),

final as (
    select
        incidents.incident_id,
        primary_event.source,
        incidents.sources,
        incidents.started_at,
        incidents.ended_at,
        case incidents.peak_severity_rank when 3 then 'critical' when 2 then 'warning' else 'info' end as peak_severity,
        incidents.peak_score,
        incidents.event_count,
        incidents.primary_anomaly_id,
        incidents.primary_total_anomaly_id,
        primary_event.metric as primary_metric,
        primary_event.metric_unit as primary_metric_unit,
        primary_event.segment_type as primary_segment_type,
        primary_event.segment_value as primary_segment_value,
        primary_event.grain as primary_grain,
        primary_event.observed as primary_observed,
        primary_event.expected as primary_expected,
        primary_event.direction,
        primary_event.explanation as primary_explanation,
        incidents.affected_metrics,
        incidents.affected_segments,
        incidents.affected_metric_names,
        incidents.affected_segment_names,
        incidents.affected_segment_count,
        incidents.anomaly_ids,
    from incidents
    inner join events as primary_event on incidents.primary_anomaly_id = primary_event.anomaly_id
)

select * from final
