{#- Parsers that reduce PII to the coarse part analysis needs; mask_pii calls them. -#}

{#-
    The network of an IP address, in one canonical text per network, so every address of a
    household or office network shares one pseudonym:
      IPv4 (and IPv6 ending in a dotted IPv4, e.g. ::ffff:203.0.113.7) → '203.0.113.0/24'
      IPv6 → its first three groups, `::` expanded, leading zeros dropped → '2001:db8:0::/48'
    A zone (`%eth0`) is dropped. Anything else is kept whole (it is hashed afterwards).
-#}
{% macro ip_network(column_sql) -%}
    {%- set address = "regexp_replace(lower(trim(" ~ column_sql ~ ")), '%.*$', '')" -%}
    case
        when nullif({{ address }}, '') is null then null
        when regexp_matches({{ address }}, '(^|:)(\d{1,3}\.){3}\d{1,3}$')
            then regexp_extract({{ address }}, '(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$', 1) || '.0/24'
        when contains({{ address }}, ':')
            then {{ ipv6_first_three_groups(address) }} || '::/48'
        else {{ address }}
    end
{%- endmacro %}


{#-
    `::` stands for as many zero groups as make eight: with a group put at either end when the
    address starts or ends with `::`, that is 8 minus the number of colons.
-#}
{% macro ipv6_first_three_groups(address_sql) -%}
    {%- set padded = "regexp_replace(regexp_replace(" ~ address_sql ~ ", '^:', '0:'), ':$', ':0')" -%}
    {%- set colons = "(length(" ~ padded ~ ") - length(replace(" ~ padded ~ ", ':', '')))" -%}
    {%- set expanded = "replace(" ~ padded ~ ", '::', ':' || repeat('0:', 8 - " ~ colons ~ "))" -%}
    regexp_replace(regexp_extract({{ expanded }}, '^[^:]*:[^:]*:[^:]*'), '(^|:)0+([0-9a-f])', '\1\2', 'g')
{%- endmacro %}


{#-
    A user agent reduced to `<device>/<browser>` (device: desktop, mobile, tablet, other;
    browser: app, edge, opera, samsung, firefox, chrome, safari, ie, other), or `bot` for
    crawlers, scripts and headless browsers. Families are shared by millions of people: not PII.
    `app` is a native app or an in-app web view (Instagram, Facebook, Android `wv`). TVs and
    consoles are device `other`; an Android browser that does not say Mobile is a tablet.
    Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
-#}
{% macro user_agent_family(column_sql) -%}
    {%- set agent = "lower(" ~ column_sql ~ ")" -%}
    case
        when nullif(trim({{ column_sql }}), '') is null then null
        when regexp_matches({{ agent }}, 'bot|crawl|spider|slurp|headless|phantomjs|python-requests|python-urllib|curl/|wget/|scrapy|go-http-client|facebookexternalhit')
            then 'bot'
        else
            case
                when regexp_matches({{ agent }}, 'smart-?tv|tizen|web0?os|playstation|xbox|nintendo|crkey|tv safari')
                    then 'other'
                when regexp_matches({{ agent }}, 'ipad|tablet|kindle|silk/|playbook')
                    or (starts_with({{ agent }}, 'mozilla/') and contains({{ agent }}, 'android') and not contains({{ agent }}, 'mobile'))
                    then 'tablet'
                when regexp_matches({{ agent }}, 'mobile|iphone|ipod|android|windows phone|blackberry|opera mini')
                    then 'mobile'
                when regexp_matches({{ agent }}, 'windows nt|macintosh|mac os x|x11|linux|cros')
                    then 'desktop'
                else 'other'
            end
            || '/'
            || case
                when not starts_with({{ agent }}, 'mozilla/') or regexp_matches({{ agent }}, 'instagram|fban|fbav|; wv\)')
                    then 'app'
                when regexp_matches({{ agent }}, 'edg/|edge/|edga/|edgios/') then 'edge'
                when regexp_matches({{ agent }}, 'opr/|opera') then 'opera'
                when contains({{ agent }}, 'samsungbrowser') then 'samsung'
                when regexp_matches({{ agent }}, 'firefox/|fxios/') then 'firefox'
                when regexp_matches({{ agent }}, 'chrome/|crios/|chromium/') then 'chrome'
                when contains({{ agent }}, 'safari/') then 'safari'
                when regexp_matches({{ agent }}, 'msie |trident/') then 'ie'
                else 'other'
            end
    end
{%- endmacro %}


{#-
    A link without query string and fragment (tracking parameters carry e-mails, and UTM
    parameters go with them), without user info before the host, and with every `/`-separated
    segment that holds PII replaced by `redacted` (see url_segment_holds_pii).
-#}
{% macro url_without_pii(column_sql) -%}
    {%- set without_query_and_user_info -%}
        regexp_replace(
            regexp_replace(trim({{ column_sql }}), '[?#].*$', ''),
            '^([a-z][a-z0-9+.-]*://)[^/]*@',
            '\1',
            'i'
        )
    {%- endset -%}
    nullif(
        array_to_string(
            list_transform(
                string_split({{ without_query_and_user_info }}, '/'),
                lambda url_segment: case
                    when {{ url_segment_holds_pii("url_segment") }} then 'redacted'
                    else url_segment
                end
            ),
            '/'
        ),
        ''
    )
{%- endmacro %}


{#-
    Whether one path segment holds PII, tested on its text decoded twice (`%40` and a
    double-encoded `%2540` both read `@`, `%2B49%20170` reads `+49 170`):
      - an `@`: an e-mail or an @handle;
      - 7 or more digits joined only by phone separators (space + - . ( ) _): a phone number,
        also a long numeric id, which is redacted all the same (not a date, YYYY-MM-DD);
      - text that does not decode (invalid UTF-8 such as `%E9`): it cannot be checked.
    So a redirect link carrying another URL, encoded into one segment, is judged by its content.
-#}
{% macro url_segment_holds_pii(segment_sql) -%}
    {%- set decoded = "try(url_decode(url_decode(" ~ segment_sql ~ ")))" -%}
    coalesce(
        contains({{ decoded }}, '@')
            or regexp_matches(
                regexp_replace({{ decoded }}, '[0-9]{4}-[0-9]{2}-[0-9]{2}', ' ', 'g'),
                '[0-9]([ ()+._-]*[0-9]){6}'
            ),
        true
    )
{%- endmacro %}
