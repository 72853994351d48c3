with

source as (

    select * from {{ source('ground_truth', 'anomaly_labels') }}

),

masked as (

    select
        {{ select_masked_columns('ground_truth', 'anomaly_labels') }},
        -- Kept only to find the raw id in free text below; never selected into final.
        customer_id,
    from source

),

final as (

    select
        label_id,
        kind,
        source,
        metric,
        segment_type,
        -- A customer label may name the raw customer as its segment or in its description:
        -- put the pseudonym there, so labels join customer_anomalies.customer_key.
        coalesce(replace(segment_value, customer_id, customer_key), segment_value) as segment_value,
        direction,
        start_ts,
        end_ts,
        is_critical,
        customer_key,
        coalesce(replace(description, customer_id, customer_key), description) as description,
    from masked

)

select * from final
