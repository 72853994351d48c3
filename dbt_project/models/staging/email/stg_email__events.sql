with

source as (

    select * from {{ source('email', 'email') }}
    where {{ loads_not_yet_staged() }}

),

masked as (

    select
        {{ select_masked_columns('email', 'email') }},
    from source

),

latest_load as (

    select *
    from masked
    qualify row_number() over (
        partition by campaign_id, recipient_key, event_type, event_ts
        order by _load_id desc, _line_number desc
    ) = 1

),

final as (

    select
        campaign_id,
        campaign_name,
        recipient_key,
        event_type,
        event_ts as occurred_at,
        link_path,
        _load_id,
    from latest_load

)

select * from final
