{#- Robust z detector on every cell (macro robust_z_detector): trailing median and MAD of
    the metric's own history, current cell excluded. -#}
with

prepared as (
    select * from {{ ref('int_metric_series_prepared') }}
),

final as (
    select * from {{ robust_z_detector("prepared", value="organic_value") }}
)

select * from final
