{#- Fails on every value that is not above 0 (NULL passes: pair with not_null), e.g. an
    exchange rate, which is divided by. -#}
{% test positive(model, column_name) %}

select {{ column_name }} as non_positive_value
from {{ model }}
where {{ column_name }} <= 0

{% endtest %}
