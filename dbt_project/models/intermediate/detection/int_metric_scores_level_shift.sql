{#- Level shift / drift detector (macro level_shift_detector): a CUSUM chart on the
    standardised residual of each day's primary model. Day grain only: shifts and drifts
    last days, while hours of one day share that day's ups and downs, which a chart over
    hours would add up into false alarms. The residuals' autocorrelation is estimated from
    the days usable as baseline: an excluded outlier, or the days of an earlier shift, would
    pass for a series that wanders. -#}
{%- set chart_window_days = 7 -%}
{%- set autocorrelation_days = var("level_shift_autocorrelation_days", 28) -%}

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
        case when planned_event is null and is_baseline_eligible then primary_z end as baseline_z,
    from scored
    where grain = 'day'
        and level_shift
        -- the chart's week, and for each of its days the autocorrelation estimate before it
        and {{ reprocessed_periods(lookback_days=2 * chart_window_days + autocorrelation_days) }}
),

final as (
    select * from {{ level_shift_detector(
        "daily_residuals",
        "primary_z",
        allowance=var("level_shift_allowance", 0.75),
        window=chart_window_days,
        autocorrelation_z="baseline_z",
        autocorrelation_days=autocorrelation_days,
    ) }}
    where {{ reprocessed_periods() }}
)

select * from final
