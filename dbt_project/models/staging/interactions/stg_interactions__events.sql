with

source as (

    select * from {{ source('interactions', 'interactions') }}
    where {{ loads_not_yet_staged() }}

),

masked as (

    select
        {{ select_masked_columns('interactions', 'interactions') }},
    from source

),

latest_load as (

    select *
    from masked
    qualify row_number() over (
        partition by event_id
        order by _load_id desc, _line_number desc
    ) = 1

),

final as (

    select
        event_id,
        event_ts as occurred_at,
        session_id,
        customer_key,
        channel,
        event_type,
        sku,
        device,
        ip_key,
        user_agent_family,
        coalesce(user_agent_family = 'bot', false) as is_bot,
        campaign_id,
        _load_id,
        _file_path,
        _line_number,
    from latest_load

)

select * from final
