{#- Whether a scored series cell was judged: it had a complete period, enough history and
    enough volume (statuses of marts.fct_metric_observations). The cells detection KPIs count. -#}
{% macro is_evaluated_cell(status) -%}
    {{ status }} in ('normal', 'anomaly', 'planned_peak')
{%- endmacro %}
