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

    `relation` needs series_key, period_start and the `z` column (NULL = not scored, counts
    as in control). Returns series_key, period_start, cusum_upper, cusum_lower and
    level_shift_direction ('up', 'down' or NULL).
-#}
{% macro level_shift_detector(relation, z, allowance=1.0, threshold=5.0, window=7, clip=3.0, min_current=1.0) -%}
(
    with

    level_shift_increments as (
        select
            series_key,
            period_start,
            {{ z }} as residual_z,
            -- exact decimals: running sums are then identical on every run
            cast(least(greatest(coalesce({{ z }}, 0), -{{ clip }}), {{ clip }}) - {{ allowance }} as decimal(38, 6)) as upper_increment,
            cast(-least(greatest(coalesce({{ z }}, 0), -{{ clip }}), {{ clip }}) - {{ allowance }} as decimal(38, 6)) as lower_increment,
        from {{ relation }}
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
