{#- Which detectors can judge a cell or label of `source`: the customer baselines judge the
    `customers` source, the series detectors every other one (`ensemble` judges both). -#}
{% macro evaluation_scope(source) -%}
    case when {{ source }} = 'customers' then 'customers' else 'series' end
{%- endmacro %}
