{#-
    The select list that makes a raw source table safe to use, driven by its YAML: every
    column, except that each PII column (column `meta: {pii: <kind>, masked_name: <name>}`)
    is replaced by `mask_pii(column, kind) as <masked_name>`. Staging models select from this
    list only, so no model spells masking per column.
-#}
{% macro select_masked_columns(source_name, table_name) -%}
    {%- if not execute -%}
        {#- The graph is only populated at execution; parsing needs no select list. -#}
        *
    {%- else -%}
        {%- set pii_columns = source_pii_columns(source_name, table_name) -%}
        {%- if pii_columns | length == 0 -%}
            *
        {%- else -%}
            * exclude ({{ pii_columns | map(attribute="name") | join(", ") }}),
        {%- for column in pii_columns %}
        {{ mask_pii(column.name, column.meta["pii"]) }} as {{ column.meta["masked_name"] }}
            {%- if not loop.last %},{% endif -%}
        {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The source's columns that carry `meta.pii`, from the project graph. dbt mirrors `meta:` and
    `config: {meta: ...}` into column.meta. -#}
{% macro source_pii_columns(source_name, table_name) -%}
    {%- set matches = graph.sources.values()
        | selectattr("source_name", "equalto", source_name)
        | selectattr("name", "equalto", table_name)
        | list -%}
    {%- if matches | length != 1 -%}
        {{ exceptions.raise_compiler_error("No source " ~ source_name ~ "." ~ table_name ~ " in the graph") }}
    {%- endif -%}
    {%- set pii_columns = [] -%}
    {%- for column in matches[0].columns.values() if column.meta and column.meta.get("pii") -%}
        {%- if not column.meta.get("masked_name") -%}
            {{ exceptions.raise_compiler_error(
                "Source column " ~ source_name ~ "." ~ table_name ~ "." ~ column.name
                ~ " has meta.pii but no meta.masked_name"
            ) }}
        {%- endif -%}
        {%- do pii_columns.append(column) -%}
    {%- endfor -%}
    {{ return(pii_columns) }}
{%- endmacro %}
