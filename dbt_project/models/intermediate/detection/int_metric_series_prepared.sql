{#- The metric series made ready for the detectors: each cell gets its metric's settings
    (seed metric_config, a `default` row filling whatever a metric leaves empty; at hour grain
    the z bars are raised to sqrt(z^2 + 2 ln 24), so 24 hours raise no more chance alarms
    than one day: warning 4.5 -> 5.16, critical 7 -> 7.44; `min_history` is at most var
    `hour_min_history` (3) days of the same hour), the planned
    promotion of its day (seed promotion_calendar), analyst feedback, its history slots, and
    whether it may serve as baseline for later cells. An `intermittent` metric (e-mail,
    active only on send days) has no value where nothing happened: neither judged nor history.

    The detectors judge the organic value: a count or amount without its campaign-attributed
    part. Campaign traffic is planned marketing, and taking it out removes the biggest
    day-to-day swing from the baselines; the report adds it back to the expectation.

    A cell is left out of every later baseline when an analyst confirmed it as an anomaly,
    when it falls on a planned promotion day, when its period is incomplete, or when a first,
    cheap pass already finds it an extreme outlier: |organic value - trailing median| >= var
    `baseline_exclusion_z` x the noise of one value, estimated from the median size of the
    steps between consecutive values. A level shift is a single big step, so this scale does
    not grow with the shifted days the way a MAD around the median does, and the shifted
    days keep being excluded until they are half the window. That keeps a spike from
    widening the next days' bands and a level shift from becoming the new normal.

    A closed weekday (`is_closed_weekday`: a shop's Saturdays) is neither history nor step
    for the first pass and the robust z, which mix all weekdays, and never an extreme
    outlier; the seasonal model, which compares Saturdays with Saturdays, keeps it. -#}
{%- set config_columns = [
    "window_periods", "seasonality", "seasonal_weeks", "level_shift", "min_history",
    "intermittent", "warning_z", "critical_z", "direction", "min_volume", "min_effect",
] -%}

with

series as (
    select * from {{ ref('int_metric_series_unioned') }}
),

metric_config as (
    select * from {{ ref('int_metric_configs_resolved') }}
),

promotion_calendar as (
    select * from {{ ref('promotion_calendar') }}
),

analyst_feedback as (
    select * from {{ ref('analyst_feedback') }}
),

default_config as (
    select * from metric_config where metric = 'default'
),

planned_days as (
    select
        calendar_date,
        string_agg(event_name, ' and ' order by event_name) as planned_event,
        max(expected_lift) as planned_lift,
    from promotion_calendar
    group by calendar_date
),

confirmed_anomalies as (
    select distinct anomaly_id as observation_id
    from analyst_feedback
    where verdict = 'true_positive'
),

configured as (
    select
        series.* replace (
            -- an intermittent metric (e-mail sends) has nothing to judge where nothing happened
            case
                when coalesce(metric_config.intermittent, default_config.intermittent) and series.volume = 0 then null
                else series.value
            end as value
        ),
        {% for column in config_columns %}
        coalesce(metric_config.{{ column }}, default_config.{{ column }}) as {{ column }},
        {% endfor %}
        planned_days.planned_event,
        -- a promotion lifts shopping volumes (orders, sessions); rates and ratios, e-mail sends
        -- and social reach are judged as usual
        case
            when planned_days.planned_lift is not null
                and series.metric_kind in ('count', 'amount')
                and series.source in ('{{ var("promotion_lift_sources", ["transactions", "interactions"]) | join("', '") }}')
                then planned_days.planned_lift
            else 1.0
        end as expected_multiplier,
        confirmed_anomalies.observation_id is not null as is_confirmed_anomaly,
        case series.grain when 'hour' then hour(series.period_start) else 0 end as robust_slot,
        case series.grain
            when 'hour' then isodow(series.period_start) * 24 + hour(series.period_start)
            else isodow(series.period_start)
        end as seasonal_slot,
    from series
    cross join default_config
    left join metric_config on metric_config.metric = series.metric
    left join planned_days on planned_days.calendar_date = cast(series.period_start as date)
    left join confirmed_anomalies on confirmed_anomalies.observation_id = series.observation_id
),

candidates as (
    select
        * replace (
            -- a day holds 24 hour cells: the hour bars are raised until a normal series' chance
            -- alarms per day match the day grain's (Gaussian tails: exp(-(z_h^2 - z^2) / 2) = 1/24)
            case when grain = 'hour' then round(sqrt(warning_z ^ 2 + 2 * ln(24)), 2) else warning_z end as warning_z,
            case when grain = 'hour' then round(sqrt(critical_z ^ 2 + 2 * ln(24)), 2) else critical_z end as critical_z,
            -- an hour needs var `hour_min_history` (3) days of its own hour of day, the fewest
            -- whose median one odd day cannot move; before that it is an hour cold start
            case when grain = 'hour' then least(min_history, {{ var("hour_min_history", 3) }}) else min_history end as min_history
        ),
        value - campaign_value as organic_value,
        is_complete_period
            and not is_confirmed_anomaly
            and planned_event is null as is_baseline_candidate,
        -- a shop shut on Saturdays: nothing on this weekday for three weeks running (or on
        -- every one of them in a younger series) while the rest of the week traded. Such a day
        -- is no quiet day of the series, so the robust baselines (which mix all weekdays) leave
        -- it out; the seasonal one keeps it.
        coalesce(
            grain = 'day'
            and volume = 0
            and max(volume) over same_weekday = 0
            and count(volume) over same_weekday = least(3, datediff('day', first_period_start, period_start) // 7)
            and max(volume) over previous_week > 0,
            false
        ) as is_closed_weekday,
    from configured
    -- a reopened cell's first pass reads a window of steps, each a window long at most, and
    -- each step's cell looks three weeks back for a closed weekday
    where {{ reprocessed_periods(lookback_days="2 * window_periods + 22") }}
    window
        same_weekday as (partition by series_key, seasonal_slot order by period_start rows between 3 preceding and 1 preceding),
        previous_week as (partition by series_key order by period_start rows between 6 preceding and 1 preceding)
),

candidate_steps as (
    select
        *,
        -- periods of the same slot before this one (the series is dense): its age, for the cold start
        case grain
            when 'hour' then datediff('hour', first_period_start, period_start) // 24
            else datediff('day', first_period_start, period_start)
        end as history_periods,
        case when is_baseline_candidate and not is_closed_weekday then organic_value end as candidate_value,
        -- step from the previous value of the same slot within the window: a level shift is
        -- one big step, the rest of its days are ordinary steps, so the spread of steps stays honest
        organic_value - last_value(case when not is_closed_weekday then organic_value end ignore nulls) over (
            partition by series_key, robust_slot
            order by period_start
            rows between window_periods preceding and 1 preceding
        ) as step_change,
    from candidates
),

first_pass as (
    select
        *,
        median(candidate_value) over trailing_window as first_pass_median,
        count(candidate_value) over trailing_window as first_pass_history,
        median(case when candidate_value is not null then volume end) over trailing_window as first_pass_volume,
        median(case when candidate_value is not null then unit_value_dispersion end) over trailing_window
            as first_pass_unit_dispersion,
        -- noise of one value from the steps: 1.4826 x median |step| / sqrt(2)
        1.0483 * median(case when candidate_value is not null then abs(step_change) end) over trailing_window
            as first_pass_scale,
    from candidate_steps
    window trailing_window as (
        partition by series_key, robust_slot
        order by period_start
        rows between window_periods preceding and 1 preceding
    )
),

final as (
    select
        * exclude (
            candidate_value, step_change, first_pass_median, first_pass_scale, first_pass_history, first_pass_volume,
            first_pass_unit_dispersion
        ) rename (direction as watched_direction),
        coalesce(
            -- a median of a few days is no yardstick yet; a closed weekday is measured by
            -- its own weekday, where it is the norm
            not is_closed_weekday
            and first_pass_history >= 7
            and abs(organic_value - first_pass_median) >= {{ var("baseline_exclusion_z", 4) }} * greatest(
                first_pass_scale,
                {{ sampling_noise_floor("metric_kind", "first_pass_median", "volume", "first_pass_volume", "first_pass_unit_dispersion") }},
                1e-9
            ),
            false
        ) as is_extreme_outlier,
        is_baseline_candidate and not is_extreme_outlier as is_baseline_eligible,
        -- too few days of this hour yet: the robust z compares it with the trailing hours
        grain = 'hour' and history_periods < min_history as is_hour_cold_start,
    from first_pass
    where {{ reprocessed_periods() }}
)

select * from final
