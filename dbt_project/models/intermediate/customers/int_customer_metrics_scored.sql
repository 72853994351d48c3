{#- Every customer observation judged against a robust baseline that never contains it:
    the customer's own previous observations when they have enough of them, otherwise the
    trailing window of their cohort (same channel, country and tenure band).
    Order values are judged on the log scale: spending varies by factors (one dear item
    doubles a basket), so a symmetric band in currency would flag ordinary big baskets.
    Units and order counts are small whole numbers, judged as they are with a one-unit floor
    on the spread (their MAD is often 0).

    A customer's own 5-20 observations say where they usually are, but little about how
    much they vary: five similar baskets in a row may be luck as much as habit. Their own
    spread is therefore weighed with the cohort's, as if the cohort had added
    `customer_spread_prior_weight` (10) observations of its own (credibility weighting of
    the variances): the more history, the more the customer's own spread counts. -#}
{%- set own_history_size = var('customer_own_history_size', 20) -%}
{%- set min_own_history = var('customer_min_own_history', 5) -%}
{%- set cohort_window_days = var('customer_cohort_window_days', 90) -%}
{%- set min_cohort_history = var('customer_min_cohort_history', 30) -%}
{%- set spread_prior_weight = var('customer_spread_prior_weight', 10) -%}
{#- A flag needs both a large robust score and a large ratio to the baseline. -#}
{%- set thresholds = var('customer_severity_thresholds', {
    'info': {'score': 6, 'ratio': 5},
    'warning': {'score': 8, 'ratio': 6},
    'critical': {'score': 10, 'ratio': 8},
}) -%}

with

all_observations as (
    select * from {{ ref('int_customer_metric_observations') }}
),

observations as (
    -- what the windows of the reopened observations read: the cohort window's days, and every
    -- earlier observation of a customer with a reopened one (own history is the last orders,
    -- however old)
    select * from all_observations
    where {{ reprocessed_periods(lookback_days=cohort_window_days + 1) }}
        or customer_key in (select customer_key from all_observations where {{ reprocessed_periods() }})
),

metric_scales as (
    -- min_spread is in the metric's scale: log units for order value, units or orders else
    select * from (
        values
            ('customer_order_value', true, 0.25),
            ('customer_units', false, 1.0),
            ('customer_order_frequency', false, 1.0)
    ) as scales (metric, uses_log_scale, min_spread)
),

scaled_observations as (
    select
        observations.*,
        metric_scales.uses_log_scale,
        metric_scales.min_spread,
        -- a free order still has a logarithm: one cent
        case when metric_scales.uses_log_scale then ln(greatest(observations.observed, 0.01)) else observations.observed end
            as scaled_observed,
    from observations
    inner join metric_scales using (metric)
),

trailing_baselines as (
    select
        *,
        median(scaled_observed) over own_history as own_median,
        mad(scaled_observed) over own_history as own_mad,
        count(scaled_observed) over own_history as own_history_count,
        median(scaled_observed) over cohort_history as cohort_median,
        mad(scaled_observed) over cohort_history as cohort_mad,
        count(scaled_observed) over cohort_history as cohort_history_count,
    from scaled_observations
    window
        own_history as (
            partition by customer_key, metric
            order by observed_at, observation_id
            rows between {{ own_history_size }} preceding and 1 preceding
        ),
        cohort_history as (
            -- exclude group: nothing at the same instant (the same day for frequency) leaks in
            partition by cohort_key, metric
            order by observed_at
            range between interval {{ cohort_window_days }} days preceding and current row exclude group
        )
),

baseline_spreads as (
    select
        *,
        -- 1.4826 x MAD estimates the standard deviation of normal data
        1.4826 * own_mad as own_spread,
        case when cohort_history_count >= {{ min_cohort_history }} then 1.4826 * cohort_mad end as cohort_spread,
    from trailing_baselines
),

chosen_baselines as (
    select
        *,
        case
            when own_history_count >= {{ min_own_history }} then {
                'baseline': 'own_history',
                'center': own_median,
                -- the variances weighed by how many observations stand behind each
                'spread': coalesce(
                    sqrt(
                        (own_history_count * own_spread ^ 2 + {{ spread_prior_weight }} * cohort_spread ^ 2)
                        / (own_history_count + {{ spread_prior_weight }})
                    ),
                    own_spread
                ),
                'size': own_history_count
            }
            when cohort_spread is not null then {
                'baseline': 'cohort', 'center': cohort_median, 'spread': cohort_spread, 'size': cohort_history_count
            }
        end as chosen,
        chosen['baseline'] as baseline,
        chosen['center'] as scaled_center,
        chosen['size'] as baseline_size,
        -- greatest/least skip NULLs in DuckDB, hence the explicit guard without a baseline
        case when chosen is not null then greatest(chosen['spread'], min_spread) end as spread,
    from baseline_spreads
),

scored as (
    select
        *,
        case when uses_log_scale then exp(scaled_center) else scaled_center end as expected,
        (scaled_observed - scaled_center) / spread as score,
        -- how many times larger the bigger of observed/expected is; a zero side is unbounded
        coalesce(greatest(observed, expected) / nullif(least(observed, expected), 0), 'inf'::double) as effect_ratio,
    from chosen_baselines
),

classified as (
    select
        *,
        case
            {%- for severity in ['critical', 'warning', 'info'] %}
            when abs(score) >= {{ thresholds[severity]['score'] }}
                and effect_ratio >= {{ thresholds[severity]['ratio'] }} then '{{ severity }}'
            {%- endfor %}
        end as severity,
        -- the band outside which an observation is flagged: score and ratio both past the
        -- info thresholds, mapped back from the log scale where it applies
        scaled_center - {{ thresholds['info']['score'] }} * spread as scaled_lower,
        scaled_center + {{ thresholds['info']['score'] }} * spread as scaled_upper,
    from scored
),

final as (
    select
        observation_id,
        customer_key,
        metric,
        order_id,
        observed_at,
        period_start,
        period_end,
        observed,
        currency,
        channel,
        country,
        tenure_band,
        cohort_key,
        baseline,
        baseline_size,
        expected,
        spread,
        case
            when baseline is not null then
                greatest(
                    0,
                    least(
                        case when uses_log_scale then exp(scaled_lower) else scaled_lower end,
                        expected / {{ thresholds['info']['ratio'] }}
                    )
                )
        end as lower_bound,
        case
            when baseline is not null then
                greatest(
                    case when uses_log_scale then exp(scaled_upper) else scaled_upper end,
                    expected * {{ thresholds['info']['ratio'] }}
                )
        end as upper_bound,
        score,
        effect_ratio,
        -- from the score, on the scale judged: exp(ln 100) is not exactly 100
        case when score > 0 then 'spike' when score < 0 then 'drop' end as direction,
        severity,
        severity is not null as is_flagged,
        case when baseline is null then 'insufficient_history' else 'scored' end as status,
    from classified
    where {{ reprocessed_periods() }}
)

select * from final
