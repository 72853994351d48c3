{#- Pieces of the plain-language sentence that explains an anomaly to a marketer (values are
    formatted by format_metric_value, shared with the incident texts). -#}

{#- "Revenue", "Average order value", "Average unit price", "Page view events", "Conversion rate", "Delivered e-mails". -#}
{% macro metric_display_name(metric) -%}
    case
        when {{ metric }} = 'avg_order_value' then 'Average order value'
        when {{ metric }} = 'avg_unit_price' then 'Average unit price'
        when {{ metric }} = 'delivered' then 'Delivered e-mails'
        when {{ metric }} like 'events\_%' escape '\' then
            upper(left(replace(substr({{ metric }}, 8), '_', ' '), 1))
            || substr(replace(substr({{ metric }}, 8), '_', ' '), 2)
            || ' events'
        else upper(left(replace({{ metric }}, '_', ' '), 1)) || substr(replace({{ metric }}, '_', ' '), 2)
    end
{%- endmacro %}

{#- " on the app channel", " in the toys category", " for campaign spring_sale"; "" for the total. -#}
{% macro segment_phrase(segment_type, segment_value) -%}
    case {{ segment_type }}
        when 'total' then ''
        when 'channel' then ' on the ' || replace({{ segment_value }}, '_', ' ') || ' channel'
        when 'category' then ' in the ' || replace({{ segment_value }}, '_', ' ') || ' category'
        when 'country' then ' in ' || {{ segment_value }}
        when 'campaign' then ' for campaign ' || {{ segment_value }}
        when 'device' then ' on ' || {{ segment_value }} || ' devices'
        when 'platform' then ' on ' || upper(left({{ segment_value }}, 1)) || substr({{ segment_value }}, 2)
        else ' for ' || {{ segment_type }} || ' ' || {{ segment_value }}
    end
{%- endmacro %}
