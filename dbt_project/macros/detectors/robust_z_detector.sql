{#-
    Robust z detector: how many robust standard deviations a cell sits from the trailing
    median of its own history (current cell excluded; see robust_baseline). At day grain the
    history is the previous `window_periods` days; at hour grain the slot is the hour of day,
    so 14:00 is compared with 14:00 on earlier days.

    The scale is never below the sampling noise of the cell (sampling_noise_floor), and the
    expectation is multiplied by `expected_multiplier` (a planned promotion's lift, else 1).

    `relation` needs: series_key, period_start, the `value` column judged, volume,
    unit_value_dispersion, metric_kind, expected_multiplier, the slot / window columns and the
    `eligible` and `tail_eligible` conditions (see robust_baseline).
    Returns one row per input row: series_key, period_start, robust_baseline (median before
    any lift), robust_expected, robust_scale, robust_history, robust_expected_volume (median
    volume of the history, lifted like the expectation), robust_z.
-#}
{% macro robust_z_detector(
    relation,
    value="value",
    slot="robust_slot",
    window_periods="window_periods",
    eligible="is_baseline_eligible",
    tail_eligible="is_baseline_candidate"
) -%}
(
    with

    robust_stats as {{ robust_baseline(
        relation, "robust", value=value, eligible=eligible, tail_eligible=tail_eligible, slot=slot, window_periods=window_periods
    ) }},

    robust_expectations as (
        select
            *,
            robust_median * expected_multiplier as robust_expected,
            robust_volume * expected_multiplier as expected_volume,
        from robust_stats
    ),

    robust_scales as (
        select
            *,
            case when robust_median is not null then greatest(
                robust_scale,
                {{ sampling_noise_floor("metric_kind", "robust_expected", "volume", "expected_volume", "robust_unit_dispersion") }},
                1e-9
            ) end as robust_noise_aware_scale,
        from robust_expectations
    ),

    robust_final as (
        -- rounded so re-runs and hand-computed tests compare exactly
        select
            series_key,
            period_start,
            round(robust_median, 6) as robust_baseline,
            round(robust_expected, 6) as robust_expected,
            round(robust_noise_aware_scale, 6) as robust_scale,
            robust_history,
            round(expected_volume, 6) as robust_expected_volume,
            round(
                {{ standardised_deviation("metric_kind", value, "robust_expected", "robust_noise_aware_scale") }},
                6
            ) as robust_z,
        from robust_scales
    )

    select * from robust_final
)
{%- endmacro %}
