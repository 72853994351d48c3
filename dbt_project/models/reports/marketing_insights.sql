{#- One actionable row per warning or critical incident: what moved, where (for a total-level
    move, the segment of each type that explains most of it, from the drill-down), the likely
    driver and a suggested action, in plain words. -#}
{%- set min_contribution_share = var('insight_min_contribution_share', 0.3) -%}

with

incidents as (
    select * from {{ ref('anomaly_incidents') }}
),

incident_summaries as (
    select * from {{ ref('int_incident_summaries') }}
),

drivers as (
    select * from {{ ref('int_incident_drivers') }}
),

contributions as (
    select * from {{ ref('int_anomaly_contributions') }}
),

actionable_incidents as (
    select * from incidents
    where peak_severity in ('warning', 'critical')
),

leading_contributions as (
    -- per segment type the segment that moved most, if it carries a real part of the move
    select
        anomaly_id,
        string_agg(
            trim({{ segment_phrase('segment_type', 'segment_value') }}) || ' ('
            || case
                -- other segments moving the opposite way can push a share past 100%
                when contribution_share >= 0.95 then 'nearly all'
                else format('{:.0f}%', 100 * contribution_share)
            end
            || ' of the change)',
            ' and ' order by contribution_share desc, segment_type
        ) as contributors,
    from contributions
    where rank = 1 and contribution_share >= {{ min_contribution_share }}
    group by anomaly_id
),

described as (
    select
        actionable_incidents.*,
        incident_summaries.primary_segment_type,
        incident_summaries.primary_segment_value,
        incident_summaries.primary_metric_unit,
        incident_summaries.primary_observed,
        incident_summaries.primary_expected,
        incident_summaries.affected_metric_names,
        incident_summaries.affected_segment_names,
        incident_summaries.affected_segment_count,
        drivers.suggested_action,
        leading_contributions.contributors,
        incident_summaries.primary_observed / nullif(incident_summaries.primary_expected, 0) as ratio_to_expected,
        lower({{ metric_display_name('actionable_incidents.primary_metric') }}) as primary_metric_name,
    from actionable_incidents
    inner join incident_summaries using (incident_id)
    inner join drivers using (incident_id)
    left join leading_contributions
        on incident_summaries.primary_total_anomaly_id = leading_contributions.anomaly_id
),

final as (
    select
        md5('insight|' || incident_id) as insight_id,
        incident_id,
        peak_severity as severity,
        started_at as period_start,
        ended_at as period_end,
        {{ metric_display_name('primary_metric') }}
        || {{ segment_phrase('primary_segment_type', 'primary_segment_value') }}
        || case
            -- a move from a tiny expectation reads better as "times" than as thousands of percent
            when ratio_to_expected >= 2 then ' rose to ' || format('{:,.1f}', ratio_to_expected) || ' times the usual level'
            when ratio_to_expected > 0 and direction = 'spike' then ' rose ' || format('{:.0f}%', 100 * (ratio_to_expected - 1))
            when ratio_to_expected >= 0 then ' fell ' || format('{:.0f}%', 100 * (1 - ratio_to_expected))
            else case direction when 'spike' then ' rose' else ' fell' end
        end
        || ' (expected about ' || {{ format_metric_value('primary_metric_unit', 'primary_expected') }}
        || ', saw ' || {{ format_metric_value('primary_metric_unit', 'primary_observed') }} || ')'
        || case
            when affected_metric_names <> primary_metric_name then '. Metrics involved: ' || affected_metric_names
            else ''
        end
        || '.' as what_moved,
        case
            when contributors is not null then 'Mostly ' || contributors || '.'
            when primary_segment_type = 'total' then 'Across the business, not in one segment.'
            else 'Only' || {{ segment_phrase('primary_segment_type', 'primary_segment_value') }} || '.'
        end
        || case
            when affected_segment_count > 1 then ' Seen ' || affected_segment_names || '.'
            else ''
        end as where_it_moved,
        likely_driver,
        suggested_action,
    from described
)

select * from final
