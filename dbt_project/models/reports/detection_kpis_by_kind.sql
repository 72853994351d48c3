{#- Detection per kind of labelled anomaly (spike, channel_outage, bot_burst, ...) and for all
    kinds, per detector: the scorecard's view of the ground truth. A label counts once, caught
    when any of its metric/segment rows was hit (see int_label_hits), alerted when one of
    those hits is in a critical incident (the ensemble's only). -#}
with

label_detections as (
    select * from {{ ref('int_label_detections') }}
),

whole_labels as (
    select * from label_detections
    where source = 'all' and metric = 'all'
),

by_kind as (
    select
        detector,
        coalesce(kind, 'all') as kind,
        count(*) as labelled_anomalies,
        count(*) filter (where is_detected) as detected_anomalies,
        count(*) filter (where is_critical) as critical_labelled_anomalies,
        count(*) filter (where is_critical and is_detected) as critical_detected_anomalies,
        count(*) filter (where is_critical and is_alerted) as critical_alerted_anomalies,
        avg(time_to_detect_hours) as mean_time_to_detect_hours,
    from whole_labels
    group by grouping sets ((detector, kind), (detector))
),

final as (
    select
        detector,
        kind,
        labelled_anomalies,
        detected_anomalies,
        detected_anomalies / labelled_anomalies as detection_rate,
        critical_labelled_anomalies,
        critical_detected_anomalies,
        critical_detected_anomalies / nullif(critical_labelled_anomalies, 0) as critical_detection_rate,
        critical_alerted_anomalies,
        critical_alerted_anomalies / nullif(critical_labelled_anomalies, 0) as critical_alert_rate,
        mean_time_to_detect_hours,
    from by_kind
)

select * from final
