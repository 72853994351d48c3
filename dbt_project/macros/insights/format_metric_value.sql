{#- A metric value as a marketer reads it, by the metric's `metric_unit` (set where the metric
    is defined, macro metric_component): a `percent` fraction as a percentage; 100 and above
    whole with thousands separators (12,400), from 1 up to one decimal (34.5, 3.2%), below 1
    up to two (0.35, 0.06%); trailing zeros dropped, so whole numbers show none (68, 3%).
    `currency` (converted by int_order_lines_in_reporting_currency) carries the reporting
    currency (12,400 EUR). -#}
{% macro format_metric_value(unit, value) -%}
    {%- set is_percentage -%}
        ({{ unit }} = 'percent')
    {%- endset -%}
    {%- set shown -%}
        (case when {{ is_percentage }} then 100 * {{ value }} else {{ value }} end)
    {%- endset -%}
    regexp_replace(
        format(
            '{:,.' || case when abs({{ shown }}) >= 100 then 0 when abs({{ shown }}) >= 1 then 1 else 2 end || 'f}',
            {{ shown }}
        ),
        '\.0+$|(\.\d*[1-9])0+$',
        '\1'
    )
    || case
        when {{ is_percentage }} then '%'
        when {{ unit }} = 'currency' then ' {{ var("reporting_currency") }}'
        else ''
    end
{%- endmacro %}
