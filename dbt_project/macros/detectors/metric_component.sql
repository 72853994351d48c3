{#- One metric of a period as a struct, for `unnest([...])` in the component models:
    `value` is later `numerator` for counts and amounts and `numerator / denominator` for
    rates and ratios; `volume` is the number of orders, sessions, e-mails or impressions
    behind the cell, which the minimum-volume guard reads; `campaign_numerator` is the part
    of a count's or amount's numerator that came from campaign-attributed activity (orders,
    sessions, events carrying a campaign id), which the detectors treat as explained;
    `numerator_squares`, where the numerator adds up the values of the units the denominator
    counts (revenue over its orders, and the average order value, their mean) or counts
    things that come in clumps (units in orders, events in sessions), is the sum of those
    values or clump sizes squared, so the detectors know how much the units vary (NULL: not
    known). `unit` says how a reader reads the value: `number`, `percent` (a fraction shown as
    a percentage) or `currency` (money in the reporting currency); the explanations and BI
    format values by it, so a new metric needs no change anywhere else. Exact decimals keep
    re-runs bit-identical. -#}
{% macro metric_component(metric, metric_kind, numerator, denominator, volume, campaign_numerator=0, numerator_squares="null", unit="number") -%}
    {
        'metric': {{ metric }},
        'metric_kind': '{{ metric_kind }}',
        'metric_unit': '{{ unit }}',
        'numerator': cast({{ numerator }} as decimal(38, 4)),
        'denominator': cast({{ denominator }} as decimal(38, 4)),
        'volume': cast({{ volume }} as decimal(38, 4)),
        'campaign_numerator': cast({{ campaign_numerator }} as decimal(38, 4)),
        'numerator_squares': cast({{ numerator_squares }} as decimal(38, 4)),
    }
{%- endmacro %}
