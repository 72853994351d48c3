{#- Which incident each anomaly event belongs to.
    Events on the same segment are related when their periods overlap, touch, or leave at most
    `incident_gap_periods` empty periods between them (hour events inside a flagged day fall in
    its island). An island is per source, except on the segment types several sources share
    (`incident_shared_segment_types`: a channel has orders and sessions, a campaign has orders,
    e-mails and posts): there the events of every source form the islands together, so the
    app channel going down is one incident whether orders, sessions or both fell. The total
    alone never links sources (an e-mail bounce spike and a revenue dip are unrelated).
    Islands then join a hub, so chains cannot grow:
    - a segment island (of one source, or across sources) joins the earliest total island of
      one of its sources that overlaps it and moved on a metric it shares (the total moved
      because segments did);
    - a total island that is not itself a cross-source island's hub, overlapping a
      cross-source island that shares its metric, joins that island's hub: total sessions
      falling with the app channel join total orders, which the app channel joined;
    - hubs of cross-source islands never move.
    An incident is a total island with what joined it (or a segment island alone).
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

related_islands as (
    -- a segment island (of one source, or of several on a shared segment) and a total island
    -- it overlaps and shares a metric with (metrics carry their source)
    select
        segment_islands.island_id as segment_island_id,
        segment_islands.island_start as segment_island_start,
        segment_islands.is_cross_source,
        total_islands.island_id as total_island_id,
        total_islands.island_start as total_island_start,
    from islands as segment_islands
    inner join islands as total_islands
        on total_islands.is_total
        and not segment_islands.is_total
        and segment_islands.island_start < total_islands.island_reach_end
        and total_islands.island_start < segment_islands.island_reach_end
        and list_has_any(segment_islands.island_metrics, total_islands.island_metrics)
),

island_hubs as (
    -- a segment island joins the earliest of those total islands (the total moved because
    -- segments did)
    select
        segment_island_id as island_id,
        arg_min(total_island_id, (total_island_start, total_island_id)) as hub_island_id,
    from related_islands
    group by segment_island_id
),

cross_source_hubs as (
    select distinct island_hubs.hub_island_id as island_id
    from island_hubs
    inner join islands using (island_id)
    where islands.is_cross_source
),

total_island_hubs as (
    -- a total island that is no cross-source island's hub, related to one: the other source's
    -- view of the same event (the app going down drops total orders and total sessions) joins
    -- that island's hub. Hubs never move, so chains stop.
    select
        related_islands.total_island_id as island_id,
        arg_min(
            island_hubs.hub_island_id, (related_islands.segment_island_start, related_islands.segment_island_id)
        ) as hub_island_id,
    from related_islands
    inner join island_hubs on island_hubs.island_id = related_islands.segment_island_id
    where related_islands.is_cross_source
        and related_islands.total_island_id not in (select island_id from cross_source_hubs)
    group by related_islands.total_island_id
),

island_groups as (
    -- at most two steps: segment island -> its total island -> that total's hub
    select
        islands.island_id,
        coalesce(
            total_island_hubs.hub_island_id,
            island_hubs.hub_island_id,
            islands.island_id
        ) as group_key,
    from islands
    left join island_hubs using (island_id)
    left join total_island_hubs
        on total_island_hubs.island_id = coalesce(island_hubs.hub_island_id, islands.island_id)
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
