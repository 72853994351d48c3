{#-
    Seasonal detector: the expectation is the median of the same slot in the previous `weeks`
    weeks (day grain: same weekday, so Saturdays are compared with Saturdays; hour grain: same
    hour of the week), corrected by the trailing median of the recent residuals so a slow
    trend does not read as an anomaly. The scale is the robust scale of those residuals
    (robust_baseline over the residual series), never below the sampling noise.

    A planned promotion multiplies the expectation by `expected_multiplier`, so a Black Friday
    peak is compared with what the promotion calendar said it would be.

    `relation` needs: series_key, period_start, the `value` column judged, volume,
    unit_value_dispersion, metric_kind, is_baseline_eligible, expected_multiplier and the slot /
    window columns.
    Returns: series_key, period_start, seasonal_baseline (before any lift), seasonal_expected,
    seasonal_scale, seasonal_history (weeks of history), seasonal_z.
-#}
{% macro seasonal_detector(
    relation,
    value="value",
    season_slot="seasonal_slot",
    weeks="seasonal_weeks",
    residual_slot="robust_slot",
    window_periods="window_periods"
) -%}
(
    with

    seasonal_observations as (
        select
            *,
            case when is_baseline_eligible then {{ value }} end as _seasonal_input,
        from {{ relation }}
    ),

    seasonal_medians as (
        select
            * exclude (_seasonal_input),
            median(_seasonal_input) over same_slot as seasonal_median,
            count(_seasonal_input) over same_slot as seasonal_history,
        from seasonal_observations
        window same_slot as (
            partition by series_key, {{ season_slot }}
            order by period_start
            rows between {{ weeks }} preceding and 1 preceding
        )
    ),

    seasonal_residuals as (
        select
            *,
            {{ value }} - seasonal_median as seasonal_residual,
        from seasonal_medians
    ),

    residual_stats as {{ robust_baseline(
        "seasonal_residuals", "residual", value="seasonal_residual", slot=residual_slot, window_periods=window_periods
    ) }},

    residual_levels as (
        select
            *,
            -- metrics are never negative, even where the residuals trend down
            case
                when seasonal_median + coalesce(residual_median, 0) < 0 then 0
                else seasonal_median + coalesce(residual_median, 0)
            end as seasonal_baseline,
        from residual_stats
    ),

    seasonal_expectations as (
        select
            *,
            seasonal_baseline * expected_multiplier as seasonal_expected,
            residual_volume * expected_multiplier as expected_volume,
        from residual_levels
    ),

    seasonal_scales as (
        select
            *,
            case when seasonal_median is not null then greatest(
                residual_scale,
                {{ sampling_noise_floor("metric_kind", "seasonal_expected", "volume", "expected_volume", "residual_unit_dispersion") }},
                1e-9
            ) end as seasonal_scale,
        from seasonal_expectations
    ),

    seasonal_final as (
        -- rounded so re-runs and hand-computed tests compare exactly
        select
            series_key,
            period_start,
            round(seasonal_baseline, 6) as seasonal_baseline,
            round(seasonal_expected, 6) as seasonal_expected,
            round(seasonal_scale, 6) as seasonal_scale,
            seasonal_history,
            round({{ standardised_deviation("metric_kind", value, "seasonal_expected", "seasonal_scale") }}, 6) as seasonal_z,
        from seasonal_scales
    )

    select * from seasonal_final
)
{%- endmacro %}
