"""The detection scorecard: fresh demo data per seed, the whole pipeline, KPIs per anomaly kind.

`retail-anomaly evaluate --seeds 101,202 --days 180` calls `evaluate` and prints
`format_scorecard`. Detection rates come from reports.detection_kpis_by_kind (each label
counted once, caught when any of its metric/segment rows was hit, at any severity), the
false-positive rate from reports.detection_kpis (false-positive cells / evaluated cells), both
for the `ensemble` detector, i.e. what the product publishes. Beside them, without a target:
the critical labels an alert went out for (caught in a critical incident).
"""

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.settings import ENV_ALERT_SINKS, ENV_DATA_DIR, ENV_LANDING, ENV_MASKING_SALT, load_settings

CRITICAL_DETECTION_TARGET = 0.95
DETECTION_TARGET = 0.85
FALSE_POSITIVE_TARGET = 0.005
ALL_KINDS = "all"
_COUNT_COLUMNS = (
    "labelled_anomalies",
    "detected_anomalies",
    "critical_labelled_anomalies",
    "critical_detected_anomalies",
    "critical_alerted_anomalies",
    "evaluated_cells",
    "false_positive_cells",
    "series_evaluated_cells",
    "series_false_positive_cells",
)

_KIND_KPIS_SQL = """
select
    kind,
    labelled_anomalies,
    detected_anomalies,
    critical_labelled_anomalies,
    critical_detected_anomalies,
    critical_alerted_anomalies,
    mean_time_to_detect_hours,
from reports.detection_kpis_by_kind
where detector = 'ensemble'
order by kind = 'all', kind
"""

# All evaluated cells, and those of the metric series alone (without the customer observations,
# which are many and rarely flagged, so they would flatter the overall rate).
_CELL_KPIS_SQL = """
select
    sum(evaluated_cells) filter (where source = 'all'),
    sum(false_positive_cells) filter (where source = 'all'),
    sum(evaluated_cells) filter (where source not in ('all', 'customers')),
    sum(false_positive_cells) filter (where source not in ('all', 'customers')),
from reports.detection_kpis
where basis = 'labels' and detector = 'ensemble' and metric = 'all'
"""
_CELL_COLUMNS = ("evaluated_cells", "false_positive_cells", "series_evaluated_cells", "series_false_positive_cells")


def evaluate(
    seeds: Sequence[int],
    days: int = 180,
    scale: float = 1.0,
    *,
    work_dir: Path,
    end_date: date | None = None,
) -> pd.DataFrame:
    """One row per (seed, anomaly kind, plus `all`): labels, detections, critical ones, mean time
    to detect; the `all` rows also carry the seed's evaluated and false-positive cells."""
    # Imported here: the generator and Dagster are heavy and only needed for a real run.
    from orchestration.generator import generate
    from orchestration.pipeline import run_pipeline

    frames = []
    for seed in seeds:
        data_dir = Path(work_dir).resolve() / f"seed_{seed}"
        # Fresh data every time: a warehouse left from an earlier run would skip the new files.
        shutil.rmtree(data_dir, ignore_errors=True)
        settings = load_settings(data_dir, data_dir / "landing")
        generate(settings.landing_dir, days=days, seed=seed, end_date=end_date, scale=scale)
        with _environment_restored():
            # Demo alerts must not reach the sinks configured for real runs.
            os.environ.pop(ENV_ALERT_SINKS, None)
            result = run_pipeline(settings)
        if not result.success:
            raise RuntimeError(f"pipeline failed for seed {seed}: " + "; ".join(result.failures))
        frames.append(read_kind_kpis(settings.warehouse_path).assign(seed=seed))
    columns = ["seed", *frames[0].columns.drop("seed")] if frames else ["seed"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def read_kind_kpis(warehouse_path: Path) -> pd.DataFrame:
    """The ensemble's detection per anomaly kind (and `all`) from a built warehouse."""
    with closing(duckdb.connect(str(warehouse_path), read_only=True)) as con:
        kinds = con.sql(_KIND_KPIS_SQL).df()
        cells = con.execute(_CELL_KPIS_SQL).fetchall()[0]
    is_all = kinds["kind"] == ALL_KINDS
    for column, count in zip(_CELL_COLUMNS, cells, strict=True):
        kinds[column] = pd.Series(count, index=kinds.index, dtype="float").where(is_all)
    return kinds


def format_scorecard(df: pd.DataFrame) -> str:
    """A plain-text table per anomaly kind, pooled over the seeds, with PASS/FAIL against the
    targets, then each seed's totals. The false-positive rate is shown over all evaluated cells
    and over the metric series alone; both must meet the target."""
    if df.empty:
        return "No evaluation results."
    pooled = _pooled(df, "kind")
    # `all` last, the kinds alphabetical
    pooled = pooled.loc[sorted(pooled.index, key=lambda kind: (kind == ALL_KINDS, kind))]
    seeds = ", ".join(str(seed) for seed in sorted(df["seed"].unique()))
    lines = [
        f"Detection scorecard (ensemble), seeds {seeds}",
        f"Targets: critical detection >= {CRITICAL_DETECTION_TARGET:.0%}, all detection >= {DETECTION_TARGET:.0%}, "
        f"false-positive rate <= {FALSE_POSITIVE_TARGET:.2%} of evaluated cells",
        "",
        f"{'kind':<30} {'critical caught':>17} {'critical alerted':>17} {'all caught':>17} "
        f"{'false positives':>26} {'metric series only':>26} {'hours to detect':>16}",
    ]
    for kind, row in pooled.iterrows():
        lines.append(
            f"{kind:<30} {_detection_cell(row, critical=True):>17} {_alerted_cell(row):>17} "
            f"{_detection_cell(row, critical=False):>17} "
            f"{_false_positive_cell(row.false_positive_cells, row.evaluated_cells):>26} "
            f"{_false_positive_cell(row.series_false_positive_cells, row.series_evaluated_cells):>26} "
            f"{_hours(row.mean_time_to_detect_hours):>16}"
        )
    lines += ["", "Per seed (all kinds):"]
    for seed, row in _pooled(df[df["kind"] == ALL_KINDS], "seed").iterrows():
        lines.append(
            f"  seed {seed}: critical {_detection_cell(row, critical=True)} (alerted {_alerted_cell(row)}), "
            f"all {_detection_cell(row, critical=False)}, "
            f"false positives {_false_positive_cell(row.false_positive_cells, row.evaluated_cells)} "
            f"(series only {_false_positive_cell(row.series_false_positive_cells, row.series_evaluated_cells)})"
        )
    lines += ["", f"Overall: {'PASS' if scorecard_passes(df) else 'FAIL'}"]
    return "\n".join(lines)


def scorecard_passes(df: pd.DataFrame) -> bool:
    """True when the `all` kinds, pooled over the seeds, meet every target (for a CLI exit code)."""
    all_kinds = df[df["kind"] == ALL_KINDS]
    if all_kinds.empty:
        return False
    totals = _pooled(all_kinds, "kind").iloc[0]
    verdicts = [
        _meets(totals.detected_anomalies, totals.labelled_anomalies, DETECTION_TARGET),
        _meets(totals.false_positive_cells, totals.evaluated_cells, FALSE_POSITIVE_TARGET, at_most=True),
        _meets(totals.series_false_positive_cells, totals.series_evaluated_cells, FALSE_POSITIVE_TARGET, at_most=True),
    ]
    # without critical labels there is no critical target to miss
    if totals.critical_labelled_anomalies > 0:
        verdicts.append(
            _meets(totals.critical_detected_anomalies, totals.critical_labelled_anomalies, CRITICAL_DETECTION_TARGET)
        )
    return all(verdict is True for verdict in verdicts)


def _pooled(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Counts summed over seeds; the mean time to detect weighted by the labels detected."""
    counts = df.assign(detection_hours=df.mean_time_to_detect_hours * df.detected_anomalies).groupby(by, sort=False)[
        [*_COUNT_COLUMNS, "detection_hours"]
    ].sum(min_count=1)
    counts["mean_time_to_detect_hours"] = counts.pop("detection_hours") / counts.detected_anomalies.where(
        counts.detected_anomalies > 0
    )
    return counts


def _meets(numerator: float, denominator: float, target: float, at_most: bool = False) -> bool | None:
    """Whether numerator / denominator meets the target; None when there is nothing to judge."""
    if pd.isna(denominator) or denominator == 0:
        return None
    rate = numerator / denominator
    return bool(rate <= target if at_most else rate >= target)


def _verdict(meets: bool | None) -> str:
    return "PASS" if meets else "FAIL"


def _detection_cell(row: pd.Series, critical: bool) -> str:
    detected, labelled = (
        (row.critical_detected_anomalies, row.critical_labelled_anomalies)
        if critical
        else (row.detected_anomalies, row.labelled_anomalies)
    )
    meets = _meets(detected, labelled, CRITICAL_DETECTION_TARGET if critical else DETECTION_TARGET)
    if meets is None:
        return "-"
    return f"{int(detected)}/{int(labelled)} {detected / labelled:.0%} {_verdict(meets)}"


def _alerted_cell(row: pd.Series) -> str:
    """Critical labels an alert went out for: no target, alerts are the product's choice of
    what is worth interrupting someone for (customer anomalies never alert)."""
    alerted, labelled = row.critical_alerted_anomalies, row.critical_labelled_anomalies
    if pd.isna(labelled) or labelled == 0:
        return "-"
    return f"{int(alerted)}/{int(labelled)} {alerted / labelled:.0%}"


def _false_positive_cell(false_positives: float, evaluated: float) -> str:
    meets = _meets(false_positives, evaluated, FALSE_POSITIVE_TARGET, at_most=True)
    if meets is None:
        return "-"
    return f"{int(false_positives)}/{int(evaluated)} {false_positives / evaluated:.2%} {_verdict(meets)}"


def _hours(hours: float) -> str:
    return "-" if pd.isna(hours) else f"{hours:.1f}"


@contextmanager
def _environment_restored() -> Iterator[None]:
    """run_pipeline exports its paths to the environment for dbt; put the caller's back."""
    names = (ENV_DATA_DIR, ENV_LANDING, ENV_MASKING_SALT, ENV_ALERT_SINKS)
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
