{#- How many cells each source/metric had evaluated: scored series cells that were judged
    (complete period, enough history and volume), and customer observations with a baseline. The denominator of false-positive
    rates. -#}
with

metric_observations as (
    select * from {{ ref('fct_metric_observations') }}
),

customer_observations as (
    select * from {{ ref('int_customer_metrics_scored') }}
),

metric_cell_counts as (
    select
        source,
        metric,
        count(*) as evaluated_cells,
    from metric_observations
    where is_evaluated
    group by source, metric
),

customer_cell_counts as (
    select
        'customers' as source,
        metric,
        count(*) as evaluated_cells,
    from customer_observations
    where status = 'scored'
    group by metric
),

final as (
    select * from metric_cell_counts
    union all
    select * from customer_cell_counts
)

select * from final
