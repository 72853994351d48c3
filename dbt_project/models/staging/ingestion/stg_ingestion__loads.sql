with

source as (

    select * from {{ source('ingestion', 'load_ledger') }}

),

final as (

    select
        load_id,
        source,
        file_path,
        landed_rows,
        loaded_rows,
        quarantined_rows,
        loaded_at,
        reopens_from,
    from source

)

select * from final
