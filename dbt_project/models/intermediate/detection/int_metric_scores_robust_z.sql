{#- Robust z detector on every cell (macro robust_z_detector): trailing median and MAD of
    the metric's own history, current cell excluded. An hour cell whose hour of day has fewer
    than `min_history` days behind it (at most var `hour_min_history`, 3: a new series,
    `is_hour_cold_start`) is compared with the trailing hours instead, so a new series is
    watched from its first full day: the daily cycle is part of that baseline's spread, so
    only a gross anomaly stands out until the same-hour history is long enough. A weekday the
    series is closed on (`is_closed_weekday`, e.g. the Saturdays of a shop that never trades
    on Saturday) is no history for the other days. -#}
{%- set open_day_baseline = {
    "eligible": "is_baseline_eligible and not is_closed_weekday",
    "tail_eligible": "is_baseline_candidate and not is_closed_weekday",
} %}

with

prepared as (
    select * from {{ ref('int_metric_series_prepared') }}
    where {{ reprocessed_periods(lookback_days="window_periods + 1") }}
),

cold_start_hours as (
    select * from prepared where is_hour_cold_start
),

same_slot_scores as (
    select * from {{ robust_z_detector("prepared", value="organic_value", **open_day_baseline) }}
),

trailing_hour_scores as (
    -- slot = the grain: one slot, so the window is the previous hours of the series
    select * from {{ robust_z_detector("cold_start_hours", value="organic_value", slot="grain", **open_day_baseline) }}
),

scores as (
    select * from trailing_hour_scores
    union all by name
    select same_slot_scores.*
    from same_slot_scores
    anti join cold_start_hours using (series_key, period_start)
),

final as (
    select * from scores
    where {{ reprocessed_periods() }}
)

select * from final
