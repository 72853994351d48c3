{#- Bookkeeping of complete incremental builds in `ops.incremental_builds`: which loads the
    last complete build had seen, which code and seeds it ran with, and from which period it
    rebuilt and why (int_periods_reopened's reason, or `partition_requested` when the run's
    first partition day came before it). int_periods_reopened
    reads it to decide what a run recomputes. A build counts as complete only when every
    incremental model of the project succeeded in it, so a failed or partial run (`--select`)
    leaves the bookkeeping alone and the next run reopens the same periods again. -#}

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
        built_at timestamp not null
    );
{%- endmacro %}

{#- A digest of every model and seed of the project and of the masking salt: a change to a
    model, to the metric config, the promotion calendar or the analyst feedback reopens all
    periods, and so does a new salt (staging re-keys every customer at once; periods left
    closed would keep the old pseudonyms). dbt's graph holds no macro code: after editing a
    macro (or another var), run with --full-refresh. -#}
{% macro incremental_code_fingerprint() -%}
    {%- if not execute -%}
        {{ return("") }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for node in graph.nodes.values() if node.package_name == project_name and node.resource_type in ["model", "seed"] -%}
        {%- do parts.append(node.unique_id ~ "=" ~ node.checksum.checksum) -%}
    {%- endfor -%}
    {%- do parts.append("var.masking_salt=" ~ var("masking_salt")) -%}
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
    {%- set incremental_models = [] -%}
    {%- for node in graph.nodes.values() if node.package_name == project_name
        and node.resource_type == "model" and node.config.materialized == "incremental" -%}
        {%- do incremental_models.append(node.unique_id) -%}
    {%- endfor -%}
    {%- set succeeded = [] -%}
    {%- for result in results if result.node.unique_id in incremental_models and result.status == "success" -%}
        {%- do succeeded.append(result.node.unique_id) -%}
    {%- endfor -%}
    {%- if incremental_models and (succeeded | unique | list | length) == (incremental_models | length) -%}
        {%- set requested_from = requested_reprocess_from() %}
        insert into {{ incremental_builds_relation() }}
        select
            through_load_id,
            code_fingerprint,
            least(reprocess_from, {{ requested_from }}),
            case when {{ requested_from }} < reprocess_from then 'partition_requested' else reason end,
            now()::timestamp,
        from {{ previous_state("int_periods_reopened") }}
    {%- endif -%}
{%- endmacro %}
