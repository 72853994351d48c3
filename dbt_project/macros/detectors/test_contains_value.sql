{#- Fails when no row of the model has `value` in the column (e.g. metric_config's
    `default` row, which every other metric falls back to). -#}
{% test contains_value(model, column_name, value) %}

select '{{ value }}' as missing_value
where not exists (
    select 1 from {{ model }} where {{ column_name }} = '{{ value }}'
)

{% endtest %}
