{#- The md5 key of a series or an observation: the parts joined with '|', timestamps as
    'YYYY-MM-DD HH:MM:SS'. One definition, so `anomaly_id` in reports.anomaly_events, the
    observation ids in the scored series and analyst feedback always agree. -#}
{% macro detection_key(parts) -%}
    md5(concat_ws('|', {% for part in parts -%}
        cast({{ part }} as varchar){{ ", " if not loop.last }}
    {%- endfor %}))
{%- endmacro %}
