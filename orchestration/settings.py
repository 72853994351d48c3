"""Paths and settings, resolved from environment variables with documented defaults.

Every entry point (CLI, Dagster definitions, tests) resolves its paths here, so that
`RETAIL_ANOMALY_DATA_DIR` and `RETAIL_ANOMALY_LANDING` mean the same thing everywhere.
"""

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
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


def load_settings(data_dir: str | Path | None = None, landing_dir: str | Path | None = None) -> Settings:
    """Explicit arguments win over the environment, which wins over the defaults."""
    resolved_data_dir = Path(data_dir or os.environ.get(ENV_DATA_DIR) or PROJECT_DIR / "data").resolve()
    resolved_landing = Path(
        landing_dir or os.environ.get(ENV_LANDING) or resolved_data_dir / "landing"
    ).resolve()
    sinks = os.environ.get(ENV_ALERT_SINKS)
    return Settings(
        data_dir=resolved_data_dir,
        landing_dir=resolved_landing,
        masking_salt=os.environ.get(ENV_MASKING_SALT) or DEFAULT_MASKING_SALT,
        alert_sinks_file=Path(sinks).resolve() if sinks else None,
        max_quarantine_rate=float(os.environ.get(ENV_MAX_QUARANTINE_RATE) or 0.05),
        freshness_hours=float(os.environ.get(ENV_FRESHNESS_HOURS) or 48.0),
        partitions_start=os.environ.get(ENV_PARTITIONS_START) or "2025-01-01",
    )
