{#-
    How far `value` sits from `expected` in units of the cell's noise (the z every detector
    reports), and its inverse, the edges of the band.

    Most cells: (value - expected) / scale.

    A count whose scale is its Poisson floor sqrt(expected) (its history is no noisier than
    counting noise: a small segment's orders) is judged on the square-root scale instead:
    2 (sqrt(value) - sqrt(expected)), which has unit variance under Poisson noise whatever the
    mean. Counts are skewed, so a fall is rarer than a rise of the same size: from an
    expected 30.5 orders, 6 has a Poisson tail probability of 8e-8 (exact z -5.2) and 55 one of
    4e-5 (z 3.9). The Gaussian z calls both 4.4; the square-root scale -6.1 and 3.8. The band
    is asymmetric the same way: (sqrt(expected) -/+ z / 2)^2.

    A count noisier than Poisson (bursty mentions, a big shop's hours) keeps the Gaussian z:
    its skew is its own, not counting noise's.
-#}
{#- 1e-5: the scale and the expectation may have been rounded to 6 decimals on the way -#}
{% macro is_counting_noise(metric_kind, expected, scale) -%}
    ({{ metric_kind }} = 'count' and {{ expected }} >= 1 and {{ scale }} <= sqrt({{ expected }}) * (1 + 1e-5))
{%- endmacro %}

{% macro standardised_deviation(metric_kind, value, expected, scale) -%}
    case
        when {{ is_counting_noise(metric_kind, expected, scale) }} and {{ value }} >= 0
            then 2 * (sqrt({{ value }}) - sqrt({{ expected }}))
        else ({{ value }} - {{ expected }}) / {{ scale }}
    end
{%- endmacro %}

{#- The value whose standardised deviation is `z` (a negative z gives the lower edge). -#}
{% macro deviation_band_edge(metric_kind, expected, scale, z) -%}
    case
        when {{ is_counting_noise(metric_kind, expected, scale) }}
            then power(greatest(sqrt({{ expected }}) + ({{ z }}) / 2, 0), 2)
        else {{ expected }} + ({{ z }}) * {{ scale }}
    end
{%- endmacro %}
