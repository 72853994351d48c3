{#-
    Level shift / drift detector: a two-sided CUSUM control chart on the standardised
    residuals `z` of another detector, in period order within each series.

      x_t   = z_t winsorised to +/-`clip` (one huge spike alone cannot trip the chart)
      S+_t  = max(0, largest sum of (x - k) over the last 1..`window` periods ending at t)
      S-_t  = the same for (-x - k)

    The windowed form equals the textbook recursion S_t = max(0, S_{t-1} + x_t - k) while a
    run lasts at most `window` periods, and forgets runs that ended before, so a shift that
    has passed soon stops alarming (a week: long enough for a 2-3 sigma shift to add up,
    short enough that the days after a long drift are not flagged for it). It is computed
    from running sums (S = C_t - min C_j), so no recursion is needed. Runs rule: an alarm
    needs S >= `threshold` and the current residual still beyond `min_current` on the same
    side, so a series that has come back is not flagged while the sum drains.

    Autocorrelated residuals: the sum of n residuals with lag-1 autocorrelation rho varies
    about (1 + rho) / (1 - rho) times as much as n independent ones, so a series whose
    residuals wander (an ad price, a customer mix that changes slowly) would fill the chart
    by itself. With `autocorrelation_z` given, rho is estimated from the winsorised pairs
    (x_{t-1}, x_t) of the `autocorrelation_days` periods before the chart's own window (so a
    shift never discounts itself), at least half of them present. Only evident
    autocorrelation counts: above 2 / sqrt(pairs), the band within which independent
    residuals' estimates stay 97.7% of the time (a 28-day estimate of a series without any
    wanders by about 0.19, and allowing for that blunted the chart on real drifts). Then the
    residuals are charted times sqrt((1 - rho) / (1 + rho)), rho at most 0.9 so the chart
    never goes blind; otherwise (and for a mean-reverting series) as they are.

    `relation` needs series_key, period_start, the `z` column (NULL = not scored, counts
    as in control) and, when given, the `autocorrelation_z` column (NULL = not usable for the
    estimate, e.g. an excluded outlier). Returns series_key, period_start,
    residual_autocorrelation (the rho allowed for, NULL while not estimated), cusum_upper,
    cusum_lower and level_shift_direction ('up', 'down' or NULL).
-#}
{% macro level_shift_detector(relation, z, allowance=1.0, threshold=5.0, window=7, clip=3.0, min_current=1.0, autocorrelation_z=none, autocorrelation_days=28) -%}
(
    with

    level_shift_usable as (
        select
            series_key,
            period_start,
            {{ z }} as raw_z,
            {%- if autocorrelation_z is not none %}
            -- least/greatest skip NULLs: a NULL must stay unusable, not become -clip
            case
                when {{ autocorrelation_z }} is not null
                    then least(greatest({{ autocorrelation_z }}, -{{ clip }}), {{ clip }})
            end as usable_z,
            {%- else %}
            cast(null as double) as usable_z,
            {%- endif %}
        from {{ relation }}
    ),

    level_shift_lagged as (
        select
            *,
            lag(usable_z) over (partition by series_key order by period_start) as previous_usable_z,
        from level_shift_usable
    ),

    level_shift_autocorrelations as (
        select
            *,
            corr(usable_z, previous_usable_z) over before_chart as estimated_autocorrelation,
            regr_count(usable_z, previous_usable_z) over before_chart as estimated_from_pairs,
        from level_shift_lagged
        window before_chart as (
            partition by series_key
            order by period_start
            rows between {{ window + autocorrelation_days - 1 }} preceding and {{ window }} preceding
        )
    ),

    level_shift_residuals as (
        select
            series_key,
            period_start,
            -- rounded: a window's floating-point sums may differ in the last bits between a
            -- full and an incremental run, which must chart the same
            case
                when estimated_from_pairs < {{ autocorrelation_days / 2 }} then null
                when estimated_autocorrelation > 2 / sqrt(estimated_from_pairs)
                    then round(least(estimated_autocorrelation, 0.9), 4)
                else 0
            end as residual_autocorrelation,
            raw_z * sqrt((1 - coalesce(residual_autocorrelation, 0)) / (1 + coalesce(residual_autocorrelation, 0))) as residual_z,
        from level_shift_autocorrelations
    ),

    level_shift_increments as (
        select
            *,
            -- exact decimals: running sums are then identical on every run
            cast(least(greatest(coalesce(residual_z, 0), -{{ clip }}), {{ clip }}) - {{ allowance }} as decimal(38, 6)) as upper_increment,
            cast(-least(greatest(coalesce(residual_z, 0), -{{ clip }}), {{ clip }}) - {{ allowance }} as decimal(38, 6)) as lower_increment,
        from level_shift_residuals
    ),

    level_shift_running_sums as (
        select
            *,
            sum(upper_increment) over running as upper_through,
            sum(lower_increment) over running as lower_through,
        from level_shift_increments
        window running as (
            partition by series_key
            order by period_start
            rows between unbounded preceding and current row
        )
    ),

    level_shift_cusums as (
        select
            *,
            -- running sum before each period = through minus its own increment
            greatest(upper_through - min(upper_through - upper_increment) over recent, 0) as cusum_upper,
            greatest(lower_through - min(lower_through - lower_increment) over recent, 0) as cusum_lower,
        from level_shift_running_sums
        window recent as (
            partition by series_key
            order by period_start
            rows between {{ window - 1 }} preceding and current row
        )
    ),

    level_shift_final as (
        select
            series_key,
            period_start,
            residual_autocorrelation,
            cast(cusum_upper as double) as cusum_upper,
            cast(cusum_lower as double) as cusum_lower,
            case
                when cusum_upper >= {{ threshold }} and residual_z >= {{ min_current }} then 'up'
                when cusum_lower >= {{ threshold }} and residual_z <= -{{ min_current }} then 'down'
            end as level_shift_direction,
        from level_shift_cusums
    )

    select * from level_shift_final
)
{%- endmacro %}
