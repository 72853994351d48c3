"""Paths and settings, resolved from environment variables with documented defaults.

Every entry point (CLI, Dagster definitions, tests) resolves its paths here, so that
`RETAIL_ANOMALY_DATA_DIR` and `RETAIL_ANOMALY_LANDING` mean the same thing everywhere.
"""

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Next to the code, not the current folder: every entry point finds the same warehouse.
DEFAULT_DATA_DIR = PROJECT_DIR / "data"
DEFAULT_MASKING_SALT = "retail-anomaly-dev-salt"

ENV_DATA_DIR = "RETAIL_ANOMALY_DATA_DIR"
ENV_LANDING = "RETAIL_ANOMALY_LANDING"
ENV_MASKING_SALT = "RETAIL_ANOMALY_MASKING_SALT"
ENV_ALERT_SINKS = "RETAIL_ANOMALY_ALERT_SINKS"
ENV_MAX_QUARANTINE_RATE = "RETAIL_ANOMALY_MAX_QUARANTINE_RATE"
ENV_FRESHNESS_HOURS = "RETAIL_ANOMALY_FRESHNESS_HOURS"
ENV_PARTITIONS_START = "RETAIL_ANOMALY_PARTITIONS_START"
# Read by dbt (int_metric_configs_resolved), documented here with the other settings.
ENV_METRIC_CONFIG = "RETAIL_ANOMALY_METRIC_CONFIG"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    masking_salt: str
    alert_sinks_file: Path | None
    # Share of a load's rows that may be quarantined before publishing and alerting stop.
    max_quarantine_rate: float = 0.05
    # A source whose newest event is older than this is reported stale (a warning).
    freshness_hours: float = 48.0
    # First day of the daily partitions of the detection assets (Dagster backfills).
    partitions_start: str = "2025-01-01"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def serving_dir(self) -> Path:
        return self.data_dir / "serving"

    @property
    def alerts_dir(self) -> Path:
        return self.data_dir / "alerts"

    @property
    def report_dir(self) -> Path:
        return self.data_dir / "report"

    @property
    def labels_path(self) -> Path:
        """Ground truth written by the demo generator next to the landing folders."""
        return self.landing_dir / "labels.csv"

    def export_to_env(self) -> None:
        """Make the resolved paths visible to dbt subprocesses (profiles.yml reads them)."""
        os.environ[ENV_DATA_DIR] = str(self.data_dir)
        os.environ[ENV_LANDING] = str(self.landing_dir)
        os.environ[ENV_MASKING_SALT] = self.masking_salt


class SettingsError(ValueError):
    """A setting from the environment that cannot be used. The message names the variable, the
    expected format and the value, so that the CLI can print it as the whole error. A ValueError,
    so that callers which already catch bad values keep doing so."""


# Only the one spelling: Python's fromisoformat also takes 20250101 and 2025-W01-1, which
# Dagster's partition keys (and people reading them) do not.
_DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> date:
    """A calendar day written YYYY-MM-DD; ValueError with a message naming the format otherwise."""
    if not _DAY_PATTERN.fullmatch(text):
        raise ValueError(f"expected a day as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the calendar (expected YYYY-MM-DD)") from None


def _number_from_env(name: str, default: float, expected: str, is_valid: Callable[[float], bool]) -> float:
    """The variable as a number, or the default when unset or empty (an empty line in .env
    means the default)."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan  # fails every comparison, so it gets the same message as 1.5
    if not is_valid(value):
        raise SettingsError(f"{name} must be {expected}, got {raw!r}")
    return value


def _partitions_start_from_env(default: str) -> str:
    raw = os.environ.get(ENV_PARTITIONS_START)
    if not raw:
        return default
    try:
        start = parse_day(raw)
    except ValueError:
        raise SettingsError(f"{ENV_PARTITIONS_START} must be a day as YYYY-MM-DD, got {raw!r}") from None
    # A later start leaves no partition for the current day, which every run names.
    if start > datetime.now(UTC).date():
        raise SettingsError(f"{ENV_PARTITIONS_START} must not be after today (UTC), got {raw!r}")
    return raw


def load_settings(data_dir: str | Path | None = None, landing_dir: str | Path | None = None) -> Settings:
    """Explicit arguments win over the environment, which wins over the defaults.

    Raises SettingsError for a variable whose value cannot be used, before anything runs."""
    resolved_data_dir = Path(data_dir or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR).resolve()
    resolved_landing = Path(
        landing_dir or os.environ.get(ENV_LANDING) or resolved_data_dir / "landing"
    ).resolve()
    sinks = os.environ.get(ENV_ALERT_SINKS)
    return Settings(
        data_dir=resolved_data_dir,
        landing_dir=resolved_landing,
        masking_salt=os.environ.get(ENV_MASKING_SALT) or DEFAULT_MASKING_SALT,
        alert_sinks_file=Path(sinks).resolve() if sinks else None,
        max_quarantine_rate=_number_from_env(
            ENV_MAX_QUARANTINE_RATE, 0.05, "a number between 0 and 1", lambda rate: 0 <= rate <= 1
        ),
        freshness_hours=_number_from_env(
            ENV_FRESHNESS_HOURS, 48.0, "a number of hours greater than 0, e.g. 48",
            lambda hours: 0 < hours < math.inf,
        ),
        partitions_start=_partitions_start_from_env("2025-01-01"),
    )
