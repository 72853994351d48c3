{#- Consecutive and related anomaly events grouped into incidents (grouping rule in
    int_incident_events), each with a headline, an explanation and its likely driver. The
    headline names every source of an incident, the headline event's first. -#}
with

incidents as (
    select * from {{ ref('int_incident_summaries') }}
),

drivers as (
    select * from {{ ref('int_incident_drivers') }}
),

described as (
    select
        incidents.*,
        drivers.driver_code,
        drivers.likely_driver,
        -- "transactions", or "transactions and interactions" when the incident spans sources
        regexp_replace(
            array_to_string(
                list_concat([source], list_filter(string_split(sources, ', '), lambda other: other <> source)),
                ', '
            ),
            ', ([^,]+)$', ' and \1'
        ) as source_names,
        case
            -- whole days show as dates, anything shorter with its hours
            when started_at = date_trunc('day', started_at) and ended_at = started_at + interval 1 day then
                strftime(started_at, '%-d %b %Y')
            when started_at = date_trunc('day', started_at) and ended_at = date_trunc('day', ended_at) then
                strftime(started_at, '%-d %b') || ' to ' || strftime(ended_at - interval 1 day, '%-d %b %Y')
            when date_trunc('day', started_at) = date_trunc('day', ended_at) then
                strftime(started_at, '%-d %b %Y %H:%M') || ' to ' || strftime(ended_at, '%H:%M') || ' UTC'
            else
                strftime(started_at, '%-d %b %Y %H:%M') || ' to ' || strftime(ended_at, '%-d %b %H:%M') || ' UTC'
        end as time_span,
    from incidents
    inner join drivers using (incident_id)
),

final as (
    select
        incident_id,
        source,
        sources,
        started_at,
        ended_at,
        peak_severity,
        peak_score,
        event_count,
        primary_anomaly_id,
        primary_metric,
        affected_metrics,
        affected_segments,
        direction,
        upper(peak_severity[1]) || peak_severity[2:] || ': '
        || lower({{ metric_display_name('primary_metric') }}) || ' ' || direction
        || {{ segment_phrase('primary_segment_type', 'primary_segment_value') }}
        || ' (' || source_names || '), ' || time_span as headline,
        -- a one-period incident is fully told by its event; "a, b, c" reads as "a, b and c"
        primary_explanation
        || case
            when event_count > 1 then ' This incident groups ' || event_count || ' anomalies across '
                || regexp_replace(affected_metric_names, ', ([^,]+)$', ' and \1') || '.'
            else ''
        end as explanation,
        driver_code,
        likely_driver,
        anomaly_ids,
    from described
)

select * from final
