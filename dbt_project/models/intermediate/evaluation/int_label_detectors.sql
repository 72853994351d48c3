{#- The detectors judged and what they can judge: every detector that flagged anything (series
    detectors, customer baselines) and `ensemble`, the published decision, which judges all. -#}
with

flagged_cells as (
    select * from {{ ref('int_label_flagged_cells') }}
),

final as (
    select distinct detector, detector_scope from flagged_cells
    union
    select 'ensemble' as detector, 'all' as detector_scope
)

select * from final
