{#- The per-metric detector settings in force: seed metric_config, or the CSV file named by
    env var RETAIL_ANOMALY_METRIC_CONFIG (same columns) when it is set, so thresholds can live
    outside the project. The file is read with the seed's column types. -#}
{%- set thresholds_file = env_var("RETAIL_ANOMALY_METRIC_CONFIG", "") %}
-- depends_on: {{ ref("metric_config") }}

with

metric_config as (
    {% if thresholds_file and execute -%}
    {%- set column_types = (graph.nodes.values() | selectattr("name", "equalto", "metric_config") | first).config.column_types -%}
    select * from read_csv(
        '{{ thresholds_file }}',
        header = true,
        columns = { {%- for column, column_type in column_types.items() %}'{{ column }}': '{{ column_type }}'{{ ", " if not loop.last }}{% endfor -%} }
    )
    {%- else -%}
    select * from {{ ref("metric_config") }}
    {%- endif %}
),

final as (
    select * from metric_config
)

select * from final
