"""Dagster resources, configured from environment variables (see .env.example)."""

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import ConfigurableResource

from orchestration.settings import Settings, load_settings


class WarehouseResource(ConfigurableResource):
    """Where the warehouse, landing folder and outputs live.

    Unset fields fall back to RETAIL_ANOMALY_DATA_DIR / RETAIL_ANOMALY_LANDING at run time,
    so the same definitions serve `dagster dev`, the CLI and tests.
    """

    data_dir: str | None = None
    landing_dir: str | None = None

    def settings(self) -> Settings:
        settings = load_settings(self.data_dir, self.landing_dir)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # dbt runs as a subprocess and reads the paths and the salt from the environment.
        settings.export_to_env()
        return settings

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(self.settings().warehouse_path))
        try:
            yield con
        finally:
            con.close()
