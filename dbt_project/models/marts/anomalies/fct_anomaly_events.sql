{#- One row per flagged cell (metric, segment, grain, period), with a sentence a marketer
    can read. `anomaly_id` is the cell's observation id: the md5 of source, metric,
    segment_type, segment_value, grain and period_start, so it stays the same on every
    re-run and analyst feedback can point at it. reports.anomaly_events publishes this. -#}
with

observations as (
    select * from {{ ref('fct_metric_observations') }}
),

anomalies as (
    select * from observations
    where is_anomaly
),

phrases as (
    select
        *,
        case grain
            when 'hour' then 'On ' || strftime(period_start, '%A %-d %B %Y at %H:%M UTC')
            else 'On ' || strftime(period_start, '%A %-d %B %Y')
        end as when_phrase,
        case
            when primary_model = 'seasonal' and grain = 'day' then strftime(period_start, '%A') || ' level'
            when primary_model = 'seasonal' then 'level for ' || strftime(period_start, '%A %H:00')
            when grain = 'hour' then 'level for ' || strftime(period_start, '%H:00')
            else 'level'
        end as usual_phrase,
        case
            when planned_event is not null and expected_multiplier <> 1
                then ' even allowing for ' || replace(planned_event, '_', ' ')
            else ''
        end as plan_phrase,
        case
            when fires_level_shift then ', part of a sustained ' || case direction when 'spike' then 'rise' else 'fall' end
            else ''
        end as shift_phrase,
        case
            -- one silent hour already reads "saw 0" against its expectation
            when fires_silence and silent_hours > 1 then
                ', none for ' || silent_hours || ' hours in a row where about ' || format('{:,.0f}', silent_expected_volume)
                || case source when 'transactions' then ' orders' when 'interactions' then ' sessions' else '' end
                || ' were expected'
            else ''
        end as silence_phrase,
    from anomalies
),

explained as (
    select
        *,
        when_phrase || ', '
        || lower({{ metric_display_name('metric') }})
        || {{ segment_phrase('segment_type', 'segment_value') }}
        -- counts are plural nouns (orders, sessions), the rest singular (revenue, a rate)
        || case when metric_kind = 'count' then ' were ' else ' was ' end
        || case
            -- a rise to several times the usual reads better as "times" than as thousands of
            -- percent (as marketing_insights words it)
            when expected > 0 and value >= 2 * expected then
                format(case when value >= 10 * expected then '{:,.0f}' else '{:,.1f}' end, value / expected)
                || ' times the usual ' || usual_phrase || plan_phrase
                || ' (expected about ' || {{ format_metric_value('metric_unit', 'expected') }}
                || ', saw ' || {{ format_metric_value('metric_unit', 'value') }} || ')'
            when expected > 0 then format('{:,.0f}', 100 * relative_effect) || '% '
                || case direction when 'spike' then 'above' else 'below' end
                || ' the usual ' || usual_phrase || plan_phrase
                || ' (expected about ' || {{ format_metric_value('metric_unit', 'expected') }}
                || ', saw ' || {{ format_metric_value('metric_unit', 'value') }} || ')'
            else
                {{ format_metric_value('metric_unit', 'value') }}
                || ' where it is usually about ' || {{ format_metric_value('metric_unit', 'expected') }}
        end
        || shift_phrase || silence_phrase || '.' as explanation,
    from phrases
),

final as (
    select
        observation_id as anomaly_id,
        source,
        metric,
        segment_type,
        segment_value,
        grain,
        period_start,
        period_end,
        value as observed,
        expected,
        lower_bound,
        upper_bound,
        score,
        direction,
        severity,
        detectors,
        explanation,
        series_key,
        metric_kind,
        metric_unit,
        case when metric_unit = 'currency' then '{{ var("reporting_currency") }}' end as currency,
        detector_count,
        primary_model,
        relative_effect,
        volume,
        planned_event,
        fires_level_shift,
    from explained
)

select * from final
