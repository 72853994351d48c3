{#- One row per order of a known (non-guest) customer: the grain customer anomalies are judged at. -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_in_reporting_currency') }}
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
        cast(sum(quantity) as bigint) as units,
        sum(line_revenue) as order_value,
        any_value(reporting_currency) as reporting_currency,
        -- NULL unless every line could be converted: a part of an order is not its value
        case
            when count(line_revenue_reporting) = count(*) then sum(line_revenue_reporting)
        end as order_value_reporting,
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
        reporting_currency,
        order_value_reporting,
        customer_order_number,
        customer_first_ordered_at,
        date_diff('day', customer_first_ordered_at, ordered_at) as customer_tenure_days,
    from customer_sequence
)

select * from final
