{#- Fails on every non-NULL value that does not match `pattern` (whole value, RE2 syntax).
    On key columns it catches a raw value reaching a pseudonym column even if the model builds. -#}
{% test matches_pattern(model, column_name, pattern) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and not regexp_full_match({{ column_name }}, '{{ pattern }}')

{% endtest %}
