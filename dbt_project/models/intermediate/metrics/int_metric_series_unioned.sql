{#- Every metric series of every source in one long table, at grains `day` and `hour`, dense:
    each series has one row per period from its first period to the source's last period,
    and a period with no rows is a real zero (an outage), not a missing row. Rates of an
    empty period have no value (nothing to divide by).

    Hour grain is kept for the sources and segment types in var `hourly_segment_types`: per
    category, country or campaign an hour holds a handful of orders, too few to judge; e-mail
    comes in sends, not hours; and an hour of social reach is one post's luck. A period is
    complete when the source has data up to its end (the last day of a partial load is not
    judged as a drop). Revenue, the average order value, units and event counts also say how
    much the units behind them vary (`unit_value_dispersion`: the orders' values, the units
    per order, the events per session), so their noise floor is measured, not assumed. -#}
{%- set hourly_segment_types = var("hourly_segment_types", {
    "transactions": ["total", "channel"],
    "interactions": ["total", "channel", "device"],
}) -%}
{%- set sources = ["transaction", "interaction", "social", "email"] -%}
{%- set is_kept_at_hour_grain -%}
    (false
    {%- for source, segment_types in hourly_segment_types.items() %}
        or (source = '{{ source }}' and segment_type in ('{{ segment_types | join("', '") }}'))
    {%- endfor %}
    )
{%- endset -%}

with

hourly_components as (
    {% for source in sources %}
    select * from {{ ref("int_" ~ source ~ "_metric_components") }}
    {% if not loop.last %}union all by name{% endif %}
    {% endfor %}
),

period_components as (
    select
        source,
        metric,
        metric_kind,
        metric_unit,
        'hour' as grain,
        segment_type,
        segment_value,
        period_start,
        numerator,
        denominator,
        volume,
        campaign_numerator,
        numerator_squares,
    from hourly_components
    where {{ reprocessed_periods() }}
        and {{ is_kept_at_hour_grain }}

    union all

    select
        source,
        metric,
        metric_kind,
        metric_unit,
        'day' as grain,
        segment_type,
        segment_value,
        date_trunc('day', period_start) as period_start,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        sum(volume) as volume,
        sum(campaign_numerator) as campaign_numerator,
        sum(numerator_squares) as numerator_squares,
    from hourly_components
    -- reopened periods are whole days, so every day summed here is complete
    where {{ reprocessed_periods() }}
    group by all
),

source_data_ends as (
    -- end of the last hour with data, per source
    select
        source,
        max(period_start) + interval 1 hour as data_end,
    from hourly_components
    group by source
),

series_bounds as (
    -- from the whole history: a series starts at its first period, reopened or not
    select
        series_starts.source,
        series_starts.metric,
        series_starts.metric_kind,
        series_starts.metric_unit,
        grains.grain,
        series_starts.segment_type,
        series_starts.segment_value,
        date_trunc(grains.grain, series_starts.first_hour_start) as first_period_start,
    from (
        select
            source,
            metric,
            metric_kind,
            metric_unit,
        metric_unit,
            segment_type,
            segment_value,
            min(period_start) as first_hour_start,
        from hourly_components
        group by all
    ) as series_starts
    cross join (values ('hour'), ('day')) as grains(grain)
    where grains.grain = 'day' or {{ is_kept_at_hour_grain }}
),

series_periods as (
    select
        series_bounds.*,
        source_data_ends.data_end,
        unnest(generate_series(
            greatest(series_bounds.first_period_start, {{ reprocess_from() }}),
            date_trunc(series_bounds.grain, source_data_ends.data_end - interval 1 hour),
            case series_bounds.grain when 'hour' then interval 1 hour else interval 1 day end
        )) as period_start,
    from series_bounds
    inner join source_data_ends using (source)
    -- nothing to generate when nothing is reopened
    where greatest(series_bounds.first_period_start, {{ reprocess_from() }}) < source_data_ends.data_end
),

dense_series as (
    select
        series_periods.source,
        series_periods.metric,
        series_periods.metric_kind,
        series_periods.metric_unit,
        series_periods.grain,
        series_periods.segment_type,
        series_periods.segment_value,
        series_periods.first_period_start,
        series_periods.period_start,
        series_periods.period_start
            + case series_periods.grain when 'hour' then interval 1 hour else interval 1 day end as period_end,
        series_periods.data_end,
        coalesce(period_components.numerator, 0) as numerator,
        coalesce(period_components.denominator, 0) as denominator,
        coalesce(period_components.volume, 0) as volume,
        coalesce(period_components.campaign_numerator, 0) as campaign_numerator,
        period_components.numerator_squares,
    from series_periods
    left join period_components
        using (source, metric, grain, segment_type, segment_value, period_start)
),

final as (
    select
        {{ detection_key(["source", "metric", "grain", "segment_type", "segment_value"]) }} as series_key,
        {{ detection_key(["source", "metric", "segment_type", "segment_value", "grain", "period_start"]) }} as observation_id,
        source,
        metric,
        metric_kind,
        metric_unit,
        grain,
        segment_type,
        segment_value,
        first_period_start,
        period_start,
        period_end,
        case
            when metric_kind in ('count', 'amount') then cast(numerator as double)
            else cast(numerator as double) / nullif(cast(denominator as double), 0)
        end as value,
        numerator,
        denominator,
        volume,
        -- the campaign-attributed part of a count or amount (0 for rates and ratios)
        case
            when metric_kind in ('count', 'amount') then cast(campaign_numerator as double)
            else 0
        end as campaign_value,
        -- how much the units behind the value vary, which the sampling-noise floor reads: for a
        -- sum or mean of n values (orders' revenue) their squared coefficient of variation,
        -- n sum(x^2) / (sum x)^2 - 1; a count of things that come in clumps (units in orders,
        -- events in sessions) is its own denominator, so for it this is sum(k^2) / sum(k) - 1,
        -- how far beyond 1 the clump of a random one of them goes
        case
            when numerator_squares is not null and denominator >= 2 and numerator <> 0
                then round(greatest(
                    cast(denominator as double) * cast(numerator_squares as double) / cast(numerator as double) ^ 2 - 1,
                    0
                ), 6)
        end as unit_value_dispersion,
        period_end <= data_end as is_complete_period,
    from dense_series
)

select * from final
