{#- Customers (pseudonymised) whose order value, basket size or order frequency departs from
    their own history, or from similar customers' when their history is short. -#}
with

scored_observations as (
    select * from {{ ref('int_customer_metrics_scored') }}
),

flagged as (
    select * from scored_observations
    where is_flagged
),

described as (
    select
        *,
        strftime(period_start, '%-d %b %Y') as day_label,
        -- medians of counts can be halves (1.5 units); amounts keep cents
        case
            when metric = 'customer_order_value' then format('{:,.2f}', expected)
            when expected = round(expected) then format('{:,.0f}', expected)
            else format('{:,.1f}', expected)
        end as expected_label,
        case
            when metric = 'customer_order_value' then format('{:,.2f}', observed) || coalesce(' ' || currency, '')
            else format('{:,.0f}', observed)
        end as observed_label,
    from flagged
),

explained as (
    select
        *,
        case metric
            when 'customer_order_value' then 'This customer''s order on ' || day_label || ' was worth ' || observed_label
            when 'customer_units' then 'This customer''s order on ' || day_label || ' had ' || observed_label || ' units'
            when 'customer_order_frequency' then 'This customer placed ' || observed_label || ' orders on ' || day_label
        end as what_happened,
        case direction
            when 'spike' then ', about ' || format('{:.1f}', effect_ratio) || ' times '
            else ', ' || format('{:.0f}', 100 * (1 - observed / expected)) || '% below '
        end as comparison,
        case baseline
            when 'own_history' then
                'their usual ' || expected_label || ' (median of their previous ' || baseline_size
                || case when metric = 'customer_order_frequency' then ' buying days)' else ' orders)' end
            else
                'the usual ' || expected_label || ' for similar customers ('
                || tenure_band || ' ' || coalesce(channel, 'unknown') || ' customers in ' || coalesce(country, 'an unknown country') || ')'
        end as reference,
    from described
),

final as (
    select
        observation_id as customer_anomaly_id,
        customer_key,
        metric,
        order_id,
        period_start,
        period_end,
        observed,
        expected,
        lower_bound,
        upper_bound,
        score,
        direction,
        severity,
        baseline,
        baseline_size,
        what_happened || comparison || reference || '.' as explanation,
    from explained
)

select * from final
