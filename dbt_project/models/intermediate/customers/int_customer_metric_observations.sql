{#- The three customer metrics in long format, one row per (customer, metric, observation):
    order value (in the reporting currency) and units per order, order frequency per day with
    at least one order. An order whose value could not be converted has no order value
    observation (UNPIVOT leaves NULLs out).
    The cohort a customer is compared with when their own history is short is fixed here. -#}
{%- set new_customer_days = var('customer_new_tenure_days', 90) -%}

with

customer_orders as (
    select * from {{ ref('fct_customer_orders') }}
    where {{ reprocessed_periods("cast(order_date as timestamp)") }}
),

order_observations as (
    select
        customer_key,
        metric,
        order_id,
        ordered_at as observed_at,
        order_date,
        channel,
        country,
        -- the currency of `observed`; NULL for units
        case when metric = 'customer_order_value' then reporting_currency end as currency,
        customer_tenure_days,
        observed,
    from customer_orders
    unpivot (
        observed for metric in (
            cast(order_value_reporting as double) as 'customer_order_value',
            cast(units as double) as 'customer_units'
        )
    )
),

daily_order_counts as (
    select
        customer_key,
        'customer_order_frequency' as metric,
        cast(null as varchar) as order_id,
        cast(order_date as timestamp) as observed_at,
        order_date,
        -- the day's first order decides the cohort, as a single order does
        arg_min(channel, ordered_at) as channel,
        arg_min(country, ordered_at) as country,
        cast(null as varchar) as currency,
        min(customer_tenure_days) as customer_tenure_days,
        cast(count(*) as double) as observed,
    from customer_orders
    group by customer_key, order_date
),

observations as (
    select * from order_observations
    union all by name
    select * from daily_order_counts
),

with_tenure_band as (
    select
        *,
        case when customer_tenure_days < {{ new_customer_days }} then 'new' else 'established' end as tenure_band,
    from observations
),

final as (
    select
        {{ detection_key(['customer_key', 'metric', 'coalesce(order_id, cast(order_date as varchar))']) }} as observation_id,
        customer_key,
        metric,
        order_id,
        observed_at,
        cast(order_date as timestamp) as period_start,
        cast(order_date as timestamp) + interval 1 day as period_end,
        observed,
        currency,
        channel,
        country,
        tenure_band,
        concat_ws('|', coalesce(channel, 'unknown'), coalesce(country, 'unknown'), tenure_band) as cohort_key,
    from with_tenure_band
)

select * from final
