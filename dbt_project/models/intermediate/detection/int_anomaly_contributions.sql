{#- For every total-level anomaly, the segments that explain it, ranked by their share of
    the total's deviation, per segment type (which channel, category, country, ... moved).

    delta is the segment's own deviation from its expected value, in the total's units: for
    counts and amounts observed - expected; for rates and ratios the segment's deviation
    weighted by its share of the total's denominator, so a big segment moving a little can
    outrank a tiny one moving a lot. contribution_share = delta / the total's deviation
    (shares of one segment type add up to about 1; a segment moving against the total gets a
    negative share). Segments without an expected value yet (cold start) are left out. -#}
with

anomaly_events as (
    select * from {{ ref('fct_anomaly_events') }}
),

observations as (
    select * from {{ ref('fct_metric_observations') }}
),

total_anomalies as (
    select
        anomaly_events.anomaly_id,
        anomaly_events.source,
        anomaly_events.metric,
        anomaly_events.metric_kind,
        anomaly_events.grain,
        anomaly_events.period_start,
        anomaly_events.observed - anomaly_events.expected as total_delta,
        observations.denominator as total_denominator,
    from anomaly_events
    inner join observations on observations.observation_id = anomaly_events.anomaly_id
    where anomaly_events.segment_type = 'total'
),

segment_deltas as (
    select
        total_anomalies.anomaly_id,
        observations.segment_type,
        observations.segment_value,
        observations.value as observed,
        observations.expected,
        case
            when total_anomalies.metric_kind in ('count', 'amount') then observations.value - observations.expected
            else (observations.value - observations.expected)
                * observations.denominator / nullif(total_anomalies.total_denominator, 0)
        end as delta,
        total_anomalies.total_delta,
        observations.status as segment_status,
    from total_anomalies
    inner join observations
        on observations.source = total_anomalies.source
        and observations.metric = total_anomalies.metric
        and observations.grain = total_anomalies.grain
        and observations.period_start = total_anomalies.period_start
        and observations.segment_type <> 'total'
    where observations.expected is not null
        and observations.value is not null
),

final as (
    select
        anomaly_id,
        segment_type,
        segment_value,
        observed,
        expected,
        round(delta, 6) as delta,
        round(delta / nullif(total_delta, 0), 6) as contribution_share,
        row_number() over (
            partition by anomaly_id, segment_type
            order by delta / nullif(total_delta, 0) desc nulls last, segment_value
        ) as rank,
        segment_status,
    from segment_deltas
)

select * from final
