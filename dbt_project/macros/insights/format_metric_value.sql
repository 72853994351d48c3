{#- A metric value as a marketer reads it: rates and shares as percentages, large amounts and
    whole numbers without decimals, small fractional ones with two. -#}
{% macro format_metric_value(metric, value) -%}
    case
        when {{ metric }} like '%\_rate' escape '\' or {{ metric }} like '%\_share' escape '\'
            then format('{:.1f}%', 100 * {{ value }})
        when abs({{ value }}) >= 100 or {{ value }} = round({{ value }}) then format('{:,.0f}', {{ value }})
        else format('{:,.2f}', {{ value }})
    end
{%- endmacro %}
