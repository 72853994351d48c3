"""Shared fixtures: the shared data folder and one small end-to-end demo run per session."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import PROJECT_DIR, Settings, load_settings

# Real public data lives beside the repo (../shared/data); point elsewhere with this variable.
SHARED_DATA_DIR = Path(os.environ.get("RETAIL_ANOMALY_SHARED_DATA", PROJECT_DIR.parent / "shared" / "data"))

# A fixed end date keeps the demo (and so every assertion on it) deterministic.
DEMO_END = date(2026, 6, 30)
DEMO_DAYS = 70
DEMO_SCALE = 0.5
DEMO_SEED = 14  # six anomalies, among them a critical revenue spike


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA_DIR} (set RETAIL_ANOMALY_SHARED_DATA)")
    return SHARED_DATA_DIR


@dataclass
class DemoRun:
    settings: Settings
    result: object  # orchestration.pipeline.PipelineResult

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as con:
            return con.execute(sql).fetchall()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """Generate a small demo and run the whole job once; tests share the result."""
    from orchestration.generator import generate
    from orchestration.pipeline import run_pipeline

    data_dir = tmp_path_factory.mktemp("demo")
    settings = load_settings(data_dir=data_dir, landing_dir=data_dir / "landing")
    generate(settings.landing_dir, days=DEMO_DAYS, seed=DEMO_SEED, end_date=DEMO_END, scale=DEMO_SCALE)
    result = run_pipeline(settings)
    assert result.success, result.failures
    yield DemoRun(settings=settings, result=result)
