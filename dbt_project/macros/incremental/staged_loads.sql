{#- Staging grows by load: a run stages only the rows of loads its table has not seen yet and,
    by the model's natural key (`unique_key`), replaces the rows they deliver again. Loads only
    ever get higher ids and a re-delivery's latest load wins, so this gives the table a full
    build gives. Everything is restaged on a full refresh, on the first build and when the code
    fingerprint (incremental_code_fingerprint: models, macros, seeds, PII meta, salt) changed
    since the last complete build, so no row keeps a pseudonym of another salt or the shape of
    older code. -#}

{#- Whether this run of the model adds new loads only. -#}
{% macro stages_new_loads_only() -%}
    {%- if not execute or not is_reprocessing() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set last_build = run_query("select code_fingerprint from (" ~ last_complete_build() ~ ")") -%}
    {{ return(last_build.rows | length == 1 and last_build.rows[0][0] == incremental_code_fingerprint()) }}
{%- endmacro %}

{#- The source rows a staging model reads: those of loads it has not staged yet, or all. -#}
{% macro loads_not_yet_staged() -%}
    {%- if stages_new_loads_only() -%}
        _load_id > (select coalesce(max(_load_id), -1) from {{ this }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Incremental strategy `stage_new_loads`: the newly staged rows replace those of the same
    natural key (NULL matching NULL, as in the de-duplication: an account-level social row has
    no post_id); when everything was restaged, they replace the whole table. -#}
{% macro get_incremental_stage_new_loads_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set staged = arg_dict["temp_relation"] -%}
    {%- set unique_key = arg_dict["unique_key"] -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- if not keys -%}
        {{ exceptions.raise_compiler_error("Strategy stage_new_loads needs the model's natural key as unique_key") }}
    {%- endif -%}
    {%- if stages_new_loads_only() -%}
        {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
        delete from {{ target }}
        where exists (
            select 1
            from {{ staged }}
            where
            {%- for key in keys %}
                {{ target }}.{{ key }} is not distinct from {{ staged }}.{{ key }}{{ " and" if not loop.last }}
            {%- endfor %}
        );

        insert into {{ target }} ({{ columns }})
        select {{ columns }} from {{ staged }}
    {%- else -%}
        create or replace table {{ target }} as
        select * from {{ staged }}
    {%- endif -%}
{%- endmacro %}
