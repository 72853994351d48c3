{#- Which incident each anomaly event belongs to.
    Events on the same segment are related when their periods overlap, touch, or leave at most
    `incident_gap_periods` empty periods between them (hour events inside a flagged day fall in
    its island). An island is per source, except on the segment types several sources share
    (`incident_shared_segment_types`: a channel has orders and sessions, a campaign has orders,
    e-mails and posts): there the events of every source form the islands together, so the
    app channel going down is one incident whether orders, sessions or both fell. The total
    never links sources (an e-mail bounce spike and a revenue dip are unrelated).
    Islands then join their hub, one level up, at most twice, so chains cannot grow:
    - a segment island of one source joins the earliest total island of that source that
      overlaps it and moved on a metric it shares (the total moved because segments did);
    - a total island joins the earliest cross-source island that overlaps it and has a part
      in its source sharing a metric with it (the total fell because the channel did);
    - a cross-source island is a hub and joins nothing.
    An incident is a hub and what joined it, directly or through a total island.
    The incident id is the md5 of its earliest event's anomaly_id, so it does not change when a
    re-run brings nothing new. -#}
{%- set gap_periods = var('incident_gap_periods', 1) -%}
{%- set shared_segment_types = var('incident_shared_segment_types', ['channel', 'campaign']) -%}

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
        -- the sources an island spans: one, or all of them on a shared segment type
        case
            when segment_type in ({% for segment_type in shared_segment_types %}'{{ segment_type }}'{% if not loop.last %}, {% endif %}{% endfor %})
                then '*'
            else source
        end as island_scope,
    from events
),

island_starts as (
    select
        *,
        max(reach_end) over (
            partition by island_scope, segment_type, segment_value
            order by period_start, anomaly_id
            rows between unbounded preceding and 1 preceding
        ) as earlier_reach_end,
    from event_reach
),

island_numbers as (
    select
        *,
        sum(case when earlier_reach_end is null or period_start > earlier_reach_end then 1 else 0 end) over (
            partition by island_scope, segment_type, segment_value
            order by period_start, anomaly_id
            rows between unbounded preceding and current row
        ) as island_number,
    from island_starts
),

event_islands as (
    select
        *,
        arg_min(anomaly_id, (period_start, anomaly_id)) over (
            partition by island_scope, segment_type, segment_value, island_number
        ) as island_id,
    from island_numbers
),

islands as (
    select
        island_id,
        any_value(segment_type) = 'total' as is_total,
        count(distinct source) > 1 as is_cross_source,
        -- the source of a one-source island (NULL for a cross-source one)
        case when count(distinct source) = 1 then any_value(source) end as source,
        min(period_start) as island_start,
        max(reach_end) as island_reach_end,
        -- metrics with their source: the same name in two sources is two metrics
        list(distinct source || '.' || metric) as island_metrics,
    from event_islands
    group by island_id
),

segment_island_hubs as (
    -- a one-source segment island: the earliest total island of its source that overlaps it
    -- and moved on a metric it shares
    select
        segment_islands.island_id,
        arg_min(total_islands.island_id, (total_islands.island_start, total_islands.island_id)) as hub_island_id,
    from islands as segment_islands
    inner join islands as total_islands
        on segment_islands.source = total_islands.source
        and total_islands.is_total
        and not segment_islands.is_total
        and not segment_islands.is_cross_source
        and segment_islands.island_start < total_islands.island_reach_end
        and total_islands.island_start < segment_islands.island_reach_end
        and list_has_any(segment_islands.island_metrics, total_islands.island_metrics)
    group by segment_islands.island_id
),

total_island_hubs as (
    -- a total island: the earliest cross-source island that overlaps it and moved on a metric
    -- of the total's source it shares
    select
        total_islands.island_id,
        arg_min(cross_islands.island_id, (cross_islands.island_start, cross_islands.island_id)) as hub_island_id,
    from islands as total_islands
    inner join islands as cross_islands
        on total_islands.is_total
        and cross_islands.is_cross_source
        and cross_islands.island_start < total_islands.island_reach_end
        and total_islands.island_start < cross_islands.island_reach_end
        and list_has_any(cross_islands.island_metrics, total_islands.island_metrics)
    group by total_islands.island_id
),

island_groups as (
    -- follow at most two hubs: segment island -> total island -> cross-source island
    select
        islands.island_id,
        coalesce(
            total_island_hubs.hub_island_id,
            segment_island_hubs.hub_island_id,
            islands.island_id
        ) as group_key,
    from islands
    left join segment_island_hubs using (island_id)
    left join total_island_hubs
        on total_island_hubs.island_id = coalesce(segment_island_hubs.hub_island_id, islands.island_id)
),

grouped_events as (
    select
        event_islands.anomaly_id,
        event_islands.period_start,
        island_groups.group_key,
    from event_islands
    inner join island_groups using (island_id)
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
