with

source as (

    select * from {{ source('social', 'social') }}
    where {{ loads_not_yet_staged() }}

),

masked as (

    select
        {{ select_masked_columns('social', 'social') }},
    from source

),

latest_load as (

    select *
    from masked
    qualify row_number() over (
        partition by platform, account_key, post_id, metric_ts
        order by _load_id desc, _line_number desc
    ) = 1

),

final as (

    select
        platform,
        account_key,
        post_id,
        campaign_id,
        metric_ts as metric_at,
        coalesce(impressions, 0) as impressions,
        coalesce(likes, 0) as likes,
        coalesce(comments, 0) as comments,
        coalesce(shares, 0) as shares,
        coalesce(clicks, 0) as clicks,
        coalesce(mentions, 0) as mentions,
        _load_id,
    from latest_load

)

select * from final
