{#- Bookkeeping of complete incremental builds in `ops.incremental_builds`: which loads the
    last complete build had seen, which code, seeds and salt (`code_fingerprint`) and which
    thresholds (`config_fingerprint`) it ran with, and from which period it rebuilt and why
    (int_periods_reopened's reason, or `partition_requested` when the run's first partition day
    came before it). int_periods_reopened reads it to decide what a run recomputes, and the
    staging models whether they may add new loads only. A build counts as complete only when
    every model that reprocesses periods succeeded in it, so a failed or partial run
    (`--select`) leaves the bookkeeping alone and the next run reopens the same periods again. -#}

{% macro incremental_builds_relation() -%}
    {{ return(api.Relation.create(database=target.database, schema="ops", identifier="incremental_builds")) }}
{%- endmacro %}

{% macro create_incremental_builds() -%}
    create schema if not exists {{ incremental_builds_relation().without_identifier() }};
    create table if not exists {{ incremental_builds_relation() }} (
        through_load_id bigint not null,
        code_fingerprint varchar not null,
        reprocessed_from timestamp not null,
        reason varchar not null,
        built_at timestamp not null,
        config_fingerprint varchar
    );
    -- warehouses built before the thresholds had a fingerprint of their own
    alter table {{ incremental_builds_relation() }} add column if not exists config_fingerprint varchar;
{%- endmacro %}

{#- The last complete build's row, as a query. -#}
{% macro last_complete_build() -%}
    select *
    from {{ incremental_builds_relation() }}
    order by built_at desc, through_load_id desc
    limit 1
{%- endmacro %}

{#- A digest of everything the project's tables depend on besides the data: every model, seed
    and macro of the project, the sources' PII meta, the masking salt and reporting currency,
    and the vars given on the command line (but `reprocess_from_date`, which only says where a
    backfill starts). Any change reopens all periods and restages every load: new detection
    code or thresholds rescore history, and a new salt or masking rule re-keys every customer
    at once (periods left closed would keep the old pseudonyms). The digest does not depend
    on where the project lives. -#}
{% macro incremental_code_fingerprint() -%}
    {%- if not execute -%}
        {{ return("") }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for node in graph.nodes.values() if node.package_name == project_name and node.resource_type in ["model", "seed"] -%}
        {%- do parts.append(node.unique_id ~ "=" ~ node.checksum.checksum) -%}
    {%- endfor -%}
    {#- dbt's graph holds no macros: their code is in the context -#}
    {%- for name, value in context.items() if value.macro is defined and value.macro.package_name == project_name -%}
        {%- do parts.append("macro." ~ name ~ "=" ~ local_md5(value.macro.macro_sql)) -%}
    {%- endfor -%}
    {%- for source in graph.sources.values() if source.package_name == project_name -%}
        {%- for column in source.columns.values() if column.meta and column.meta.get("pii") -%}
            {%- do parts.append(source.unique_id ~ "." ~ column.name ~ "=" ~ column.meta["pii"] ~ ":" ~ column.meta.get("masked_name")) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for name in ["masking_salt", "reporting_currency"] -%}
        {%- do parts.append("var." ~ name ~ "=" ~ var(name)) -%}
    {%- endfor -%}
    {%- for name, value in (invocation_args_dict.get("vars") or {}).items() if name != "reprocess_from_date" -%}
        {%- do parts.append("cli_var." ~ name ~ "=" ~ tojson(value)) -%}
    {%- endfor -%}
    {{ return(local_md5(parts | sort | join("\n"))) }}
{%- endmacro %}

{#- The table a model of this project left in the warehouse, or none: read outside ref(), for
    state from an earlier build (a hook, or a model upstream of it) without a dependency. -#}
{% macro previous_state(model_name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.values() | selectattr("name", "equalto", model_name) | first -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}

{% macro record_incremental_build(results) -%}
    {%- if not execute -%}
        {{ return("") }}
    {%- endif -%}
    {%- set reprocessing_models = [] -%}
    {%- for node in graph.nodes.values() if node.package_name == project_name
        and node.resource_type == "model" and node.config.materialized == "incremental"
        and node.config.incremental_strategy == "reprocess_periods" -%}
        {%- do reprocessing_models.append(node.unique_id) -%}
    {%- endfor -%}
    {%- set succeeded = [] -%}
    {%- for result in results if result.node.unique_id in reprocessing_models and result.status == "success" -%}
        {%- do succeeded.append(result.node.unique_id) -%}
    {%- endfor -%}
    {%- if reprocessing_models and (succeeded | unique | list | length) == (reprocessing_models | length) -%}
        insert into {{ incremental_builds_relation() }} (
            through_load_id, code_fingerprint, reprocessed_from, reason, built_at, config_fingerprint
        )
        select
            through_load_id,
            code_fingerprint,
            {{ with_requested_reprocess_from("reprocess_from", "reason") }}
            now()::timestamp,
            config_fingerprint,
        from {{ previous_state("int_periods_reopened") }}
    {%- endif -%}
{%- endmacro %}
