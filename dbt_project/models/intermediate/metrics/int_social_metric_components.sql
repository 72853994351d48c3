{#- Hourly building blocks of the social metrics, one row per (metric, segment, hour).
    `metric_at` is the end of the interval a row covers, so a row stamped 14:00 counts in the
    13:00 hour. Engagement = likes + comments + shares, as a share of impressions. Mentions
    come from the account-level rows (no post). -#}
{%- set segments = {
    "total": "'all'",
    "platform": "platform",
    "campaign": "campaign_id",
} -%}

with

post_metrics as (
    select * from {{ ref('stg_social__post_metrics') }}
),

post_metrics_by_hour as (
    select
        *,
        date_trunc('hour', metric_at - interval 1 microsecond) as period_start,
    from post_metrics
),

segmented_post_metrics as (
    {% for segment_type, segment_value in segments.items() %}
    select
        '{{ segment_type }}' as segment_type,
        {{ segment_value }} as segment_value,
        *,
    from post_metrics_by_hour
    where {{ segment_value }} is not null
        and {{ reprocessed_periods() }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

hourly_totals as (
    select
        segment_type,
        segment_value,
        period_start,
        sum(impressions) as impressions,
        sum(likes + comments + shares) as engagements,
        sum(clicks) as clicks,
        sum(mentions) as mentions,
    from segmented_post_metrics
    group by all
),

final as (
    select
        'social' as source,
        segment_type,
        segment_value,
        period_start,
        component.*,
    from hourly_totals
    cross join unnest([
        {{ metric_component("'impressions'", 'count', 'impressions', 'impressions', 'impressions') }},
        {{ metric_component("'engagement_rate'", 'rate', 'engagements', 'impressions', 'impressions', unit='percent') }},
        {{ metric_component("'clicks'", 'count', 'clicks', 'clicks', 'clicks') }},
        {{ metric_component("'mentions'", 'count', 'mentions', 'mentions', 'mentions') }},
    ]) as components(component)
)

select * from final
