"""Run the product's own detection models (dbt) on the NAB series.

The product scores every metric series through a chain of dbt models that starts at
`int_metric_series_unioned` and ends at `fct_metric_observations` (one scored row per cell).
Here the NAB files are written, shaped like `int_metric_series_unioned`, into a DuckDB file of
their own, and dbt builds exactly that chain (plus the seeds it reads) on top: the SQL that
scores the product's metrics, with its default configuration, is the SQL scored by NAB.

The product judges hourly and daily cells, so NAB rows become hour and day cells as the
product's own aggregation would make them (5-minute mention counts are summed, an hourly
ratio is averaged). A cell can only be judged once its period is over: its verdict lands on
the cell's last NAB row. A row is a detection when a cell ending on it is flagged.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from benchmarks.nab.corpus import NabSeries
from orchestration.settings import ENV_DATA_DIR, PROJECT_DIR

SERIES_MODEL = "int_metric_series_unioned"
OBSERVATIONS_MODEL = "fct_metric_observations"
THRESHOLDS_MODEL = "int_metric_configs_resolved"
# Every model between the series and the scored cells (the series itself is excluded: it is
# the input), the seeds they read and the thresholds in force.
DETECTION_SELECTION = (
    f"{SERIES_MODEL}+,+{OBSERVATIONS_MODEL}",
    f"+{OBSERVATIONS_MODEL},resource_type:seed",
    THRESHOLDS_MODEL,
)
GRAINS = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1)}
# Cells the ensemble judged (enough history, volume and a complete period).
JUDGED_STATUSES = ("anomaly", "recurring", "normal", "planned_peak")
FLAGS = [
    "is_anomaly", "is_critical", "fires_robust_z", "fires_seasonal", "fires_level_shift",
    "is_incident_alert", "is_critical_alert",
]  # fmt: skip
# The product's dbt var incident_gap_periods (default 1): events of a segment leaving at most
# this many empty periods of their grain between them are one incident.
INCIDENT_GAP_PERIODS = 1


@dataclass(frozen=True)
class SeriesMapping:
    """How a NAB category maps onto the product's metric vocabulary."""

    source: str
    metric: str
    metric_kind: str
    # How the value reads (the product's metric_unit): a count is a number, a cost is money.
    metric_unit: str
    # How the rows of one period make the cell's value: counts add up, a ratio is averaged.
    aggregate: str
    # The count itself is the volume behind a count; a ratio of unknown denominator has none.
    value_is_volume: bool


MAPPINGS: dict[str, SeriesMapping] = {
    # Twitter mentions of a company every 5 minutes = the product's social `mentions` count.
    "realTweets": SeriesMapping("social", "mentions", "count", "number", "sum", value_is_volume=True),
    # Hourly cost per click / per thousand impressions of an ad exchange: a ratio whose
    # denominator NAB does not give, so no sampling-noise floor and no volume guard can apply
    # (`measure` is no kind the product's noise floor knows: it adds 0).
    "realAdExchange": SeriesMapping("social", "ad_cost_ratio", "measure", "currency", "mean", value_is_volume=False),
}


def nab_rows(corpus: list[NabSeries]) -> pd.DataFrame:
    """Every NAB row in corpus order: series_key (the NAB file name), category, timestamp,
    value, and the file's first and last timestamp and row spacing."""
    frames = []
    for series in corpus:
        timestamps = pd.Series(series.labelled.timestamps)
        frames.append(
            pd.DataFrame(
                {
                    "series_key": series.name,
                    "category": series.category,
                    "timestamp": timestamps,
                    "value": series.values,
                    "first_timestamp": timestamps.iloc[0],
                    "last_timestamp": timestamps.iloc[-1],
                    "step": timestamps.diff().median(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def cell_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """One cell per file, grain and period, in the columns of int_metric_series_unioned
    (series_key = NAB file name|grain), plus last_row: the NAB row (index of `rows`) that
    closes the cell."""
    frames = []
    for grain, length in GRAINS.items():
        for category, category_rows in rows.groupby("category", sort=False):
            mapping = MAPPINGS[category]
            period_rows = category_rows.assign(
                period_start=category_rows["timestamp"].dt.floor(length), row=category_rows.index
            )
            cells = (
                period_rows.groupby(["series_key", "period_start"], sort=False)
                .agg(
                    value=("value", mapping.aggregate),
                    last_row=("row", "max"),
                    first_timestamp=("first_timestamp", "first"),
                    last_timestamp=("last_timestamp", "first"),
                    step=("step", "first"),
                )
                .reset_index()
            )
            volume = cells["value"] if mapping.value_is_volume else np.nan
            period_end = cells["period_start"] + length
            frames.append(
                cells.assign(
                    # The product's series are per grain: its models join on (series_key, period_start).
                    series_key=cells["series_key"] + "|" + grain,
                    observation_id=cells["series_key"] + "|" + grain + "|" + cells["period_start"].astype(str),
                    source=mapping.source,
                    metric=mapping.metric,
                    metric_kind=mapping.metric_kind,
                    metric_unit=mapping.metric_unit,
                    grain=grain,
                    segment_type="total",
                    segment_value=cells["series_key"].str.split("/").str[-1].str.removesuffix(".csv"),
                    period_end=period_end,
                    numerator=cells["value"],
                    denominator=volume,
                    volume=volume,
                    # The file's first and last periods are partial: the data starts or ends
                    # inside them.
                    is_complete_period=(cells["first_timestamp"] < cells["period_start"] + cells["step"])
                    & (cells["last_timestamp"] >= period_end - cells["step"]),
                ).drop(columns=["first_timestamp", "last_timestamp", "step"])
            )
    return pd.concat(frames, ignore_index=True)


def write_cells(warehouse: Path, cells: pd.DataFrame) -> None:
    """A fresh warehouse holding only the series table the detection chain starts from."""
    warehouse.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema intermediate")
        con.register("nab_cells", cells)
        con.execute(
            f"""
            create table intermediate.{SERIES_MODEL} as
            select
                series_key,
                observation_id,
                source,
                metric,
                metric_kind,
                metric_unit,
                grain,
                segment_type,
                segment_value,
                min(period_start) over (partition by series_key) as first_period_start,
                period_start,
                period_end,
                value,
                cast(numerator as decimal(38, 4)) as numerator,
                cast(denominator as decimal(38, 4)) as denominator,
                cast(volume as decimal(38, 4)) as volume,
                -- NAB series carry no campaign attribution
                cast(0 as double) as campaign_value,
                -- nor the values of the units behind a cell (the ratio's floor assumes cv 1)
                cast(null as double) as unit_value_dispersion,
                is_complete_period,
            from nab_cells
            """
        )


def build_detection(work_dir: Path, project_dir: Path = PROJECT_DIR) -> None:
    """dbt builds the detection chain of `project_dir` (the product's, unless an experiment
    says otherwise) in <work_dir>/warehouse.duckdb."""
    # profiles.yml puts the warehouse in $RETAIL_ANOMALY_DATA_DIR; target and logs stay in
    # the work dir so a benchmark never touches the project's own dbt artefacts. A separate
    # process, because dbt-duckdb keeps its connection to the warehouse open.
    args = [
        str(Path(sys.executable).parent / "dbt"),
        "build",
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--resource-type", "seed",
        "--resource-type", "model",
        "--select", *DETECTION_SELECTION,
        "--exclude", SERIES_MODEL,
        "--no-send-anonymous-usage-stats",
        "--quiet",
    ]  # fmt: skip
    completed = subprocess.run(
        args, env={**os.environ, ENV_DATA_DIR: str(work_dir)}, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"dbt build of the detection chain failed:\n{completed.stdout}{completed.stderr}")


def read_observations(warehouse: Path) -> pd.DataFrame:
    """Per scored cell: the ensemble's and each detector's flag and the judged |z| (0 when the
    cell was not judged)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(
            f"""
            select
                series_key,
                period_start,
                coalesce(is_anomaly, false) as is_anomaly,
                coalesce(severity = 'critical', false) as is_critical,
                coalesce(fires_robust_z, false) as fires_robust_z,
                coalesce(fires_seasonal, false) as fires_seasonal,
                coalesce(fires_level_shift, false) as fires_level_shift,
                case when status in {JUDGED_STATUSES} then coalesce(score, 0) else 0 end as score,
            from marts.{OBSERVATIONS_MODEL}
            """
        ).df()


def incident_alerts(events: pd.DataFrame, alerted: pd.Series, gap_periods: int = INCIDENT_GAP_PERIODS) -> pd.Series:
    """Which events raise an alert, as the product's incidents (int_incident_events) and
    alerting (once per incident) would while the data streams in.

    `events` are one segment's anomaly events (period_start, period_end, grain); an event
    reaches `gap_periods` periods of its grain past its end, and events whose spans touch are
    one incident, across grains (the hours of a flagged day are in its incident). An event is
    known when its period ends; it raises the alert when `alerted` holds for it and nothing of
    its incident, as known by then, has raised one."""
    length = events["grain"].map(GRAINS)
    reach = events["period_end"] + length * gap_periods
    # known in order of closing; of an hour and a day closing together, the hour first
    order = events.assign(length=length).sort_values(["period_end", "length"]).index
    incident_of: dict = {}
    alerted_incidents: set = set()
    alerts = pd.Series(False, index=events.index)
    for event in order:
        touching = {
            incident_of[known]
            for known in incident_of
            if events.at[event, "period_start"] <= reach[known] and events.at[known, "period_start"] <= reach[event]
        }
        incident = min(touching, default=event)
        if touching & alerted_incidents:
            alerted_incidents.add(incident)
        for known, known_incident in incident_of.items():
            if known_incident in touching:
                incident_of[known] = incident
        incident_of[event] = incident
        if alerted[event] and incident not in alerted_incidents:
            alerts[event] = True
            alerted_incidents.add(incident)
    return alerts


def verdicts_per_row(rows: pd.DataFrame, cells: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """The cells' verdicts on the NAB rows that close them: a flag when any cell closing on
    the row is flagged, the largest judged |z| as score; rows closing no cell get neither.
    Alerts: the events that open an incident (`is_incident_alert`), and the critical events
    that first make an incident critical (`is_critical_alert`, what the product alerts on)."""
    judged = cells[["series_key", "segment_value", "grain", "period_start", "period_end", "last_row"]].merge(
        observations, on=["series_key", "period_start"], how="left", validate="one_to_one"
    )
    judged["is_anomaly"] = judged["is_anomaly"].astype("boolean").fillna(False).astype(bool)
    judged["is_critical"] = judged["is_critical"].astype("boolean").fillna(False).astype(bool)
    judged["is_incident_alert"] = judged["is_critical_alert"] = False
    for _, events in judged[judged["is_anomaly"]].groupby("segment_value"):
        judged.loc[events.index, "is_incident_alert"] = incident_alerts(events, events["is_anomaly"])
        judged.loc[events.index, "is_critical_alert"] = incident_alerts(events, events["is_critical"])
    per_row = judged.groupby("last_row").agg(**{flag: (flag, "any") for flag in FLAGS}, score=("score", "max"))
    verdicts = rows[["series_key", "timestamp"]].join(per_row)
    verdicts[FLAGS] = verdicts[FLAGS].astype("boolean").fillna(False).astype(bool)
    verdicts["score"] = verdicts["score"].astype(float).fillna(0.0)
    return verdicts


def detect(corpus: list[NabSeries], work_dir: Path, project_dir: Path = PROJECT_DIR) -> pd.DataFrame:
    """Run the detection chain on the corpus: one row of verdicts per NAB row, in the
    corpus' file and row order."""
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse = work_dir / "warehouse.duckdb"
    rows = nab_rows(corpus)
    cells = cell_frame(rows)
    write_cells(warehouse, cells)
    build_detection(work_dir, project_dir)
    return verdicts_per_row(rows, cells, read_observations(warehouse))
