{#- How well detection works, per detector (each method, the customer baselines, and
    `ensemble` = the published anomalies) and per source/metric with `all` roll-ups.
    basis `labels`: against the generator's ground truth (only when labels exist); see
    int_label_hits for when a label counts as detected and int_label_flagged_cells for false
    positives. basis `feedback`: against analyst verdicts on reviewed anomalies; those only
    cover what was flagged, so detection rate and time to detect stay empty and the
    false-positive rate is a lower bound. -#}
with

label_detections as (
    select * from {{ ref('int_label_detections') }}
),

flagged_cells as (
    select * from {{ ref('int_label_flagged_cells') }}
),

evaluated_cell_counts as (
    select * from {{ ref('int_label_evaluated_cell_counts') }}
),

detectors as (
    select * from {{ ref('int_label_detectors') }}
),

scoped_evaluated_cell_counts as (
    select
        *,
        {{ evaluation_scope('source') }} as detector_scope,
    from evaluated_cell_counts
),

evaluated_counts as (
    -- a detector's `all` roll-up counts only the cells it can judge
    select
        detector_scope,
        coalesce(source, 'all') as source,
        coalesce(metric, 'all') as metric,
        cast(sum(evaluated_cells) as bigint) as evaluated_cells,
    from scoped_evaluated_cell_counts
    group by grouping sets ((detector_scope, source, metric), (detector_scope, source), (detector_scope))
    union all
    select
        'all' as detector_scope,
        coalesce(source, 'all') as source,
        coalesce(metric, 'all') as metric,
        cast(sum(evaluated_cells) as bigint) as evaluated_cells,
    from scoped_evaluated_cell_counts
    group by grouping sets ((source, metric), (source), ())
),

label_stats as (
    select
        detector,
        source,
        metric,
        count(*) as labelled_anomalies,
        count(*) filter (where is_detected) as detected_anomalies,
        count(*) filter (where is_critical) as critical_labelled_anomalies,
        count(*) filter (where is_critical and is_detected) as critical_detected_anomalies,
        avg(time_to_detect_hours) as mean_time_to_detect_hours,
    from label_detections
    group by detector, source, metric
),

cell_stats as (
    select
        detector,
        coalesce(source, 'all') as source,
        coalesce(metric, 'all') as metric,
        count(*) as flagged_cells,
        count(*) filter (where is_false_positive) as false_positive_cells,
        count(*) filter (where feedback_verdict is not null) as reviewed_cells,
        count(*) filter (where feedback_verdict = 'true_positive') as confirmed_cells,
        count(*) filter (where feedback_verdict = 'false_positive') as rejected_cells,
    from flagged_cells
    group by grouping sets ((detector, source, metric), (detector, source), (detector))
),

kpi_keys as (
    -- every detector on every metric it evaluated (zero flags is a result too), plus anything
    -- labelled or flagged that was not evaluated
    select detectors.detector, detectors.detector_scope, evaluated_counts.source, evaluated_counts.metric
    from detectors
    inner join evaluated_counts using (detector_scope)
    union
    select label_stats.detector, detectors.detector_scope, label_stats.source, label_stats.metric
    from label_stats
    inner join detectors using (detector)
    union
    select cell_stats.detector, detectors.detector_scope, cell_stats.source, cell_stats.metric
    from cell_stats
    inner join detectors using (detector)
),

kpi_inputs as (
    select
        kpi_keys.detector,
        kpi_keys.source,
        kpi_keys.metric,
        coalesce(label_stats.labelled_anomalies, 0) as labelled_anomalies,
        coalesce(label_stats.detected_anomalies, 0) as detected_anomalies,
        coalesce(label_stats.critical_labelled_anomalies, 0) as critical_labelled_anomalies,
        coalesce(label_stats.critical_detected_anomalies, 0) as critical_detected_anomalies,
        label_stats.mean_time_to_detect_hours,
        coalesce(evaluated_counts.evaluated_cells, 0) as evaluated_cells,
        coalesce(cell_stats.flagged_cells, 0) as flagged_cells,
        coalesce(cell_stats.false_positive_cells, 0) as false_positive_cells,
        coalesce(cell_stats.reviewed_cells, 0) as reviewed_cells,
        coalesce(cell_stats.confirmed_cells, 0) as confirmed_cells,
        coalesce(cell_stats.rejected_cells, 0) as rejected_cells,
    from kpi_keys
    left join label_stats using (detector, source, metric)
    left join cell_stats using (detector, source, metric)
    left join evaluated_counts using (detector_scope, source, metric)
),

label_basis as (
    select
        detector,
        source,
        metric,
        labelled_anomalies,
        detected_anomalies,
        detected_anomalies / nullif(labelled_anomalies, 0) as detection_rate,
        critical_labelled_anomalies,
        critical_detected_anomalies,
        critical_detected_anomalies / nullif(critical_labelled_anomalies, 0) as critical_detection_rate,
        evaluated_cells,
        flagged_cells,
        false_positive_cells,
        false_positive_cells / nullif(evaluated_cells, 0) as false_positive_rate,
        (flagged_cells - false_positive_cells) / nullif(flagged_cells, 0) as precision,
        mean_time_to_detect_hours,
        'labels' as basis,
    from kpi_inputs
    -- without ground truth every flag would read as a false positive
    where exists (select 1 from label_detections)
),

feedback_basis as (
    select
        detector,
        source,
        metric,
        cast(null as bigint) as labelled_anomalies,
        cast(null as bigint) as detected_anomalies,
        cast(null as double) as detection_rate,
        cast(null as bigint) as critical_labelled_anomalies,
        cast(null as bigint) as critical_detected_anomalies,
        cast(null as double) as critical_detection_rate,
        evaluated_cells,
        reviewed_cells as flagged_cells,
        rejected_cells as false_positive_cells,
        rejected_cells / nullif(evaluated_cells, 0) as false_positive_rate,
        confirmed_cells / nullif(reviewed_cells, 0) as precision,
        cast(null as double) as mean_time_to_detect_hours,
        'feedback' as basis,
    from kpi_inputs
    where reviewed_cells > 0
),

final as (
    select * from label_basis
    union all
    select * from feedback_basis
)

select * from final
