{#- The smallest scale a deviation is judged against: the noise that sampling alone puts on a
    cell of this size. A baseline's MAD can be tiny by luck; counting noise cannot. This is
    the rate guard that makes "-50% on 4 sessions" unremarkable while "-50% on 4,000" is not.
      count   Poisson:   sqrt(expected), or for things that come in clumps (units in orders,
                         events in sessions) sqrt(expected x (1 + d)), d the clumping
      amount  compound Poisson, a sum of n units' values (revenue: of orders):
                         |expected| x sqrt(1 + cv^2) / sqrt(expected volume)
      rate    binomial:  sqrt(p (1 - p) / n), with p (1 - p) at least 1/n so p = 0 still has noise
      ratio   mean of n: |expected| x cv / sqrt(n)             (average order value)
    where n is the volume behind the observed cell and cv the coefficient of variation of one
    unit's value: sqrt(`unit_dispersion`) where the history measured it (how much the orders'
    values vary, see int_metric_series_unioned), else 1. A shop's orders often vary less than
    that (the demo's categories by 0.6-0.9), and assuming 1 hid their pricing errors. A sum of
    orders varies with both their number and their values (variance n E[x^2] = n mean^2 (1 + cv^2)),
    so revenue's floor grows with how much its orders vary. Likewise a count of clumped
    things varies by expected x sum(k^2) / sum(k) for clumps of k (d = sum(k^2) / sum(k) - 1,
    measured the same way; 0, plain Poisson, where nothing measured it): on the demo, page
    views in a session's hour and units in an order have d of about 2, so their floor is 1.7
    times the Poisson one. -#}
{% macro sampling_noise_floor(metric_kind, expected, observed_volume, expected_volume, unit_dispersion="null") -%}
    case {{ metric_kind }}
        when 'count' then sqrt(greatest({{ expected }}, 1) * (1 + coalesce({{ unit_dispersion }}, 0)))
        when 'amount' then abs({{ expected }}) * sqrt(1 + coalesce({{ unit_dispersion }}, 1)) / sqrt(greatest({{ expected_volume }}, 1))
        when 'rate' then sqrt(
            greatest(
                least(greatest({{ expected }}, 0), 1) * (1 - least(greatest({{ expected }}, 0), 1)),
                1.0 / greatest({{ observed_volume }}, 1)
            ) / greatest({{ observed_volume }}, 1)
        )
        when 'ratio' then abs({{ expected }}) * sqrt(coalesce({{ unit_dispersion }}, 1)) / sqrt(greatest({{ observed_volume }}, 1))
        else 0
    end
{%- endmacro %}
