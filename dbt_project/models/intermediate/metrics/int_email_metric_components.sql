{#- Hourly building blocks of the e-mail metrics, one row per (metric, segment, hour).
    Rates are per send, the way marketers read them: every recipient of a campaign belongs to
    the hour the campaign was sent to them (their first event), and opens, clicks,
    unsubscribes and complaints that come later count for that send. Bounce rate is per mail
    sent; the other rates are per mail delivered. -#}
{%- set segments = {
    "total": "'all'",
    "campaign": "campaign_id",
} -%}

with

email_events as (
    select * from {{ ref('stg_email__events') }}
),

reopened_recipients as (
    select distinct
        campaign_id,
        recipient_key,
    from email_events
    where {{ reprocessed_periods("occurred_at") }}
),

recipient_sends as (
    select
        campaign_id,
        recipient_key,
        date_trunc('hour', min(occurred_at)) as period_start,
        bool_or(event_type = 'sent') as was_sent,
        bool_or(event_type = 'delivered') as was_delivered,
        bool_or(event_type = 'open') as opened,
        bool_or(event_type = 'click') as clicked,
        bool_or(event_type = 'bounce') as bounced,
        bool_or(event_type = 'unsubscribe') as unsubscribed,
        bool_or(event_type = 'spam_complaint') as complained,
    from email_events
    -- every event of a send in a reopened period, however late the open or click came
    semi join reopened_recipients using (campaign_id, recipient_key)
    group by campaign_id, recipient_key
    having {{ reprocessed_periods("min(occurred_at)") }}
),

segmented_sends as (
    {% for segment_type, segment_value in segments.items() %}
    select
        '{{ segment_type }}' as segment_type,
        {{ segment_value }} as segment_value,
        *,
    from recipient_sends
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

hourly_totals as (
    select
        segment_type,
        segment_value,
        period_start,
        -- a delivery or bounce without its `sent` row still means the mail went out
        count(*) filter (where was_sent or was_delivered or bounced) as sent,
        count(*) filter (where was_delivered) as delivered,
        count(*) filter (where was_delivered and opened) as opened,
        count(*) filter (where was_delivered and clicked) as clicked,
        count(*) filter (where bounced) as bounced,
        count(*) filter (where was_delivered and unsubscribed) as unsubscribed,
        count(*) filter (where was_delivered and complained) as complained,
    from segmented_sends
    group by all
),

final as (
    select
        'email' as source,
        segment_type,
        segment_value,
        period_start,
        component.*,
    from hourly_totals
    cross join unnest([
        {{ metric_component("'delivered'", 'count', 'delivered', 'delivered', 'delivered') }},
        {{ metric_component("'open_rate'", 'rate', 'opened', 'delivered', 'delivered', unit='percent') }},
        {{ metric_component("'click_rate'", 'rate', 'clicked', 'delivered', 'delivered', unit='percent') }},
        {{ metric_component("'bounce_rate'", 'rate', 'bounced', 'sent', 'sent', unit='percent') }},
        {{ metric_component("'unsubscribe_rate'", 'rate', 'unsubscribed', 'delivered', 'delivered', unit='percent') }},
        {{ metric_component("'complaint_rate'", 'rate', 'complained', 'delivered', 'delivered', unit='percent') }},
    ]) as components(component)
)

select * from final
