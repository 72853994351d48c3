{#- What an incremental run recomputes: one row, `reprocess_from` = the first day whose
    periods are rebuilt (and every later one). A period is reopened when a load that the last
    complete build had not seen adds or replaces a row that counts in it:
      - an order line, a social interval or an e-mail event in its own period, or the period
        of the earlier version it replaces (ingestion records both as the load's
        `reopens_from`);
      - an interaction event in the hour its session started (a late event can turn an old
        session into a purchase), an e-mail event in the hour the campaign was sent to that
        recipient (opens and clicks arrive days after the send);
      - the last day of every series the load extends, as the previous build left it
        (int_metric_series_unioned's own table): that day becomes complete, and the days up
        to the new data get their rows.
    Everything is reopened (`-infinity`) on a full refresh, on the first build, and when the
    project's models, macros or seeds (metric config, promotion calendar, analyst feedback),
    the masking salt, a var given on the command line, or the thresholds file in force
    (int_metric_configs_resolved), changed since the last complete build; nothing
    (`infinity`) when no load is new. Whole days are reopened, so a day's last hour and its
    day cell always agree. A backfill (var `reprocess_from_date`) reopens from its first day on
    top of this (`partition_requested`; macro reprocess_from applies it too, for a run of the
    detection models alone). -#}
{#- New loads of these sources extend these metric series (conversion rate counts orders). -#}
{%- set series_fed_by = {
    "transactions": ["transactions"],
    "interactions": ["interactions", "transactions"],
    "social": ["social"],
    "email": ["email"],
} -%}
{%- set previous_series = previous_state("int_metric_series_unioned") -%}

with

loads as (
    select * from {{ ref('stg_ingestion__loads') }}
),

interaction_events as (
    select * from {{ ref('stg_interactions__events') }}
),

email_events as (
    select * from {{ ref('stg_email__events') }}
),

metric_configs as (
    select * from {{ ref('int_metric_configs_resolved') }}
),

fingerprints as (
    -- the code, seeds and salt, and the thresholds in force (which may come from outside the project)
    select
        '{{ incremental_code_fingerprint() }}' as code_fingerprint,
        md5(string_agg(cast(metric_configs as varchar), '|' order by cast(metric_configs as varchar))) as config_fingerprint,
    from metric_configs
),

last_complete_build as (
    {{ last_complete_build() }}
),

seen_through as (
    select coalesce(max(through_load_id), -1) as through_load_id from last_complete_build
),

new_loads as (
    select
        load_id,
        source,
        -- social rows are stamped with the end of their interval: 00:00 counts in the day before
        case source when 'social' then reopens_from - interval 1 microsecond else reopens_from end as reopens_from,
    from loads
    -- a load without usable rows (a header only, every row quarantined) reopens nothing
    where load_id > (select through_load_id from seen_through)
        and loaded_rows > 0
),

reopened_sessions as (
    select min(started_at) as reopens_from
    from (
        select
            min(occurred_at) as started_at,
            max(_load_id) as last_load_id,
        from interaction_events
        group by session_id
    )
    where last_load_id > (select through_load_id from seen_through)
),

reopened_sends as (
    select min(sent_at) as reopens_from
    from (
        select
            min(occurred_at) as sent_at,
            max(_load_id) as last_load_id,
        from email_events
        group by campaign_id, recipient_key
    )
    where last_load_id > (select through_load_id from seen_through)
),

previous_last_days as (
    -- the last day of each series source as the previous build left it
    {% if previous_series is not none %}
    select
        source,
        max(period_start) as last_day,
    from {{ previous_series }}
    where grain = 'day'
    group by source
    {% else %}
    select null::varchar as source, null::timestamp as last_day where false
    {% endif %}
),

extended_series as (
    select min(last_day) as reopens_from
    from previous_last_days
    where false
    {% for series_source, load_sources in series_fed_by.items() %}
        or (source = '{{ series_source }}'
            and exists (select 1 from new_loads where source in ('{{ load_sources | join("', '") }}')))
    {% endfor %}
),

earliest_reopened as (
    select
        min(coalesce(reopens_from, '-infinity'::timestamp)) as reopens_from,
        count(*) as new_loads,
    from (
        select reopens_from from new_loads
        union all
        select reopens_from from reopened_sessions where reopens_from is not null
        union all
        select reopens_from from reopened_sends where reopens_from is not null
        union all
        select reopens_from from extended_series where reopens_from is not null
    )
),

build_reasons as (
    select
        (select max(load_id) from loads) as through_load_id,
        case
            when {{ "true" if flags.FULL_REFRESH else "false" }} then 'full_refresh'
            when last_complete_build.code_fingerprint is null then 'first_build'
            when last_complete_build.code_fingerprint <> fingerprints.code_fingerprint
                or last_complete_build.config_fingerprint is distinct from fingerprints.config_fingerprint
                then 'code_or_config_changed'
            when earliest_reopened.new_loads > 0 then 'new_loads'
            else 'up_to_date'
        end as reason,
        earliest_reopened.reopens_from,
        fingerprints.code_fingerprint,
        fingerprints.config_fingerprint,
    from earliest_reopened
    cross join fingerprints
    left join last_complete_build on true
),

decisions as (
    select
        coalesce(through_load_id, 0) as through_load_id,
        code_fingerprint,
        config_fingerprint,
        case
            when reason = 'new_loads' then date_trunc('day', reopens_from)
            when reason = 'up_to_date' then 'infinity'::timestamp
            else '-infinity'::timestamp
        end as reprocess_from,
        reason,
    from build_reasons
),

final as (
    select
        through_load_id,
        code_fingerprint,
        config_fingerprint,
        {{ with_requested_reprocess_from("reprocess_from", "reason") }}
    from decisions
)

select * from final
