with

source as (

    select * from {{ source('transactions', 'transactions') }}
    where {{ loads_not_yet_staged() }}

),

masked as (

    select
        {{ select_masked_columns('transactions', 'transactions') }},
    from source

),

latest_load as (

    select *
    from masked
    qualify row_number() over (
        partition by order_id, line_number
        order by _load_id desc, _line_number desc
    ) = 1

),

final as (

    select
        order_id,
        line_number,
        order_ts as ordered_at,
        customer_key,
        customer_email_key,
        customer_phone_key,
        channel,
        sku,
        category,
        quantity,
        unit_price,
        discount_amount,
        quantity * unit_price - discount_amount as line_revenue,
        currency,
        status,
        country,
        ip_key,
        campaign_id,
        customer_key is null as is_guest,
        _load_id,
        _file_path,
        _line_number,
    from latest_load

)

select * from final
