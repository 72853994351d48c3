{#- Robust z detector on every cell (macro robust_z_detector): trailing median and MAD of
    the metric's own history, current cell excluded. -#}
with

prepared as (
    select * from {{ ref('int_metric_series_prepared') }}
    where {{ reprocessed_periods(lookback_days="window_periods + 1") }}
),

final as (
    select * from {{ robust_z_detector("prepared", value="organic_value") }}
    where {{ reprocessed_periods() }}
)

select * from final
