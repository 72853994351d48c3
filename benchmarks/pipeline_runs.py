"""The whole job with nothing new, this checkout against another, alternating.

    python -m benchmarks.pipeline_runs --baseline DIR [--days 63] [--rounds 3] [--work-dir PATH]

`DIR` is another checkout of the project (e.g. `git worktree add DIR HEAD~1`), run with this
checkout's Python environment. Generates one demo landing folder; each version builds its own
data directory from it once (untimed), then the rounds alternate `retail-anomaly run` with
nothing new between the two versions: ingestion finding nothing, the three dbt invocations
with their tests, publishing and alerting, what an hourly schedule pays when no file came.
Ratios are what to compare; the machine is shared.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from statistics import median

from orchestration.generator import generate
from orchestration.settings import PROJECT_DIR


def run_job(checkout: Path, landing: Path, data_dir: Path) -> float:
    """`retail-anomaly run` of `checkout` on `data_dir`; returns the wall time."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--landing", str(landing), "--data-dir", str(data_dir)],
        cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout), "DO_NOT_TRACK": "1"},
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="another checkout of the project")
    parser.add_argument("--days", type=int, default=63)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-dir", default=str(PROJECT_DIR / "benchmarks" / ".work" / "pipeline_runs"))
    args = parser.parse_args()

    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    generate(landing, days=args.days, seed=14, end_date=date(2026, 6, 30))
    # name -> (checkout, its own data directory)
    versions = {
        "baseline": (Path(args.baseline).resolve(), work / "baseline"),
        "this checkout": (PROJECT_DIR, work / "this_checkout"),
    }
    for checkout, data_dir in versions.values():
        run_job(checkout, landing, data_dir)

    seconds: dict[str, list[float]] = {name: [] for name in versions}
    for _ in range(args.rounds):
        for name, (checkout, data_dir) in versions.items():
            seconds[name].append(run_job(checkout, landing, data_dir))
    baseline = median(seconds["baseline"])
    print(f"{args.days} days of demo data, a run with nothing new, {args.rounds} alternated rounds")
    for name, times in seconds.items():
        listed = ", ".join(f"{t:.1f}" for t in times)
        print(f"  {name:<14} median {median(times):5.1f} s  ({median(times) / baseline:.0%} of the baseline)  [{listed}]")


if __name__ == "__main__":
    main()
