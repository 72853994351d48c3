{#- Which incident each anomaly event belongs to.
    Events of one source are related when they are on the same segment and their periods
    overlap, touch, or leave at most `incident_gap_periods` empty periods between them (hour
    events inside a flagged day fall in its island). A total-level island also takes in every
    segment island of the same source that it overlaps and that shares a metric with it: the
    total moved because segments did.
    The incident id is the md5 of its earliest event's anomaly_id, so it does not change when a
    re-run brings nothing new. -#}
{%- set gap_periods = var('incident_gap_periods', 1) -%}

with

events as (
    select * from {{ ref('fct_anomaly_events') }}
),

event_reach as (
    select
        anomaly_id,
        source,
        metric,
        segment_type,
        segment_value,
        period_start,
        -- how far an event reaches: its end plus the empty periods an incident may bridge
        period_end + case grain when 'hour' then interval 1 hour else interval 1 day end * {{ gap_periods }} as reach_end,
    from events
),

island_starts as (
    select
        *,
        max(reach_end) over (
            partition by source, segment_type, segment_value
            order by period_start, anomaly_id
            rows between unbounded preceding and 1 preceding
        ) as earlier_reach_end,
    from event_reach
),

island_numbers as (
    select
        *,
        sum(case when earlier_reach_end is null or period_start > earlier_reach_end then 1 else 0 end) over (
            partition by source, segment_type, segment_value
            order by period_start, anomaly_id
            rows between unbounded preceding and current row
        ) as island_number,
    from island_starts
),

event_islands as (
    select
        *,
        arg_min(anomaly_id, (period_start, anomaly_id)) over (
            partition by source, segment_type, segment_value, island_number
        ) as island_id,
    from island_numbers
),

islands as (
    select
        island_id,
        any_value(source) as source,
        any_value(segment_type) = 'total' as is_total,
        min(period_start) as island_start,
        max(reach_end) as island_reach_end,
        list(distinct metric) as island_metrics,
    from event_islands
    group by island_id
),

segment_island_hubs as (
    -- the earliest total island of the same source that overlaps it and moved on a metric
    -- it shares
    select
        segment_islands.island_id,
        arg_min(total_islands.island_id, total_islands.island_start) as hub_island_id,
    from islands as segment_islands
    inner join islands as total_islands
        on segment_islands.source = total_islands.source
        and total_islands.is_total
        and not segment_islands.is_total
        and segment_islands.island_start < total_islands.island_reach_end
        and total_islands.island_start < segment_islands.island_reach_end
        and list_has_any(segment_islands.island_metrics, total_islands.island_metrics)
    group by segment_islands.island_id
),

grouped_events as (
    select
        event_islands.anomaly_id,
        event_islands.period_start,
        coalesce(segment_island_hubs.hub_island_id, event_islands.island_id) as group_key,
    from event_islands
    left join segment_island_hubs using (island_id)
),

final as (
    select
        anomaly_id,
        md5(first_value(anomaly_id) over incident) as incident_id,
        row_number() over incident as incident_event_number,
    from grouped_events
    window incident as (partition by group_key order by period_start, anomaly_id)
)

select * from final
