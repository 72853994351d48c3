{#- Every staged order line with its amounts also in the reporting currency (var
    `reporting_currency`): the one place money is converted. The rate in force is the seed
    exchange_rates row of the line's currency with the latest valid_from on or before the
    order's UTC day; the earliest row also covers the days before it. A currency without a
    rate leaves the converted amounts NULL (the money metrics then leave the line out), and
    the relationships test on the staged currency fails the build. -#}
with

order_lines as (
    select * from {{ ref('stg_transactions__order_lines') }}
),

exchange_rates as (
    select * from {{ ref('exchange_rates') }}
),

rates_in_force as (
    select
        currency,
        units_per_reporting_currency,
        -- history older than the seed's first row is converted at that row's rate, not lost
        case
            when valid_from = min(valid_from) over (partition by currency) then '-infinity'::date
            else valid_from
        end as applies_from,
    from exchange_rates
),

final as (
    select
        order_lines.order_id,
        order_lines.line_number,
        order_lines.ordered_at,
        order_lines.customer_key,
        order_lines.is_guest,
        order_lines.channel,
        order_lines.category,
        order_lines.country,
        order_lines.campaign_id,
        order_lines.status,
        order_lines.quantity,
        order_lines.currency,
        order_lines.unit_price,
        order_lines.discount_amount,
        order_lines.line_revenue,
        '{{ var("reporting_currency") }}' as reporting_currency,
        rates_in_force.units_per_reporting_currency,
        -- rounded per line to exact decimals, so sums do not depend on the order of addition
        cast(order_lines.unit_price / rates_in_force.units_per_reporting_currency as decimal(18, 4))
            as unit_price_reporting,
        cast(order_lines.discount_amount / rates_in_force.units_per_reporting_currency as decimal(18, 4))
            as discount_amount_reporting,
        cast(order_lines.line_revenue / rates_in_force.units_per_reporting_currency as decimal(18, 4))
            as line_revenue_reporting,
    from order_lines
    asof left join rates_in_force
        on order_lines.currency = rates_in_force.currency
        and cast(order_lines.ordered_at as date) >= rates_in_force.applies_from
)

select * from final
