{#- Every flagged cell once per detector that flagged it, with whether it counts as a false
    positive: it overlaps no labelled window of its source (for customers: of the same
    customer) and no analyst confirmed it.
    Detector `ensemble` is the published decision (reports.anomaly_events and
    customer_anomalies); each series detector (every `fires_<detector>` column of the scored
    series) is judged on its own verdicts over the evaluated cells, before the ensemble's
    gates; customer anomalies have their baseline (own_history, cohort) as detector. -#}
with

observations as (
    select * from {{ ref('fct_metric_observations') }}
),

customer_observations as (
    select * from {{ ref('int_customer_metrics_scored') }}
),

labels as (
    select * from {{ ref('int_label_rows') }}
),

feedback as (
    select * from {{ ref('analyst_feedback') }}
),

ensemble_cells as (
    select
        observation_id as cell_id,
        'ensemble' as detector,
        source,
        metric,
        segment_type,
        segment_value,
        grain,
        period_start,
        period_end,
        direction,
        severity,
    from observations
    where is_anomaly
),

evaluated_observations as (
    select
        observation_id,
        source,
        metric,
        segment_type,
        segment_value,
        grain,
        period_start,
        period_end,
        case when value > expected then 'spike' when value < expected then 'drop' end as direction,
        severity,
        columns('^fires_'),
    from observations
    where is_evaluated
),

detector_verdicts as (
    unpivot evaluated_observations
    on columns('^fires_')
    into name verdict_column value fires
),

detector_cells as (
    select
        observation_id as cell_id,
        replace(verdict_column, 'fires_', '') as detector,
        source,
        metric,
        segment_type,
        segment_value,
        grain,
        period_start,
        period_end,
        direction,
        severity,
    from detector_verdicts
    where fires
),

flagged_customers as (
    select * from customer_observations
    where is_flagged
),

customer_cells as (
    select
        observation_id as cell_id,
        unnest(['ensemble', baseline]) as detector,
        'customers' as source,
        metric,
        'customer' as segment_type,
        customer_key as segment_value,
        'day' as grain,
        period_start,
        period_end,
        direction,
        severity,
    from flagged_customers
),

flagged_cells as (
    select * from ensemble_cells
    union all
    select * from detector_cells
    union all
    select * from customer_cells
),

latest_feedback as (
    select
        anomaly_id as cell_id,
        arg_max(verdict, reviewed_at) as feedback_verdict,
    from feedback
    group by anomaly_id
),

cells_in_labelled_windows as (
    select distinct flagged_cells.cell_id
    from flagged_cells
    inner join labels
        on flagged_cells.source = labels.source
        and flagged_cells.period_start < labels.end_ts
        and labels.start_ts < flagged_cells.period_end
        and (labels.source <> 'customers' or flagged_cells.segment_value = labels.customer_key)
),

final as (
    select
        flagged_cells.*,
        case
            when flagged_cells.detector = 'ensemble' then 'all'
            else {{ evaluation_scope('flagged_cells.source') }}
        end as detector_scope,
        cells_in_labelled_windows.cell_id is not null as overlaps_label,
        latest_feedback.feedback_verdict,
        cells_in_labelled_windows.cell_id is null
            and coalesce(latest_feedback.feedback_verdict, '') <> 'true_positive' as is_false_positive,
    from flagged_cells
    left join cells_in_labelled_windows using (cell_id)
    left join latest_feedback using (cell_id)
)

select * from final
