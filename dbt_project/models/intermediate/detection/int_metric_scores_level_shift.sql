{#- Level shift / drift detector (macro level_shift_detector): a CUSUM chart on the
    standardised residual of each day's primary model. Day grain only: shifts and drifts
    last days, while hours of one day share that day's ups and downs, which a chart over
    hours would add up into false alarms. -#}
{%- set chart_window_days = 7 -%}

with

scored as (
    select * from {{ ref('int_metric_series_scored') }}
),

daily_residuals as (
    select
        series_key,
        period_start,
        -- a planned promotion day is no evidence of a shift either way
        case when planned_event is null then primary_z end as primary_z,
    from scored
    where grain = 'day'
        and level_shift
        and {{ reprocessed_periods(lookback_days=chart_window_days) }}
),

final as (
    select * from {{ level_shift_detector("daily_residuals", "primary_z", allowance=var("level_shift_allowance", 0.75), window=chart_window_days) }}
    where {{ reprocessed_periods() }}
)

select * from final
