{#- Ground-truth label rows, one per (label, metric, segment) where the anomaly should show,
    with the customer metrics filed under the `customers` source like customer anomalies are. -#}
with

labels as (
    select * from {{ ref('stg_ground_truth__anomaly_labels') }}
),

filed as (
    select
        *,
        case when metric like 'customer\_%' escape '\' then 'customers' else source end as evaluated_source,
    from labels
),

final as (
    select
        {{ detection_key(['label_id', 'evaluated_source', 'metric', 'segment_type', 'segment_value']) }} as label_row_id,
        label_id,
        kind,
        evaluated_source as source,
        {{ evaluation_scope('evaluated_source') }} as detector_scope,
        metric,
        segment_type,
        segment_value,
        direction,
        start_ts,
        end_ts,
        is_critical,
        customer_key,
    from filed
)

select * from final
