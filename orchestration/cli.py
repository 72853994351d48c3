"""`retail-anomaly`: generate demo data, run the job, score the detectors."""

import argparse
import sys
from contextlib import nullcontext, redirect_stdout
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.settings import DEFAULT_DATA_DIR, SettingsError, load_settings, parse_day

if TYPE_CHECKING:
    from orchestration.alerting import AlertSinksConfig
    from orchestration.pipeline import Progress


# Converters for argparse's `type=`: a bad value becomes argparse's usage error (exit code 2)
# naming the option, before any work.
def _day(text: str) -> date:
    try:
        return parse_day(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seed_list(text: str) -> list[int]:
    # numpy's generators take whole numbers from 0 up
    items = [item.strip() for item in text.split(",")]
    if not all(item.isascii() and item.isdigit() for item in items):
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers from 0, e.g. 505,606; got {text!r}")
    return [int(item) for item in items]


def _cmd_generate(args: argparse.Namespace) -> int:
    from orchestration.generator import generate

    try:
        summary = generate(Path(args.out), days=args.days, seed=args.seed, end_date=args.end, scale=args.scale)
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Generated demo landing data in {Path(args.out).resolve()}")
    print(summary)
    return 0


def _progress_bar(progress: "Progress") -> None:
    width = 30
    filled = width * progress.done // max(progress.total, 1)
    line = f"[{'#' * filled}{'.' * (width - filled)}] {progress.done}/{progress.total} {progress.current}"
    sys.stderr.write(f"\r{line[:100]:<100}")
    sys.stderr.flush()


def _cmd_run(args: argparse.Namespace, partition_range: tuple[str, str] | None = None) -> int:
    import yaml

    from orchestration.alerting import load_sinks_config
    from orchestration.pipeline import run_pipeline

    settings = load_settings(args.data_dir, args.landing)
    if not settings.landing_dir.is_dir():
        print(f"error: landing folder {settings.landing_dir} does not exist", file=sys.stderr)
        return 2
    # the alert step comes last: a broken sinks file would otherwise fail the run after the build
    try:
        sinks = load_sinks_config(settings)
    except (OSError, ValueError, yaml.YAMLError) as error:
        print(f"error: alert sinks ({settings.alert_sinks_file or 'environment'}): {error}", file=sys.stderr)
        return 2
    show_bar = sys.stderr.isatty() and not args.verbose
    # dbt's own output (a thousand lines a run) goes to a file unless asked for: the summary
    # below is what a person or a calling script reads
    run_log = settings.data_dir / "logs" / "last_run.log"
    run_log.parent.mkdir(parents=True, exist_ok=True)
    with (nullcontext(sys.stdout) if args.verbose else run_log.open("w")) as output, redirect_stdout(output):
        result = run_pipeline(
            settings,
            on_progress=_progress_bar if show_bar else None,
            log_level="DEBUG" if args.verbose else "INFO" if not show_bar else "WARNING",
            partition_range=partition_range,
        )
    if show_bar:
        sys.stderr.write("\n")
    if not result.success:
        print("error: the run failed; nothing was published or alerted past the failing step:", file=sys.stderr)
        for failure in result.failures:
            print(f"  {failure}", file=sys.stderr)
        if not args.verbose:
            print(f"dbt's output: {run_log}", file=sys.stderr)
        return 1
    loads = {key: meta for key, meta in result.asset_metadata.items() if "new_rows" in meta}
    for key, meta in sorted(loads.items()):
        ignored = meta.get("files_ignored") or []
        print(
            f"Loaded {key}: {meta['new_rows']} new rows, {meta['quarantined_rows']} quarantined"
            + (f"; ignored {len(ignored)} file(s) of no landing format: {', '.join(ignored[:3])}" if ignored else "")
        )
    # warnings do not stop the run, but an empty or stale source (a mistyped landing folder)
    # must not pass unnoticed
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    alerts = result.asset_metadata.get("alerts/alert_deliveries", {})
    print(f"Alerts sent: {alerts.get('sent', 0)} (failed {alerts.get('failed', 0)})")
    print(f"Warehouse:   {settings.warehouse_path}")
    print(f"Report:      {settings.report_dir / 'anomaly_report.html'}")
    print(f"Serving:     {settings.serving_dir} (Parquet files and reports.duckdb)")
    if not args.verbose:
        print(f"Run log:     {run_log} (dbt's output)")
    for line in _alert_file_lines(sinks):
        print(f"Alerts:      {line}")
    return 0


def _alert_file_lines(sinks: "AlertSinksConfig") -> list[str]:
    """Where the JSON-lines sinks keep alerts, said only as far as it is true: a sink writes its
    file with the first alert, and the sink configuration may name another file or none."""
    from orchestration.alert_sinks import JsonlSink

    paths = [sink.path for sink in sinks.sinks if isinstance(sink, JsonlSink)]
    if not paths:
        return ["no JSON-lines file configured (see RETAIL_ANOMALY_ALERT_SINKS)"]
    return [str(path) if path.is_file() else f"none written yet (they would go to {path})" for path in paths]


def _cmd_backfill(args: argparse.Namespace) -> int:
    # Before the import: the partitions are built from the settings when it runs.
    load_settings(args.data_dir, args.landing)
    from orchestration.assets.transformation import daily_partitions

    # Partition keys are YYYY-MM-DD strings; argparse has already checked the format.
    start = args.start.isoformat()
    last = args.to.isoformat() if args.to else daily_partitions.get_last_partition_key()
    for day in (start, last):
        if not daily_partitions.has_partition_key(day):
            first = daily_partitions.get_first_partition_key()
            print(
                f"error: {day} is not a daily partition ({first} to {daily_partitions.get_last_partition_key()};"
                " set RETAIL_ANOMALY_PARTITIONS_START for earlier days)",
                file=sys.stderr,
            )
            return 2
    if start > last:
        print(f"error: --from {start} is after --to {last}", file=sys.stderr)
        return 2
    print(f"Backfilling {start} to {last}: the detection models recompute from {start} on")
    return _cmd_run(args, partition_range=(start, last))


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from orchestration.evaluation import evaluate, format_scorecard, scorecard_passes
    from orchestration.generator import check_options

    # The runs read the environment's settings (quarantine rate, freshness, partitions): a bad
    # one is reported now rather than after the first seed's data is generated, and so are
    # demo options the generator refuses (after it deleted the seed's old folder).
    load_settings()
    try:
        check_options(args.days, args.scale)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    scorecard = evaluate(args.seeds, days=args.days, scale=args.scale, work_dir=Path(args.work_dir), end_date=args.end)
    print(format_scorecard(scorecard))
    # Non-zero when a target is missed, so the scorecard can gate a change in CI.
    return 0 if scorecard_passes(scorecard) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retail-anomaly", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write deterministic demo landing data with labelled anomalies")
    generate.add_argument("--days", type=int, default=90, help="whole days to generate (default: %(default)s)")
    generate.add_argument(
        "--seed", type=int, default=7, help="random seed: the same options write the same files (default: %(default)s)"
    )
    generate.add_argument("--out", required=True, help="landing folder to write")
    generate.add_argument("--end", type=_day, help="last day covered, YYYY-MM-DD (default: yesterday, UTC)")
    generate.add_argument(
        "--scale", type=float, default=1.0, help="volume multiplier, 1.0 ≈ 400 orders a day (default: %(default)s)"
    )
    generate.set_defaults(handler=_cmd_generate)

    run = commands.add_parser("run", help="load new files, build and test every model, publish, report, alert")
    backfill = commands.add_parser(
        "backfill",
        help="a run that also recomputes the detection models' daily partitions from a day on",
        description="Like `run`, and the metric series, baselines and scores are recomputed from --from on"
        " (later days depend on them through their baselines). The same as a Dagster backfill of the"
        " dbt_detection partitions.",
    )
    backfill.add_argument("--from", dest="start", type=_day, required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument(
        "--to", type=_day, help="last partition of the backfill, YYYY-MM-DD (default: the latest)"
    )
    for command in (run, backfill):
        command.add_argument("--landing", help="landing folder (env RETAIL_ANOMALY_LANDING; default <data-dir>/landing)")
        command.add_argument(
            "--data-dir",
            # the project's folder, whatever the current folder is
            help=f"data directory (env RETAIL_ANOMALY_DATA_DIR; default {DEFAULT_DATA_DIR})",
        )
        command.add_argument(
            "--verbose",
            action="store_true",
            help="print every Dagster event and dbt's output instead of a progress bar"
            " (dbt's output otherwise goes to <data-dir>/logs/last_run.log)",
        )
    run.set_defaults(handler=_cmd_run)
    backfill.set_defaults(handler=_cmd_backfill)

    evaluate = commands.add_parser("evaluate", help="scorecard: detection and false-positive rates on fresh seeds")
    evaluate.add_argument(
        "--seeds",
        type=_seed_list,
        default="505,606",  # argparse converts a string default with `type` too
        help="comma-separated generator seeds; 101-404 were used for tuning (default: %(default)s)",
    )
    evaluate.add_argument("--days", type=int, default=180, help="days generated per seed (default: %(default)s)")
    evaluate.add_argument(
        "--end",
        type=_day,
        help="last day generated, YYYY-MM-DD (default: yesterday, UTC; the calendar moves the anomalies"
        " against weekdays and holidays, so pin it to compare two versions)",
    )
    evaluate.add_argument(
        "--scale", type=float, default=1.0, help="volume multiplier, as for generate (default: %(default)s)"
    )
    evaluate.add_argument(
        "--work-dir",
        default="data/evaluation",
        help="folder for the seeds' data: its seed_<seed> folders are deleted and generated anew"
        " (default: %(default)s, in the current folder)",
    )
    evaluate.set_defaults(handler=_cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except SettingsError as error:
        # a bad environment variable is the user's to fix: one line naming it, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
