{#- Which flagged cells detect which label rows. A cell hits a label row when it is on the same
    source and metric, moves in the labelled direction, overlaps the labelled window, and is on
    the labelled segment or on the total of that metric (a move in one channel that shows in
    the total was caught); customer labels need the same customer. -#}
with

label_rows as (
    select * from {{ ref('int_label_rows') }}
),

flagged_cells as (
    select * from {{ ref('int_label_flagged_cells') }}
),

final as (
    select
        label_rows.label_row_id,
        label_rows.label_id,
        flagged_cells.detector,
        flagged_cells.cell_id,
        case
            when label_rows.source = 'customers' then 'same_customer'
            when flagged_cells.segment_type = label_rows.segment_type
                and flagged_cells.segment_value = label_rows.segment_value then 'same_segment'
            else 'total_level'
        end as match_type,
        flagged_cells.period_start,
        flagged_cells.period_end,
    from label_rows
    inner join flagged_cells
        on label_rows.source = flagged_cells.source
        and label_rows.metric = flagged_cells.metric
        and flagged_cells.period_start < label_rows.end_ts
        and label_rows.start_ts < flagged_cells.period_end
        and (label_rows.direction is null or label_rows.direction = flagged_cells.direction)
        and (
            (label_rows.source = 'customers' and flagged_cells.segment_value = label_rows.customer_key)
            or (
                label_rows.source <> 'customers'
                and (
                    (flagged_cells.segment_type = label_rows.segment_type and flagged_cells.segment_value = label_rows.segment_value)
                    or flagged_cells.segment_type = 'total'
                )
            )
        )
)

select * from final
