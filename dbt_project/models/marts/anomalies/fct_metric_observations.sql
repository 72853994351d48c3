{#- Every cell of every metric series, scored: observed value, expected value and band from
    the primary model, each detector's score and verdict, the guards, and the ensemble's
    status and severity.

    The detectors judge the organic value (without campaign-attributed orders, sessions and
    events); `expected` and the band add back the campaign traffic actually seen, so they
    compare with the observed `value`.

    A cell is an anomaly when its primary model (seasonal or robust z) or the level shift
    chart fires in a direction the metric's config cares about, the volume behind it reaches
    `min_volume` and the change is at least `min_effect` of the expected value. The other
    point detector only adds agreement. A cell that missed the bar by a little (|z| >= var
    `corroborated_z`) is an anomaly too when the same segment's other volume metrics
    (orders, units, revenue; sessions, events) or the same metric in another segment are
    anomalous in the same direction and day (`corroborated`; days only: within an hour all
    traffic metrics share the same luck). Severity (from the cell's own detectors; corroboration
    makes a near miss an anomaly, not a more severe one, though a run it extends counts as
    lasting): `critical` when the change is at
    least twice `min_effect` and either two or more detectors agree (or the only detector that
    can judge the cell fires: the robust z of a metric without weekly seasonality or level
    shift chart, e.g. mentions) with |z| reaching `critical_z`, or |z| reaches twice
    `critical_z`, or the cell's run of anomalies has lasted var `critical_after_days` (4) days;
    `warning` when two agree or |z| reaches `critical_z`; else `info`.

    An outage of a small segment is judged on the run it makes (`fires_silence`): an hour of a
    count with nothing at all where something was expected, and where the same hour of the
    week had something in one of the two weeks before, is too small to judge alone, but
    once the consecutive silent hours up to it were expected to hold `min_volume` between
    them (in the volume the guard reads: orders behind units, sessions behind events), nothing
    at all is an outage, and its hours from then on are critical anomalies (not during an
    hour cold start, whose expectations mix night and day).

    A would-be anomaly is `recurring` instead when var `recurrence_limit` earlier runs of
    anomalies of its series, within var `recurrence_days` before its own run began, went at
    least as far the same way: a bursty series reports its bursts, not every repeat.

    Status (every cell has exactly one): incomplete_period, insufficient_history (cold start),
    low_volume (nothing or too little behind the value to judge), anomaly, recurring, planned_peak (a
    promotion in the calendar explains the move: a count or amount within the lifted band, or
    any move of a rate or ratio on a planned day), normal. -#}
with

scored as (
    -- the earlier cells a surprise is compared with (recurrences) are read too, the same hour
    -- of the two weeks before (silences) and the days a lasting change needs (severity)
    select * from {{ ref('int_metric_series_scored') }}
    where {{ reprocessed_periods(lookback_days=[var("recurrence_days", 14), 15, var("critical_after_days", 4)] | max) }}
),

level_shift_scores as (
    select * from {{ ref('int_metric_scores_level_shift') }}
),

joined as (
    select
        scored.*,
        level_shift_scores.cusum_upper,
        level_shift_scores.cusum_lower,
        level_shift_scores.level_shift_direction,
        -- the detectors judged the organic value; the campaign traffic seen is expected too
        scored.primary_expected + scored.campaign_value as expected,
        -- the values whose z stays within warning_z (asymmetric for a count: see standardised_deviation)
        scored.campaign_value
            + {{ deviation_band_edge("scored.metric_kind", "scored.primary_expected", "scored.primary_scale", "-scored.warning_z") }}
            as band_lower,
        scored.campaign_value
            + {{ deviation_band_edge("scored.metric_kind", "scored.primary_expected", "scored.primary_scale", "scored.warning_z") }}
            as band_upper,
        case
            when scored.organic_value > scored.primary_expected then 'spike'
            when scored.organic_value < scored.primary_expected then 'drop'
        end as direction,
    from scored
    left join level_shift_scores using (series_key, period_start)
),

silent_hours as (
    select
        *,
        coalesce(
            grain = 'hour'
                and metric_kind = 'count'
                and is_complete_period
                and not is_hour_cold_start
                and value = 0
                and primary_expected > 0
                -- the same hour of the week traded in one of the two weeks before: a shop shut
                -- on Saturdays is not out every Saturday
                and greatest(
                    lag(volume, 1) over same_hour_of_week,
                    lag(volume, 2) over same_hour_of_week
                ) > 0
                and lag(volume, 2) over same_hour_of_week is not null,
            false
        ) as is_silent_hour,
    from joined
    window same_hour_of_week as (partition by series_key, seasonal_slot order by period_start)
),

silent_runs as (
    -- consecutive silent hours share the count of louder hours before them
    select
        *,
        sum(case when is_silent_hour then 0 else 1 end) over (
            partition by series_key
            order by period_start
            rows between unbounded preceding and current row
        ) as silent_run,
    from silent_hours
),

silences as (
    select
        * exclude (silent_run),
        case when is_silent_hour then count(*) over run_so_far end as silent_hours,
        -- the orders or sessions behind the count (units come in orders, events in sessions)
        case when is_silent_hour then sum(robust_expected_volume) over run_so_far end as silent_expected_volume,
    from silent_runs
    window run_so_far as (
        partition by series_key, silent_run, is_silent_hour
        order by period_start
        rows between unbounded preceding and current row
    )
),

verdicts as (
    select
        *,
        coalesce(
            (watched_direction = 'both' and direction is not null)
            or (watched_direction = 'up' and direction = 'spike')
            or (watched_direction = 'down' and direction = 'drop'),
            false
        ) as is_direction_watched,
        {#- One rule for both scored models: enough history, |z| past the warning threshold,
            in a watched direction that agrees with the primary expectation. #}
        {%- for detector, z_column, history_column in [
            ("robust_z", "robust_z", "has_robust_history"),
            ("seasonal", "seasonal_z", "has_seasonal_history"),
        ] %}
        coalesce(
            is_direction_watched
            and {{ history_column }}
            and abs({{ z_column }}) >= warning_z
            and sign({{ z_column }}) = sign(organic_value - primary_expected),
            false
        ) as fires_{{ detector }},
        {%- endfor %}
        coalesce(
            is_direction_watched
            and level_shift_direction = case direction when 'spike' then 'up' when 'drop' then 'down' end,
            false
        ) as fires_level_shift,
        coalesce(is_direction_watched and silent_expected_volume >= min_volume, false) as fires_silence,
        -- a rate is judged on its own denominator; a count on the volume its history usually
        -- has or, for a rise, the volume the cell itself has: a few orders in a quiet hour are
        -- luck, but 60 orders in an hour that usually has 3 is news, and a drop is only news
        -- where there was volume to lose
        case
            when metric_kind in ('count', 'amount') then greatest(robust_expected_volume, volume)
            else volume
        end >= min_volume as is_volume_sufficient,
        abs(value - expected) / nullif(abs(expected), 0) as relative_effect,
    from silences
),

ensemble as (
    select
        *,
        (primary_model = 'seasonal' and fires_seasonal)
            or (primary_model = 'robust_z' and fires_robust_z)
            or fires_level_shift as fires_primary_or_level_shift,
        -- an expected zero makes any change infinitely large
        coalesce(relative_effect >= min_effect, value <> expected) as is_effect_large_enough,
        cast(fires_robust_z as integer) + cast(fires_seasonal as integer) + cast(fires_level_shift as integer)
            + cast(fires_silence as integer) as detector_count,
        -- agreement needs two detectors able to judge the cell: the robust z always, the
        -- seasonal model with weekly history, the level shift chart on days it watches
        1 + cast(has_seasonal_history as integer) + cast(coalesce(level_shift, false) and grain = 'day' as integer)
            as judging_detector_count,
        concat_ws(
            ',',
            case when fires_robust_z then 'robust_z' end,
            case when fires_seasonal then 'seasonal' end,
            case when fires_level_shift then 'level_shift' end,
            case when fires_silence then 'silence' end
        ) as detectors,
        -- the plan explains a count that fired only without the promotion's lift, and any
        -- move of a rate or ratio (promotions change discounts and conversion, by no known lift)
        planned_event is not null
            and abs({{ standardised_deviation("metric_kind", "organic_value", "primary_baseline", "primary_scale") }}) >= warning_z
            and coalesce(abs(organic_value - primary_baseline) / nullif(abs(primary_baseline), 0) >= min_effect, true)
            as is_explained_by_plan,
    from verdicts
),

own_verdicts as (
    select
        *,
        case
            when not is_complete_period then 'incomplete_period'
            when primary_model is null then 'insufficient_history'
            -- a silent run carries the volume its hours lack alone
            when value is null or not (is_volume_sufficient or fires_silence) then 'low_volume'
            when is_explained_by_plan and metric_kind in ('rate', 'ratio') then 'planned_peak'
            when (fires_primary_or_level_shift or fires_silence) and is_effect_large_enough then 'anomaly'
            when is_explained_by_plan then 'planned_peak'
            else 'normal'
        end as own_status,
    from ensemble
),

corroborations as (
    -- anomalies rarely move one number alone: orders, units and revenue of a segment fall
    -- together, and a refund wave in one channel lifts the total's refund rate
    select
        *,
        bool_or(own_status = 'anomaly' and metric_kind in ('count', 'amount')) over (
            partition by source, grain, segment_type, segment_value, period_start, direction
        ) as has_volume_metric_anomaly,
        bool_or(own_status = 'anomaly') over (
            partition by source, grain, metric, period_start, direction
        ) as has_other_segment_anomaly,
    from own_verdicts
),

statuses as (
    select
        *,
        own_status = 'normal'
            and grain = 'day'
            and is_direction_watched
            and is_effect_large_enough
            and abs(primary_z) >= {{ var("corroborated_z", 3.0) }}
            and (
                (metric_kind in ('count', 'amount') and has_volume_metric_anomaly)
                or has_other_segment_anomaly
            ) as fires_corroborated,
        case when fires_corroborated then 'anomaly' else own_status end as candidate_status,
    from corroborations
),

candidate_cells as (
    -- a run: consecutive would-be anomalies of a series moving the same way (an outage's
    -- hours, a shift's days) is one event
    select
        series_key,
        period_start,
        primary_z,
        coalesce(
            lag(period_end) over (partition by series_key, sign(primary_z) order by period_start) <> period_start,
            true
        ) as starts_run,
    from statuses
    where candidate_status = 'anomaly'
),

candidate_runs as (
    select
        *,
        -- the latest run start up to the cell: where its own run began
        max(case when starts_run then period_start end) over (
            partition by series_key, sign(primary_z)
            order by period_start
        ) as run_started_at,
    from candidate_cells
),

recurrences as (
    -- earlier runs of the series, within var `recurrence_days` before the cell's own run
    -- began, that went at least as far in the same direction: a surprise is news only while
    -- it is rarer than that. Quiet days do not count, so a level shift chart that fires after
    -- a slow drift is still news; the run in progress does not count, so an outage or a
    -- shift is reported for as long as it lasts.
    select
        surprise.series_key,
        surprise.period_start,
        count(distinct earlier.run_started_at) as recurrence_count,
    from candidate_runs as surprise
    inner join candidate_runs as earlier
        on earlier.series_key = surprise.series_key
        and sign(earlier.primary_z) = sign(surprise.primary_z)
        and earlier.period_start >= surprise.period_start - to_days({{ var("recurrence_days", 14) }})
        and earlier.period_start < surprise.run_started_at
        and abs(earlier.primary_z) >= abs(surprise.primary_z)
    group by surprise.series_key, surprise.period_start
),

judged as (
    select
        statuses.*,
        candidate_runs.run_started_at,
        coalesce(recurrences.recurrence_count, 0) as recurrence_count,
        case
            when statuses.candidate_status = 'anomaly'
                and coalesce(recurrences.recurrence_count, 0) >= {{ var("recurrence_limit", 3) }}
                then 'recurring'
            else statuses.candidate_status
        end as status,
    from statuses
    left join candidate_runs using (series_key, period_start)
    left join recurrences using (series_key, period_start)
    where {{ reprocessed_periods() }}
),

final as (
    select
        observation_id,
        series_key,
        source,
        metric,
        metric_kind,
        metric_unit,
        grain,
        segment_type,
        segment_value,
        period_start,
        period_end,
        value,
        organic_value,
        campaign_value,
        numerator,
        denominator,
        volume,
        status,
        status in ('anomaly', 'recurring', 'planned_peak', 'normal') as is_evaluated,
        status = 'anomaly' as is_anomaly,
        case
            when status <> 'anomaly' then null
            -- nothing at all where min_volume was expected is an outage
            when fires_silence then 'critical'
            when relative_effect >= 2 * min_effect
                and (
                    (detector_count >= least(2, judging_detector_count) and abs(primary_z) >= critical_z)
                    -- far past the critical bar one detector is enough: a bounce rate 20 times
                    -- its usual level on one day is not a level shift the chart could confirm
                    or abs(primary_z) >= 2 * critical_z
                    -- a change that has lasted is critical however it is seen: a category
                    -- down 60% for four days, which the point detectors judge day by day
                    or period_end - run_started_at >= to_days({{ var("critical_after_days", 4) }})
                )
                then 'critical'
            when detector_count >= 2 or abs(primary_z) >= critical_z then 'warning'
            else 'info'
        end as severity,
        case when status = 'anomaly' then direction end as direction,
        case
            when status = 'anomaly' then concat_ws(',', nullif(detectors, ''), case when fires_corroborated then 'corroborated' end)
        end as detectors,
        case when status = 'anomaly' then detector_count + cast(fires_corroborated as integer) else 0 end as detector_count,
        primary_model,
        round(expected, 6) as expected,
        round(primary_scale, 6) as scale,
        round(greatest(band_lower, 0), 6) as lower_bound,
        round(case when metric_kind = 'rate' then least(band_upper, 1) else band_upper end, 6) as upper_bound,
        round(abs(primary_z), 4) as score,
        round(primary_z, 4) as primary_z,
        round(relative_effect, 6) as relative_effect,
        round(robust_expected, 6) as robust_expected,
        round(robust_scale, 6) as robust_scale,
        round(robust_z, 4) as robust_z,
        robust_history,
        fires_robust_z,
        round(seasonal_expected, 6) as seasonal_expected,
        round(seasonal_scale, 6) as seasonal_scale,
        round(seasonal_z, 4) as seasonal_z,
        seasonal_history,
        fires_seasonal,
        round(cusum_upper, 4) as cusum_upper,
        round(cusum_lower, 4) as cusum_lower,
        fires_level_shift,
        fires_silence,
        silent_hours,
        round(silent_expected_volume, 6) as silent_expected_volume,
        fires_corroborated,
        planned_event,
        expected_multiplier,
        is_confirmed_anomaly,
        is_extreme_outlier,
        is_baseline_eligible,
        warning_z,
        critical_z,
        min_volume,
        min_effect,
        recurrence_count,
    from judged
)

select * from final
