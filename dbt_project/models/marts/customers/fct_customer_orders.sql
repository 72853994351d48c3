{#- One row per order of a known (non-guest) customer: the grain customer anomalies are judged at. -#}
with

order_lines as (
    select * from {{ ref('stg_transactions__order_lines') }}
),

known_customer_lines as (
    select * from order_lines
    where not is_guest
),

orders as (
    select
        order_id,
        -- an order belongs to one customer and one channel; the first line speaks for it
        arg_min(customer_key, line_number) as customer_key,
        min(ordered_at) as ordered_at,
        arg_min(channel, line_number) as channel,
        arg_min(country, line_number) as country,
        arg_min(currency, line_number) as currency,
        arg_min(status, line_number) as status,
        count(*) as line_count,
        sum(quantity) as units,
        sum(line_revenue) as order_value,
    from known_customer_lines
    group by order_id
),

customer_sequence as (
    select
        *,
        row_number() over (partition by customer_key order by ordered_at, order_id) as customer_order_number,
        min(ordered_at) over (partition by customer_key) as customer_first_ordered_at,
    from orders
),

final as (
    select
        order_id,
        customer_key,
        ordered_at,
        cast(date_trunc('day', ordered_at) as date) as order_date,
        channel,
        country,
        currency,
        status,
        line_count,
        units,
        order_value,
        customer_order_number,
        customer_first_ordered_at,
        date_diff('day', customer_first_ordered_at, ordered_at) as customer_tenure_days,
    from customer_sequence
)

select * from final
