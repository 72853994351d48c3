"""The shipped exchange-rate seed agrees with the demo generator."""

import csv

from orchestration.generator_reference import COUNTRY_CURRENCY, EUR_EXCHANGE_RATES
from orchestration.settings import PROJECT_DIR

EXCHANGE_RATES_PATH = PROJECT_DIR / "seeds" / "exchange_rates.csv"


def test_seed_rates_are_the_generators_so_demo_revenue_converts_back_to_eur() -> None:
    with EXCHANGE_RATES_PATH.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["currency", "valid_from", "units_per_reporting_currency"]
    rates = {row["currency"]: float(row["units_per_reporting_currency"]) for row in rows}
    assert len(rates) == len(rows), "one validity period per currency is shipped"
    assert rates == EUR_EXCHANGE_RATES
    assert set(COUNTRY_CURRENCY) <= set(rates)

