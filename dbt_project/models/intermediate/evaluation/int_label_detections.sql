{#- Whether each detector caught each labelled anomaly, per metric, per source (`metric` =
    `all`) and overall (`source` = `all`): a label is caught at a level when any of its rows
    there has a hit. Time to detect runs from the label's start to the end of the first
    flagged period, the moment that period's data was complete. A label caught by the
    ensemble is alerted when a hit belongs to a critical incident: alerts go out for those
    only, so a critical label caught at a lower severity reaches no one. -#}
with

label_rows as (
    select * from {{ ref('int_label_rows') }}
),

hits as (
    select * from {{ ref('int_label_hits') }}
),

detectors as (
    select * from {{ ref('int_label_detectors') }}
),

incident_events as (
    select * from {{ ref('int_incident_events') }}
),

incident_summaries as (
    select * from {{ ref('int_incident_summaries') }}
),

alerted_cells as (
    select incident_events.anomaly_id as cell_id
    from incident_events
    inner join incident_summaries using (incident_id)
    where incident_summaries.peak_severity = 'critical'
),

label_rows_by_detector as (
    -- every detector is judged on every label in its scope, caught or not
    select
        label_rows.*,
        detectors.detector,
    from label_rows
    inner join detectors on detectors.detector_scope in ('all', label_rows.detector_scope)
),

rolled_up as (
    select
        label_rows_by_detector.label_id,
        label_rows_by_detector.detector,
        coalesce(label_rows_by_detector.source, 'all') as source,
        coalesce(label_rows_by_detector.metric, 'all') as metric,
        any_value(label_rows_by_detector.kind) as kind,
        bool_or(label_rows_by_detector.is_critical) as is_critical,
        min(label_rows_by_detector.start_ts) as label_started_at,
        min(hits.period_end) as first_flag_ended_at,
        coalesce(bool_or(alerted_cells.cell_id is not null and label_rows_by_detector.detector = 'ensemble'), false)
            as is_alerted,
    from label_rows_by_detector
    left join hits using (label_row_id, detector)
    left join alerted_cells on hits.cell_id = alerted_cells.cell_id
    group by grouping sets (
        (label_rows_by_detector.label_id, label_rows_by_detector.detector, label_rows_by_detector.source, label_rows_by_detector.metric),
        (label_rows_by_detector.label_id, label_rows_by_detector.detector, label_rows_by_detector.source),
        (label_rows_by_detector.label_id, label_rows_by_detector.detector)
    )
),

final as (
    select
        label_id,
        detector,
        source,
        metric,
        kind,
        is_critical,
        label_started_at,
        first_flag_ended_at,
        first_flag_ended_at is not null as is_detected,
        is_alerted,
        -- greatest skips NULLs in DuckDB: a missed label has no time to detect
        case
            when first_flag_ended_at is not null then greatest(0, epoch(first_flag_ended_at - label_started_at) / 3600.0)
        end as time_to_detect_hours,
    from rolled_up
)

select * from final
