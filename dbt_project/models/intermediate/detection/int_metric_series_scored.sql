{#- Every cell with both point detectors side by side and its primary model. Nothing is
    judged before the series has `min_history` periods of history and at least
    min(`min_history`, var `min_baseline_values`) of them usable as baseline (cold start:
    primary_z NULL); an hour of a new series (`is_hour_cold_start`) is judged by the robust z
    against the trailing hours once they span a day. Then, slot by slot, the model that
    forecast the recent past better is primary: the seasonal one (for metrics with weekly
    seasonality and at least var `seasonal_min_weeks` weeks of same-slot history) when its
    mean absolute error over the same weekday (hour of week) in the previous
    `seasonal_weeks` weeks is no larger than the robust z's, else the robust z. A closed
    weekday (`is_closed_weekday`) is judged by the seasonal model alone, and is cold start
    until that has its weeks. So a busy
    Saturday is judged against Saturdays while ordinary weekdays keep the steadier 28-day
    median. A mean, not a median, of the errors: a median would shrug off the odd bad miss.
    The primary model gives the expected value, scale and residual that the report shows
    and the level shift detector charts. -#}
with

prepared as (
    -- the recent errors of each model cover the same slot in the previous weeks
    select * from {{ ref('int_metric_series_prepared') }}
    where {{ reprocessed_periods(lookback_days="7 * seasonal_weeks + 1") }}
),

robust_scores as (
    select * from {{ ref('int_metric_scores_robust_z') }}
),

seasonal_scores as (
    select * from {{ ref('int_metric_scores_seasonal') }}
),

joined as (
    select
        prepared.*,
        robust_scores.* exclude (series_key, period_start),
        seasonal_scores.* exclude (series_key, period_start),
        -- old enough, and enough of the history usable (a long run of excluded outliers
        -- leaves the baseline thin, not the series young); a new hour series once its
        -- trailing hours span a whole daily cycle
        case
            when prepared.is_hour_cold_start then robust_scores.robust_history >= 24
            else prepared.history_periods >= prepared.min_history
                and robust_scores.robust_history >= least(prepared.min_history, {{ var("min_baseline_values", 7) }})
        end as is_past_cold_start,
        -- the robust z mixes all weekdays: no yardstick for a weekday the shop is closed on
        is_past_cold_start and not prepared.is_closed_weekday as has_robust_history,
        is_past_cold_start
            and prepared.seasonality = 'weekly'
            and seasonal_scores.seasonal_history >= {{ var("seasonal_min_weeks", 3) }} as has_seasonal_history,
    from prepared
    inner join robust_scores using (series_key, period_start)
    inner join seasonal_scores using (series_key, period_start)
),

comparable_errors as (
    -- both models' misses on the same past cells, so neither is judged on easier days
    select
        *,
        -- exact decimals: the window means do not depend on the order they are summed in
        case
            when is_baseline_eligible and seasonal_expected is not null
                then cast(abs(organic_value - robust_expected) as decimal(38, 12))
        end as robust_error,
        case
            when is_baseline_eligible and robust_expected is not null
                then cast(abs(organic_value - seasonal_expected) as decimal(38, 12))
        end as seasonal_error,
    from joined
),

recent_errors as (
    select
        * exclude (robust_error, seasonal_error),
        avg(robust_error) over recent as robust_recent_error,
        avg(seasonal_error) over recent as seasonal_recent_error,
    from comparable_errors
    window recent as (
        partition by series_key, seasonal_slot
        order by period_start
        rows between seasonal_weeks preceding and 1 preceding
    )
),

model_choice as (
    select
        *,
        has_seasonal_history
            and (not has_robust_history or coalesce(seasonal_recent_error <= robust_recent_error, true))
            as is_seasonal_primary,
    from recent_errors
),

final as (
    select
        * exclude (is_past_cold_start),
        case
            when is_seasonal_primary then 'seasonal'
            when has_robust_history then 'robust_z'
        end as primary_model,
        case
            when is_seasonal_primary then seasonal_baseline
            when has_robust_history then robust_baseline
        end as primary_baseline,
        case
            when is_seasonal_primary then seasonal_expected
            when has_robust_history then robust_expected
        end as primary_expected,
        case
            when is_seasonal_primary then seasonal_scale
            when has_robust_history then robust_scale
        end as primary_scale,
        case
            when is_seasonal_primary then seasonal_z
            when has_robust_history then robust_z
        end as primary_z,
    from model_choice
    where {{ reprocessed_periods() }}
)

select * from final
