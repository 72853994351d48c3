{#- Seasonal detector on every cell (macro seasonal_detector): same weekday (day grain) or
    same hour of the week (hour grain) over the last weeks, lifted on planned promotion days. -#}
with

prepared as (
    select * from {{ ref('int_metric_series_prepared') }}
    -- same-slot weeks for the seasonal median, then a window of its residuals
    where {{ reprocessed_periods(lookback_days="7 * seasonal_weeks + window_periods + 1") }}
),

final as (
    select * from {{ seasonal_detector("prepared", value="organic_value") }}
    where {{ reprocessed_periods() }}
)

select * from final
