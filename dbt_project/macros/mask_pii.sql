{#-
    The one place PII is turned into something safe to keep outside the `raw` schema.

    Hashed kinds become a salted pseudonym
        '<prefix>_' || left(sha256(salt || ':' || kind || ':' || normalised_value), 16)
    so the same person gets the same key in every model (joins still work) while a different
    salt (var `masking_salt`, env RETAIL_ANOMALY_MASKING_SALT) gives unrelated keys. The kind is
    part of the hashed text so an e-mail and a handle with the same text get different keys.

    Reduced kinds keep only what analysis needs: `user_agent` → a `device/browser` family (or
    `bot`), `url` → the link without query string, fragment or user info, every path segment
    holding an e-mail, @handle or phone number (also percent-encoded) replaced by `redacted`.

    NULL stays NULL for every kind.
-#}

{% macro mask_pii(column_sql, kind) -%}
    {%- if kind in pii_pseudonym_prefixes() -%}
        {{ pii_pseudonym(pii_normalised_value(column_sql, kind), kind) }}
    {%- elif kind == "user_agent" -%}
        {{ user_agent_family(column_sql) }}
    {%- elif kind == "url" -%}
        {{ url_without_pii(column_sql) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("mask_pii: unknown PII kind '" ~ kind ~ "' for " ~ column_sql) }}
    {%- endif -%}
{%- endmacro %}


{% macro pii_pseudonym_prefixes() -%}
    {{ return({
        "customer_id": "cust",
        "email": "email",
        "phone": "phone",
        "ip": "ip",
        "handle": "acct",
    }) }}
{%- endmacro %}


{#- The canonical text of a value, so that spelling variants of one identity share a key. -#}
{% macro pii_normalised_value(column_sql, kind) -%}
    {%- if kind in ("customer_id", "email") -%}
        nullif(lower(trim({{ column_sql }})), '')
    {%- elif kind == "handle" -%}
        nullif(ltrim(lower(trim({{ column_sql }})), '@'), '')
    {%- elif kind == "phone" -%}
        nullif(regexp_replace({{ column_sql }}, '[^0-9]', '', 'g'), '')
    {%- elif kind == "ip" -%}
        {{ ip_network(column_sql) }}
    {%- endif -%}
{%- endmacro %}


{% macro pii_pseudonym(normalised_sql, kind) -%}
    {%- set salt = var("masking_salt") | string | replace("'", "''") -%}
    '{{ pii_pseudonym_prefixes()[kind] }}_' || left(sha256('{{ salt }}:{{ kind }}:' || {{ normalised_sql }}), 16)
{%- endmacro %}
