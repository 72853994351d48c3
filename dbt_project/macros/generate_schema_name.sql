{#- Use the configured schema name as is (staging, marts, reports), not <target>_<schema>:
    BI tools and the output contract address `reports.anomaly_events` directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
