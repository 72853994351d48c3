{#- Hourly building blocks of the transaction metrics, one row per (metric, segment, hour
    with orders). Densified and rolled up to days in int_metric_series_unioned. An order
    counts in every category it has a line in; revenue is booked revenue of all lines
    (net of discounts, whatever the status; cancellations and refunds have their own rates).
    Every amount is in the reporting currency (int_order_lines_in_reporting_currency); a line
    whose currency has no rate is left out of the amounts, and its order out of the average
    order value. The average unit price is the price per unit before discounts (gross amount
    / units), per category only: there it is a price, which a pricing error moves straight
    away, while the average order value also moves with basket size (and shoppers buy more of
    a mispriced item); over a channel, a country or the shop it would move with the mix of
    categories sold. Discounts have their own share. Revenue and the average order value also
    carry the sum of their orders' squared values, the average unit price its units' squared
    prices, and units the sum of the orders' squared unit counts, from which the detectors
    learn how much one order or unit varies. Campaign-attributed orders (with a campaign id)
    are also counted apart, except in a campaign's own series, which is all campaign. -#}
{%- set segments = {
    "total": "'all'",
    "channel": "channel",
    "category": "coalesce(category, 'unknown')",
    "country": "coalesce(country, 'unknown')",
    "campaign": "campaign_id",
} -%}

with

order_lines as (
    select * from {{ ref('int_order_lines_in_reporting_currency') }}
),

reprocessed_lines as (
    select * from order_lines where {{ reprocessed_periods("ordered_at") }}
),

first_orders as (
    -- over the whole history: a customer's first order may lie before the reopened periods
    select
        customer_key,
        min(ordered_at) as first_ordered_at,
    from order_lines
    where customer_key in (select customer_key from reprocessed_lines)
    group by customer_key
),

lines_enriched as (
    select
        order_lines.order_id,
        order_lines.channel,
        order_lines.category,
        order_lines.country,
        order_lines.campaign_id,
        order_lines.status,
        order_lines.quantity,
        -- amounts in the reporting currency, so lines in different currencies add up
        order_lines.discount_amount_reporting as discount_amount,
        order_lines.line_revenue_reporting as line_revenue,
        order_lines.unit_price_reporting,
        order_lines.quantity * order_lines.unit_price_reporting as gross_amount,
        order_lines.campaign_id is not null as is_campaign_attributed,
        order_lines.customer_key is not null as is_known_customer,
        order_lines.ordered_at = first_orders.first_ordered_at as is_first_order,
        date_trunc('hour', order_lines.ordered_at) as period_start,
    from reprocessed_lines as order_lines
    left join first_orders using (customer_key)
),

segmented_lines as (
    {% for segment_type, segment_value in segments.items() %}
    select
        '{{ segment_type }}' as segment_type,
        {{ segment_value }} as segment_value,
        {{ "false" if segment_type == "campaign" else "is_campaign_attributed" }} as counts_as_campaign,
        *,
    from lines_enriched
    where {{ segment_value }} is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

hourly_totals as (
    select
        segment_type,
        segment_value,
        period_start,
        count(distinct order_id) as orders,
        count(distinct order_id) filter (where status = 'cancelled') as cancelled_orders,
        count(distinct order_id) filter (where status = 'refunded') as refunded_orders,
        count(distinct order_id) filter (where is_known_customer) as known_customer_orders,
        count(distinct order_id) filter (where is_first_order) as first_orders,
        -- orders whose amounts could be converted: what the average order value divides by
        count(distinct order_id) filter (where line_revenue is not null) as converted_orders,
        coalesce(sum(line_revenue), 0) as revenue,
        coalesce(sum(gross_amount), 0) as gross_amount,
        -- units whose price could be converted: what the average unit price divides by
        coalesce(sum(quantity) filter (where gross_amount is not null), 0) as converted_units,
        sum(quantity * unit_price_reporting * unit_price_reporting) as converted_unit_price_squares,
        coalesce(sum(discount_amount), 0) as discount_amount,
        sum(quantity) as units,
        count(distinct order_id) filter (where counts_as_campaign) as campaign_orders,
        coalesce(sum(line_revenue) filter (where counts_as_campaign), 0) as campaign_revenue,
        coalesce(sum(quantity) filter (where counts_as_campaign), 0) as campaign_units,
    from segmented_lines
    group by all
),

order_totals as (
    -- each order's revenue (of its converted lines; NULL when none) and units in the segment,
    -- for how much one order varies
    select
        segment_type,
        segment_value,
        period_start,
        order_id,
        sum(line_revenue) as order_revenue,
        sum(quantity) as order_units,
    from segmented_lines
    group by all
),

order_squares as (
    select
        segment_type,
        segment_value,
        period_start,
        sum(order_revenue * order_revenue) as converted_order_revenue_squares,
        sum(order_units * order_units) as order_units_squares,
    from order_totals
    group by all
),

segment_hours as (
    select
        hourly_totals.*,
        order_squares.converted_order_revenue_squares,
        order_squares.order_units_squares,
    from hourly_totals
    left join order_squares using (segment_type, segment_value, period_start)
),

final as (
    select
        'transactions' as source,
        segment_type,
        segment_value,
        period_start,
        component.*,
    from segment_hours
    cross join unnest([
        {{ metric_component("'orders'", 'count', 'orders', 'orders', 'orders', 'campaign_orders') }},
        {{ metric_component("'revenue'", 'amount', 'revenue', 'converted_orders', 'orders', 'campaign_revenue', numerator_squares='converted_order_revenue_squares', unit='currency') }},
        {{ metric_component("'units'", 'count', 'units', 'units', 'orders', 'campaign_units', numerator_squares='order_units_squares') }},
        {{ metric_component("'avg_order_value'", 'ratio', 'revenue', 'converted_orders', 'converted_orders', numerator_squares='converted_order_revenue_squares', unit='currency') }},
        -- judged on its orders, not its units: the units of one line share one price
        {{ metric_component("'avg_unit_price'", 'ratio', 'gross_amount', 'converted_units', 'converted_orders', numerator_squares='converted_unit_price_squares', unit='currency') }},
        {{ metric_component("'discount_share'", 'ratio', 'discount_amount', 'gross_amount', 'orders', unit='percent') }},
        {{ metric_component("'cancel_rate'", 'rate', 'cancelled_orders', 'orders', 'orders', unit='percent') }},
        {{ metric_component("'refund_rate'", 'rate', 'refunded_orders', 'orders', 'orders', unit='percent') }},
        {{ metric_component("'new_customer_share'", 'rate', 'first_orders', 'known_customer_orders', 'known_customer_orders', unit='percent') }},
    ]) as components(component)
    where component.metric <> 'avg_unit_price' or segment_type = 'category'
)

select * from final
