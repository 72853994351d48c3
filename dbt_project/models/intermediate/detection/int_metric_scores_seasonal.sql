{#- Seasonal detector on every cell (macro seasonal_detector): same weekday (day grain) or
    same hour of the week (hour grain) over the last weeks, lifted on planned promotion days. -#}
with

prepared as (
    select * from {{ ref('int_metric_series_prepared') }}
),

final as (
    select * from {{ seasonal_detector("prepared", value="organic_value") }}
)

select * from final
