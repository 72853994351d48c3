{#- Fails on every combination of `columns` that occurs more than once (NULLs count as equal,
    so an account-level social row with no post_id is still checked). -#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(",\n    ") }},
    count(*) as occurrences,
from {{ model }}
group by all
having count(*) > 1

{% endtest %}
