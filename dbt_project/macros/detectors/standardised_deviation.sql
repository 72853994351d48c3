{#-
    How far `value` sits from `expected` in units of the cell's noise (the z every detector
    reports), and its inverse, the edges of the band.

    Most cells: (value - expected) / scale.

    Counts are skewed, so they are read on the square-root scale, where the noise of a count
    is about scale / (2 sqrt(expected)): z = 2 sqrt(expected) (sqrt(value) - sqrt(expected)) / scale.
    - A count whose scale is its Poisson floor sqrt(expected) (a small segment's orders) is
      read so both ways: 2 (sqrt(value) - sqrt(expected)), unit variance under Poisson noise
      whatever the mean. From an expected 30.5 orders, 6 has a Poisson tail probability of
      8e-8 (exact z -5.2) and 55 one of 4e-5 (z 3.9); the Gaussian z calls both 4.4, the
      square-root scale -6.1 and 3.8.
    - A count noisier than Poisson is read so when it falls. A count cannot go below 0, so
      its lower tail is lighter than the Gaussian's: from 44 orders a day at scale 8.9, 7 is
      as rare as z -5.5 under the negative binomial of that mean and variance; the Gaussian
      z says -4.2 (a whole day with nothing would be -4.9), the square-root scale -6.0.
      A rise keeps the Gaussian z: the bursts of mentions and traffic have heavier tails than
      the negative binomial, and the square-root scale would shrink exactly them.
    The band follows: its lower edge is (sqrt(expected) - z scale / (2 sqrt(expected)))^2, its
    upper edge (sqrt(expected) + z / 2)^2 at the Poisson floor, else expected + z scale.
-#}
{#- 1e-5: the scale and the expectation may have been rounded to 6 decimals on the way -#}
{% macro is_counting_noise(metric_kind, expected, scale) -%}
    ({{ metric_kind }} = 'count' and {{ expected }} >= 1 and {{ scale }} <= sqrt({{ expected }}) * (1 + 1e-5))
{%- endmacro %}

{% macro standardised_deviation(metric_kind, value, expected, scale) -%}
    case
        when {{ is_counting_noise(metric_kind, expected, scale) }} and {{ value }} >= 0
            then 2 * (sqrt({{ value }}) - sqrt({{ expected }}))
        when {{ metric_kind }} = 'count' and {{ expected }} >= 1 and {{ value }} >= 0 and {{ value }} < {{ expected }}
            then 2 * sqrt({{ expected }}) * (sqrt({{ value }}) - sqrt({{ expected }})) / {{ scale }}
        else ({{ value }} - {{ expected }}) / {{ scale }}
    end
{%- endmacro %}

{#- The value whose standardised deviation is `z` (a negative z gives the lower edge). -#}
{% macro deviation_band_edge(metric_kind, expected, scale, z) -%}
    case
        when {{ is_counting_noise(metric_kind, expected, scale) }}
            then power(greatest(sqrt({{ expected }}) + ({{ z }}) / 2, 0), 2)
        when {{ metric_kind }} = 'count' and {{ expected }} >= 1 and ({{ z }}) < 0
            then power(greatest(sqrt({{ expected }}) + ({{ z }}) * {{ scale }} / (2 * sqrt({{ expected }})), 0), 2)
        else {{ expected }} + ({{ z }}) * {{ scale }}
    end
{%- endmacro %}
