{#- Hourly building blocks of the interaction metrics, one row per (metric, segment, hour).
    Sessions are counted in the hour they start, with the channel and device of their first
    event; funnel rates are shares of sessions reaching a step. `conversion_rate` joins the
    two sources: orders (transactions) per session (interactions), for the total and per
    channel (orders carry no device), counting only orders of channels that have sessions (a
    store or marketplace order never had a visit to convert). Event counts are per event hour
    and the event's own channel and device; their volume is the sessions they come from, and
    they carry the sum of each session's squared count of them in the hour (how clumped they
    are). Bot sessions stay in: a bot burst must move the numbers. Sessions and events with a
    campaign id are also counted apart (campaign-attributed traffic). -#}
{%- set segments = {
    "total": "'all'",
    "channel": "channel",
    "device": "coalesce(device, 'unknown')",
} -%}

with

events as (
    select * from {{ ref('stg_interactions__events') }}
),

order_lines as (
    select * from {{ ref('stg_transactions__order_lines') }}
),

sessions as (
    select
        session_id,
        min(occurred_at) as started_at,
        -- the first event decides; the event id breaks ties so re-runs agree
        arg_min(channel, (occurred_at, event_id)) as channel,
        arg_min(device, (occurred_at, event_id)) as device,
        bool_or(is_bot) as is_bot,
        bool_or(campaign_id is not null) as is_campaign_attributed,
        bool_or(event_type = 'add_to_cart') as added_to_cart,
        bool_or(event_type = 'checkout_start') as started_checkout,
        bool_or(event_type = 'purchase') as purchased,
    from events
    -- every event of a session that starts in a reopened period, however early or late it came
    where session_id in (select session_id from events where {{ reprocessed_periods("occurred_at") }})
    group by session_id
    having {{ reprocessed_periods("min(occurred_at)") }}
),

session_channels as (
    select distinct channel from events
),

orders as (
    select
        order_id,
        min(ordered_at) as ordered_at,
        arg_min(channel, line_number) as channel,
    from order_lines
    where order_id in (select order_id from order_lines where {{ reprocessed_periods("ordered_at") }})
    group by order_id
    having {{ reprocessed_periods("min(ordered_at)") }}
        and arg_min(channel, line_number) in (select channel from session_channels)
),

segmented_sessions as (
    {% for segment_type, segment_value in segments.items() %}
    select
        '{{ segment_type }}' as segment_type,
        {{ segment_value }} as segment_value,
        date_trunc('hour', started_at) as period_start,
        *,
    from sessions
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

segmented_events as (
    {% for segment_type, segment_value in segments.items() %}
    select
        '{{ segment_type }}' as segment_type,
        {{ segment_value }} as segment_value,
        date_trunc('hour', occurred_at) as period_start,
        event_type,
        session_id,
        campaign_id is not null as is_campaign_attributed,
    from events
    where {{ reprocessed_periods("occurred_at") }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

hourly_orders as (
    {% for segment_type in ["total", "channel"] %}
    select
        '{{ segment_type }}' as segment_type,
        {{ segments[segment_type] }} as segment_value,
        date_trunc('hour', ordered_at) as period_start,
        count(*) as orders,
    from orders
    group by all
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

hourly_sessions as (
    select
        segment_type,
        segment_value,
        period_start,
        count(*) as sessions,
        count(*) filter (where is_bot) as bot_sessions,
        count(*) filter (where added_to_cart) as cart_sessions,
        count(*) filter (where started_checkout) as checkout_sessions,
        count(*) filter (where added_to_cart and not purchased) as abandoned_cart_sessions,
        count(*) filter (where is_campaign_attributed) as campaign_sessions,
    from segmented_sessions
    group by all
),

session_metrics as (
    select
        segment_type,
        segment_value,
        period_start,
        component.*,
    from hourly_sessions
    cross join unnest([
        {{ metric_component("'sessions'", 'count', 'sessions', 'sessions', 'sessions', 'campaign_sessions') }},
        {{ metric_component("'add_to_cart_rate'", 'rate', 'cart_sessions', 'sessions', 'sessions', unit='percent') }},
        {{ metric_component("'checkout_rate'", 'rate', 'checkout_sessions', 'sessions', 'sessions', unit='percent') }},
        {{ metric_component("'cart_abandonment_rate'", 'rate', 'abandoned_cart_sessions', 'cart_sessions', 'cart_sessions', unit='percent') }},
        {{ metric_component("'bot_session_share'", 'rate', 'bot_sessions', 'sessions', 'sessions', unit='percent') }},
    ]) as components(component)
),

conversion_metrics as (
    -- an hour with orders but no sessions (a tracking outage) keeps its orders: rate undefined
    select
        segment_type,
        segment_value,
        period_start,
        component.*,
    from hourly_orders
    full outer join (select * from hourly_sessions where segment_type <> 'device') as hourly_sessions
        using (segment_type, segment_value, period_start)
    cross join unnest([
        {{ metric_component("'conversion_rate'", 'rate', 'coalesce(orders, 0)', 'coalesce(sessions, 0)', 'coalesce(sessions, 0)', unit='percent') }},
    ]) as components(component)
),

session_events as (
    select
        segment_type,
        segment_value,
        period_start,
        'events_' || event_type as event_metric,
        session_id,
        count(*) as events,
        count(*) filter (where is_campaign_attributed) as campaign_events,
    from segmented_events
    group by all
),

hourly_events as (
    select
        segment_type,
        segment_value,
        period_start,
        event_metric,
        sum(events) as events,
        sum(campaign_events) as campaign_events,
        -- events come in sessions (ten page views of one visitor): the sessions are the
        -- independent units behind the count, and how clumped the events are
        count(*) as event_sessions,
        sum(events * events) as session_events_squares,
    from session_events
    group by all
),

event_metrics as (
    select
        segment_type,
        segment_value,
        period_start,
        component.*,
    from hourly_events
    cross join unnest([
        {{ metric_component('event_metric', 'count', 'events', 'events', 'event_sessions', 'campaign_events', numerator_squares='session_events_squares') }},
    ]) as components(component)
),

final as (
    select 'interactions' as source, * from session_metrics
    union all by name
    select 'interactions' as source, * from conversion_metrics
    union all by name
    select 'interactions' as source, * from event_metrics
)

select * from final
