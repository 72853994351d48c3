"""dbt on the real project from tests, against a warehouse of the test's own."""

import os
import subprocess
import sys
from pathlib import Path

from orchestration.settings import ENV_DATA_DIR, ENV_MASKING_SALT, PROJECT_DIR

# The dbt beside this interpreter, so a virtualenv works without being on PATH.
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
TEST_SALT = "masking-test-salt"


def run_dbt(data_dir: Path, *args: str, salt: str = TEST_SALT) -> None:
    """`dbt <args>` with `data_dir` as the data folder (its warehouse.duckdb); target and logs
    stay in data_dir so a concurrent dbt run in the checkout is not disturbed."""
    env = {**os.environ, ENV_DATA_DIR: str(data_dir), ENV_MASKING_SALT: salt, "DO_NOT_TRACK": "1"}
    result = subprocess.run(
        [str(DBT_EXECUTABLE), *args, "--profiles-dir", str(PROJECT_DIR),
         "--target-path", str(data_dir / "target"), "--log-path", str(data_dir / "logs")],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
