"""Incremental dbt runs against full rebuilds, side by side on the same warehouse.

    python -m benchmarks.incremental [--days 120] [--scale 0.5] [--work-dir PATH]

Generates a demo, lands every week but the last and builds (untimed), then times on the same
warehouse: the run that adds the last week (incremental), a run with nothing new, and a
`--full-refresh` of the same data. dbt only (models and seeds, no tests): ingestion, publishing
and alerting cost the same either way. Ratios are what to compare; the machine is shared.
"""

import argparse
import os
import re
import shutil
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from orchestration.contract import SOURCES
from orchestration.dbt_project import DBT_EXECUTABLE
from orchestration.generator import generate
from orchestration.ingestion import ensure_raw_schema, ingest_source, load_labels
from orchestration.settings import ENV_DATA_DIR, PROJECT_DIR

_DAY_IN_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")


def land_until(generated: Path, landing: Path, last_day: str) -> None:
    """Copy the generated files named by a day up to `last_day` (and labels.csv) into `landing`;
    files already there are left alone."""
    for path in sorted(generated.rglob("*")):
        named_day = _DAY_IN_NAME.search(path.name)
        if path.is_file() and (path.name == "labels.csv" or (named_day and named_day.group() <= last_day)):
            target = landing / path.relative_to(generated)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                shutil.copy2(path, target)


def ingest(warehouse: Path, landing: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        ensure_raw_schema(con)
        for spec in SOURCES.values():
            ingest_source(con, spec, landing)
        load_labels(con, landing / "labels.csv")


def build_models(data_dir: Path, *args: str) -> float:
    """`dbt build` of models and seeds in `data_dir`'s warehouse; returns the wall time."""
    started = time.perf_counter()
    subprocess.run(
        [DBT_EXECUTABLE, "build", "--exclude", "resource_type:test", "resource_type:unit_test", *args,
         "--profiles-dir", str(PROJECT_DIR), "--project-dir", str(PROJECT_DIR),
         "--target-path", str(data_dir / "target"), "--log-path", str(data_dir / "logs"), "--quiet"],
        env={**os.environ, ENV_DATA_DIR: str(data_dir), "DO_NOT_TRACK": "1"},
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--work-dir", default=str(PROJECT_DIR / "benchmarks" / ".work" / "incremental"))
    args = parser.parse_args()

    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    generated, data_dir = work / "generated", work / "data"
    end = date(2026, 6, 30)
    generate(generated, days=args.days, seed=7, end_date=end, scale=args.scale)
    landing = data_dir / "landing"
    # weekly files are named by their Monday: everything before the last week first
    last_monday = end - timedelta(days=end.weekday())
    land_until(generated, landing, (last_monday - timedelta(days=1)).isoformat())
    ingest(data_dir / "warehouse.duckdb", landing)
    build_models(data_dir)

    land_until(generated, landing, end.isoformat())
    ingest(data_dir / "warehouse.duckdb", landing)
    timings = {
        "incremental run adding the last week": build_models(data_dir),
        "incremental run with nothing new": build_models(data_dir),
        "full refresh of the same data": build_models(data_dir, "--full-refresh"),
    }
    full = timings["full refresh of the same data"]
    print(f"{args.days} days at scale {args.scale}, dbt models and seeds only")
    for name, seconds in timings.items():
        print(f"  {name:<40} {seconds:6.1f} s  ({seconds / full:.0%} of the full refresh)")


if __name__ == "__main__":
    main()
