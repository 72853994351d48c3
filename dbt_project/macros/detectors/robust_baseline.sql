{#-
    Trailing robust location and scale of `value` for every row of `relation`, without the
    row itself: over the previous `window_periods` rows of the same series and slot (a slot
    is e.g. the hour of day, so hour cells are compared with the same hour on earlier days).
    Only rows where `eligible` holds feed the baseline (confirmed anomalies and extreme
    outliers are left out), so a spike does not widen the band of the days after it.

    The scale also respects heavy tails: bursts the baseline leaves out still count when they
    recur. It is at least the 10%-90% range of the `tail_eligible` history (extreme outliers
    included, confirmed anomalies and planned days not) / 2.5631, which equals 1.4826 x MAD
    for normal data. One or two outliers in a window do not move that range; a series where
    more than one value in ten is a burst is judged on the spread of its bursts.

    Adds to every input column:
      <prefix>_median   median of the eligible history
      <prefix>_scale    the larger of the tail range above and 1.4826 x MAD; when the MAD is 0
                        (more than half the history equal), 1.2533 x the mean absolute
                        deviation from the median; when that is 0 too, `relative_floor` x |median|
      <prefix>_history  number of eligible values in the window
      <prefix>_volume   median volume behind the eligible history
      <prefix>_unit_dispersion  median `unit_value_dispersion` of the eligible history (how much
                        the units behind the value vary: orders' values, units per order,
                        events per session; NULL for metrics that do not measure it)

    `relation` needs series_key, period_start, volume, unit_value_dispersion, the `value`
    column, the `slot`, `eligible` and `tail_eligible` columns and `window_periods` (a column
    or a number).
-#}
{% macro robust_baseline(
    relation,
    prefix,
    value="value",
    eligible="is_baseline_eligible",
    tail_eligible="is_baseline_candidate",
    slot="robust_slot",
    window_periods="window_periods",
    relative_floor=0.05
) -%}
(
    with

    {{ prefix }}_observations as (
        select
            *,
            case when {{ eligible }} then {{ value }} end as _{{ prefix }}_input,
            case when {{ tail_eligible }} then {{ value }} end as _{{ prefix }}_tail_input,
            case when {{ eligible }} and {{ value }} is not null then volume end as _{{ prefix }}_input_volume,
            case when {{ eligible }} and {{ value }} is not null then unit_value_dispersion end as _{{ prefix }}_input_dispersion,
            row_number() over (
                partition by series_key, {{ slot }}
                order by period_start
            ) as _{{ prefix }}_sequence,
        from {{ relation }}
    ),

    {{ prefix }}_trailing as (
        select
            *,
            median(_{{ prefix }}_input) over trailing_window as {{ prefix }}_median,
            mad(_{{ prefix }}_input) over trailing_window as _{{ prefix }}_mad,
            count(_{{ prefix }}_input) over trailing_window as {{ prefix }}_history,
            quantile_cont(_{{ prefix }}_tail_input, 0.9) over trailing_window
                - quantile_cont(_{{ prefix }}_tail_input, 0.1) over trailing_window as _{{ prefix }}_tail_spread,
            median(_{{ prefix }}_input_volume) over trailing_window as {{ prefix }}_volume,
            median(_{{ prefix }}_input_dispersion) over trailing_window as {{ prefix }}_unit_dispersion,
        from {{ prefix }}_observations
        window trailing_window as (
            partition by series_key, {{ slot }}
            order by period_start
            rows between {{ window_periods }} preceding and 1 preceding
        )
    ),

    {{ prefix }}_mad_zero as (
        select
            series_key,
            period_start,
            {{ slot }} as slot_value,
            _{{ prefix }}_sequence as sequence_number,
            {{ prefix }}_median as center,
            {{ window_periods }} as lookback,
        from {{ prefix }}_trailing
        where _{{ prefix }}_mad = 0
    ),

    {{ prefix }}_mad_zero_fallback as (
        -- an equi-join on each lag keeps this cheap: only rows whose MAD is 0 are expanded;
        -- exact decimals make the mean independent of the order rows are summed in
        select
            mad_zero.series_key,
            mad_zero.period_start,
            avg(
                abs(cast(history._{{ prefix }}_input as decimal(38, 12)) - cast(mad_zero.center as decimal(38, 12)))
            ) as mean_absolute_deviation,
        from {{ prefix }}_mad_zero as mad_zero
        cross join unnest(range(1, mad_zero.lookback + 1)) as lags(lag_periods)
        inner join {{ prefix }}_observations as history
            on history.series_key = mad_zero.series_key
            and history.{{ slot }} = mad_zero.slot_value
            and history._{{ prefix }}_sequence = mad_zero.sequence_number - lags.lag_periods
        where history._{{ prefix }}_input is not null
        group by mad_zero.series_key, mad_zero.period_start
    ),

    {{ prefix }}_final as (
        select
            stats.* exclude (
                _{{ prefix }}_input, _{{ prefix }}_tail_input, _{{ prefix }}_input_volume, _{{ prefix }}_input_dispersion,
                _{{ prefix }}_sequence,
                _{{ prefix }}_mad, _{{ prefix }}_tail_spread
            ),
            greatest(
                coalesce(
                    nullif(1.4826 * stats._{{ prefix }}_mad, 0),
                    nullif(1.2533 * cast(fallback.mean_absolute_deviation as double), 0),
                    {{ relative_floor }} * abs(stats.{{ prefix }}_median)
                ),
                stats._{{ prefix }}_tail_spread / 2.5631
            ) as {{ prefix }}_scale,
        from {{ prefix }}_trailing as stats
        left join {{ prefix }}_mad_zero_fallback as fallback
            on fallback.series_key = stats.series_key
            and fallback.period_start = stats.period_start
    )

    select * from {{ prefix }}_final
)
{%- endmacro %}
