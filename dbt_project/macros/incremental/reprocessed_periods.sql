{#- Incremental runs recompute every period from int_periods_reopened.reprocess_from on, and
    read `lookback_days` more of history so that trailing windows see all their rows: a
    period's scores depend only on its own and earlier periods, so nothing before
    reprocess_from changes. In a full build (or a model's first, or a unit test) it is `true`. -#}
{% macro reprocessed_periods(period_column="period_start", lookback_days=0) -%}
    {%- set first_period = reprocess_from() -%}
    {%- if is_reprocessing() -%}
        {{ period_column }} >= {{ first_period }} - to_days(cast({{ lookback_days }} as integer))
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The first period an incremental run rebuilds, as a timestamp (`-infinity` in a full build):
    what int_periods_reopened decided, or var `reprocess_from_date` (a day; Dagster partitions
    and `retail-anomaly backfill` set it) if earlier. -#}
{% macro reprocess_from() -%}
    {%- if is_reprocessing() -%}
        least(
            (select reprocess_from from {{ ref("int_periods_reopened") }}),
            {{ requested_reprocess_from() }}
        )
    {%- else -%}
        {#- referenced anyway, so that parsing records the dependency of every model that
            reprocesses (unit tests have only their given inputs) -#}
        {%- if model.resource_type != "unit_test" -%}
            {%- do ref("int_periods_reopened") -%}
        {%- endif -%}
        '-infinity'::timestamp
    {%- endif -%}
{%- endmacro %}

{#- The first day var `reprocess_from_date` asks to rebuild, as a timestamp (`infinity` when unset). -#}
{% macro requested_reprocess_from() -%}
    {%- set requested = var("reprocess_from_date", none) -%}
    {{ return("cast(cast('" ~ requested ~ "' as date) as timestamp)" if requested else "'infinity'::timestamp") }}
{%- endmacro %}

{#- A decided first period and its reason with var `reprocess_from_date` on top: the earlier
    of the two, and `partition_requested` when it is the requested day (two columns). -#}
{% macro with_requested_reprocess_from(reprocess_from, reason) -%}
    least({{ reprocess_from }}, {{ requested_reprocess_from() }}) as reprocess_from,
    case when {{ requested_reprocess_from() }} < {{ reprocess_from }} then 'partition_requested' else {{ reason }} end as reason,
{%- endmacro %}

{#- An incremental run of an existing table (unit tests always build from their given rows). -#}
{% macro is_reprocessing() -%}
    {{ return(model.resource_type != "unit_test" and is_incremental()) }}
{%- endmacro %}

{#- Incremental strategy `reprocess_periods`: replace the reopened periods. Deleting by range,
    not by key, also removes rows a correction made obsolete. -#}
{% macro get_incremental_reprocess_periods_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ arg_dict["target_relation"] }}
    where {{ reprocessed_periods() }};

    insert into {{ arg_dict["target_relation"] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict["temp_relation"] }}
{%- endmacro %}
