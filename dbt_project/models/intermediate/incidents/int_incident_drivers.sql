{#- The likely driver of each incident and what marketing could do about it, from the
    incident's own events and evidence in the other sources: email sends and social spikes
    from `incident_driver_lead_hours` before the incident to the end of its first period,
    orders versus sessions, the promotion planned for its first day. An incident may span
    sources (the app channel's orders and sessions falling together are one incident), so the
    rules read its events, never only its headline source. The first matching rule wins, most
    specific first. A send explains a rise in visits or orders only while the
    campaign still brings its own (tagged) visits and orders: at least
    `incident_driver_min_campaign_share` of the rise's excess over expected in its first
    period; sends go out every few days, so one is nearly always within the lead hours. -#}
{%- set lead_hours = var('incident_driver_lead_hours', 48) -%}
{%- set min_campaign_share = var('incident_driver_min_campaign_share', 0.1) -%}
{%- set social_attention_metrics = "('impressions', 'engagement_rate', 'clicks', 'mentions')" -%}

with

incidents as (
    select * from {{ ref('int_incident_summaries') }}
),

incident_events as (
    select * from {{ ref('int_incident_events') }}
),

events as (
    select * from {{ ref('fct_anomaly_events') }}
),

email_events as (
    select * from {{ ref('stg_email__events') }}
),

interaction_events as (
    select * from {{ ref('stg_interactions__events') }}
),

order_lines as (
    select * from {{ ref('stg_transactions__order_lines') }}
),

promotion_calendar as (
    select * from {{ ref('promotion_calendar') }}
),

incident_windows as (
    -- evidence counts when it starts before the incident's first period is over
    select
        *,
        started_at + case primary_grain when 'hour' then interval 1 hour else interval 1 day end as first_period_end,
    from incidents
),

events_with_incident as (
    select
        events.*,
        incident_events.incident_id,
    from events
    inner join incident_events using (anomaly_id)
),

email_sends as (
    select
        campaign_id,
        coalesce(any_value(campaign_name), campaign_id) as campaign_name,
        min(occurred_at) as first_sent_at,
    from email_events
    where event_type = 'sent'
    group by campaign_id
),

campaign_visits as (
    -- visits and orders tagged with a campaign, by hour
    select campaign_id, date_trunc('hour', occurred_at) as hour_start, count(distinct session_id) as visits,
    from interaction_events
    where campaign_id is not null
    group by all
    union all
    select campaign_id, date_trunc('hour', ordered_at) as hour_start, count(distinct order_id) as visits,
    from order_lines
    where campaign_id is not null
    group by all
),

first_period_excess as (
    -- how far visits or orders rose above expected in the incident's first period
    select
        incident_windows.incident_id,
        max(events_with_incident.observed - events_with_incident.expected) as excess,
    from incident_windows
    inner join events_with_incident using (incident_id)
    where events_with_incident.metric in ('sessions', 'orders')
        and events_with_incident.direction = 'spike'
        and events_with_incident.period_start < incident_windows.first_period_end
    group by incident_windows.incident_id
),

own_signals as (
    select
        incident_id,
        bool_or(metric = 'sessions' and direction = 'drop') as sessions_fell,
        bool_or(metric = 'orders' and direction = 'drop') as own_orders_fell,
        bool_or(metric = 'sessions' and direction = 'spike') as sessions_rose,
        bool_or(metric = 'orders' and direction = 'spike') as orders_rose,
        bool_or(metric = 'delivered' and direction = 'spike') as deliveries_rose,
        bool_or(metric = 'bot_session_share' and direction = 'spike') as bot_share_rose,
        bool_or(metric = 'conversion_rate' and direction = 'drop') as conversion_fell,
        bool_or(metric = 'units' and direction = 'spike') as units_rose,
        bool_or(metric = 'avg_order_value' and direction = 'drop') as order_value_fell,
        bool_or(metric = 'avg_unit_price' and direction = 'drop') as unit_price_fell,
        bool_or(metric = 'refund_rate' and direction = 'spike') as refunds_rose,
        bool_or(metric in ('bounce_rate', 'complaint_rate') and direction = 'spike') as bounces_rose,
        bool_or(source = 'social' and metric in {{ social_attention_metrics }} and direction = 'spike') as social_buzz,
        arg_max(segment_value, abs(score)) filter (
            where metric in ('avg_order_value', 'avg_unit_price') and direction = 'drop' and segment_type = 'category'
        ) as repriced_category,
        arg_max(segment_value, abs(score)) filter (
            where metric in ('bounce_rate', 'complaint_rate') and direction = 'spike' and segment_type = 'campaign'
        ) as bouncing_campaign,
        arg_max(segment_value, abs(score)) filter (
            where source = 'social' and metric in {{ social_attention_metrics }} and direction = 'spike' and segment_type = 'platform'
        ) as buzzing_platform,
    from events_with_incident
    group by incident_id
),

channel_drops as (
    select * from events_with_incident
    where segment_type = 'channel' and direction = 'drop' and metric in ('orders', 'sessions')
),

channel_outages as (
    -- orders and sessions of the same channel falling together (at the same time, or an hour
    -- apart in one incident): the channel itself was down
    select
        own_drop.incident_id,
        arg_max(own_drop.segment_value, abs(own_drop.score)) as outage_channel,
    from channel_drops as own_drop
    inner join channel_drops as other_drop
        on own_drop.segment_value = other_drop.segment_value
        and own_drop.metric <> other_drop.metric
        and (
            own_drop.incident_id = other_drop.incident_id
            or (own_drop.period_start < other_drop.period_end and other_drop.period_start < own_drop.period_end)
        )
    group by own_drop.incident_id
),

orders_fell_meanwhile as (
    select distinct incidents.incident_id
    from incidents
    inner join events
        on events.metric = 'orders'
        and events.segment_type = 'total'
        and events.direction = 'drop'
        and events.period_start < incidents.ended_at
        and incidents.started_at < events.period_end
),

social_spikes_before as (
    -- a post going viral shortly before traffic rises
    select
        incident_windows.incident_id,
        arg_max(events.segment_value, abs(events.score)) filter (where events.segment_type = 'platform') as viral_platform,
    from incident_windows
    inner join events
        on events.source = 'social'
        and events.direction = 'spike'
        and events.metric in {{ social_attention_metrics }}
        and events.period_start >= incident_windows.started_at - interval {{ lead_hours }} hours
        and events.period_start < incident_windows.first_period_end
    -- social's own spikes are not evidence for a social-only incident
    where incident_windows.sources <> 'social'
    group by incident_windows.incident_id
),

sends_before as (
    select
        incident_windows.incident_id,
        email_sends.campaign_name,
        email_sends.first_sent_at,
        coalesce(sum(campaign_visits.visits), 0) as campaign_visits,
    from incident_windows
    inner join email_sends
        on email_sends.first_sent_at >= incident_windows.started_at - interval {{ lead_hours }} hours
        and email_sends.first_sent_at < incident_windows.first_period_end
    left join campaign_visits
        on campaign_visits.campaign_id = email_sends.campaign_id
        and campaign_visits.hour_start >= incident_windows.started_at
        and campaign_visits.hour_start < incident_windows.first_period_end
    group by all
),

email_sends_before as (
    -- the send bringing the most visits while the incident began, the latest of equals
    select
        sends_before.incident_id,
        arg_max(sends_before.campaign_name, (sends_before.campaign_visits, sends_before.first_sent_at)) as sent_campaign,
        arg_max(sends_before.first_sent_at, (sends_before.campaign_visits, sends_before.first_sent_at)) as sent_at,
        max(sends_before.campaign_visits) >= {{ min_campaign_share }} * max(first_period_excess.excess)
            as campaign_brought_the_rise,
    from sends_before
    left join first_period_excess using (incident_id)
    group by sends_before.incident_id
),

planned_days as (
    -- the promotion planned for the day the incident starts
    select
        incidents.incident_id,
        arg_max(promotion_calendar.event_name, promotion_calendar.expected_lift) as promotion_name,
    from incidents
    inner join promotion_calendar
        on promotion_calendar.calendar_date = cast(incidents.started_at as date)
    group by incidents.incident_id
),

evidence as (
    select
        incidents.incident_id,
        incidents.direction,
        incidents.started_at,
        incidents.ended_at,
        own_signals.*  exclude (incident_id),
        channel_outages.outage_channel,
        orders_fell_meanwhile.incident_id is not null as orders_fell,
        social_spikes_before.incident_id is not null as social_spiked_before,
        social_spikes_before.viral_platform,
        email_sends_before.sent_campaign,
        email_sends_before.sent_at,
        email_sends_before.campaign_brought_the_rise,
        planned_days.promotion_name,
    from incidents
    inner join own_signals using (incident_id)
    left join channel_outages using (incident_id)
    left join orders_fell_meanwhile using (incident_id)
    left join social_spikes_before using (incident_id)
    left join email_sends_before using (incident_id)
    left join planned_days using (incident_id)
),

classified as (
    select
        *,
        case
            when outage_channel is not null then 'channel_outage'
            -- visits fell while orders held, in this incident and overall
            when sessions_fell and not own_orders_fell and not orders_fell then 'tracking_outage'
            when sessions_rose and (bot_share_rose or conversion_fell) then 'bot_traffic'
            -- list prices per unit falling, or baskets cheaper while more units sell
            when unit_price_fell or (units_rose and order_value_fell) then 'pricing_error'
            when refunds_rose then 'refund_wave'
            when bounces_rose then 'email_deliverability'
            when social_buzz or (social_spiked_before and (sessions_rose or orders_rose)) then 'viral_social_post'
            when promotion_name is not null and direction = 'spike' then 'planned_promotion'
            when sent_campaign is not null
                and (deliveries_rose or ((sessions_rose or orders_rose) and campaign_brought_the_rise))
                then 'email_campaign'
            when ended_at - started_at >= interval 3 days then 'lasting_change'
            else 'unexplained'
        end as driver_code,
    from evidence
),

final as (
    select
        incident_id,
        driver_code,
        case driver_code
            when 'planned_promotion' then
                'A planned promotion (' || replace(promotion_name, '_', ' ')
                || ') started the day; the rise went beyond what the promotion usually brings.'
            when 'channel_outage' then
                'Orders and visits' || {{ segment_phrase("'channel'", 'outage_channel') }}
                || ' fell together, so the channel itself was most likely down.'
            when 'tracking_outage' then
                'Visits fell while orders held steady, which points to a gap in website or app tracking rather than fewer customers.'
            when 'bot_traffic' then
                'Visits jumped while conversion fell and the share of bot visits rose: most likely automated (bot) traffic.'
            when 'pricing_error' then
                case
                    when unit_price_fell then 'Units sold at a much lower price than usual'
                    else 'More units were sold at a much lower value per order'
                end
                || coalesce({{ segment_phrase("'category'", 'repriced_category') }}, '')
                || ': prices were probably set far too low.'
            when 'refund_wave' then
                'A wave of refunds: customers sent back an unusual share of their orders.'
            when 'email_deliverability' then
                'Emails bounced or were marked as spam far more than usual'
                || coalesce({{ segment_phrase("'campaign'", 'bouncing_campaign') }}, '')
                || ': a delivery problem with the mailing list or the sending domain.'
            when 'viral_social_post' then
                'Social media attention spiked'
                || coalesce({{ segment_phrase("'platform'", 'coalesce(buzzing_platform, viral_platform)') }}, '')
                || ' around this time: a post most likely went viral.'
            when 'email_campaign' then
                'The email campaign ' || sent_campaign || ' went out on ' || strftime(sent_at, '%-d %b %H:%M')
                || ' UTC, just before or as the rise began.'
            when 'lasting_change' then
                'A lasting change rather than a one-off: the level stayed different for '
                || date_diff('day', started_at, ended_at) || ' days.'
            else 'No clear cause in the other data sources.'
        end as likely_driver,
        case driver_code
            when 'planned_promotion' then
                'Check whether the promotion runs bigger than planned (extra discounts, wider reach), and that stock, delivery and customer service keep up.'
            when 'channel_outage' then
                'Ask the shop and IT teams to confirm the ' || replace(outage_channel, '_', ' ')
                || ' channel works again, and consider a goodwill offer for customers who could not order.'
            when 'tracking_outage' then
                'Ask the web team to check that visit tracking works on every page and app screen; do not judge campaigns on visit numbers from these hours.'
            when 'bot_traffic' then
                'Leave these visits out of campaign results and ask the web team to block the automated traffic.'
            when 'pricing_error' then
                'Check and correct the prices'
                || coalesce({{ segment_phrase("'category'", 'repriced_category') }}, '')
                || ' now, then decide how to handle orders placed at the wrong price.'
            when 'refund_wave' then
                'Look at which products and reasons are behind the refunds, and pause promoting the products concerned until the cause is clear.'
            when 'email_deliverability' then
                'Pause the affected sends, remove addresses that bounce from the list, and check the sending setup with your email provider.'
            when 'viral_social_post' then
                'Reply to and share the post while it is hot, and check that the products it shows are in stock.'
            when 'email_campaign' then
                'Note what worked in this campaign for the next one, and check stock and service can handle the extra demand.'
            when 'lasting_change' then
                'Find what changed around ' || strftime(started_at, '%-d %b') || ' (prices, site, range or marketing spend) and decide whether this is the new normal.'
            else
                'Check with the teams involved what changed at this time (prices, site, campaigns, stock).'
        end as suggested_action,
    from classified
)

select * from final
