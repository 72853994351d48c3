{#- Contract table: one row per flagged (metric, segment, grain, period), published for BI,
    with the incident it belongs to (grouped in int_incident_events from
    marts.fct_anomaly_events). -#}
with

anomaly_events as (
    select * from {{ ref('fct_anomaly_events') }}
),

incident_events as (
    select * from {{ ref('int_incident_events') }}
),

final as (
    select
        anomaly_events.*,
        incident_events.incident_id,
    from anomaly_events
    left join incident_events using (anomaly_id)
)

select * from final
