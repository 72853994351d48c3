"""The dbt project as assets: every model, seed and test (tests become asset checks).

Three dbt invocations per run, in dependency order: preparation (seeds, staging and the
decision which periods to reopen), detection (the incremental metric series and scores,
partitioned by day) and reporting (everything downstream). A run reopens what new loads
touched; a backfill (a run for older partitions) also every day from its first one on. The
sensor, the schedules and `retail-anomaly run` name the current day's partition.
Runs always name partitions because Dagster cannot evaluate a partitioned asset's checks in a
run without one.
"""

import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Output,
    partition_loading_context,
)
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt_project import RetailAnomalyTranslator, dbt_project
from orchestration.resources import WarehouseResource
from orchestration.settings import load_settings

INCREMENTAL_MODELS = "config.materialized:incremental"
# the incremental models that rebuild the periods int_periods_reopened reopens; the staging
# models are incremental too, but grow by load, before the decision (tables in the same folders
# inherit the strategy, hence both conditions)
REPROCESSING_MODELS = f"{INCREMENTAL_MODELS},config.incremental_strategy:reprocess_periods"
REOPENED_PERIODS_KEY = AssetKey(["intermediate", "int_periods_reopened"])

# Days of the detection models' periods; the first day comes from RETAIL_ANOMALY_PARTITIONS_START.
daily_partitions = DailyPartitionsDefinition(start_date=load_settings().partitions_start, end_offset=1)


def current_partition_key(now: datetime | None = None) -> str:
    """The partition of the current day (UTC, or of `now`), which runs that backfill nothing target."""
    with partition_loading_context(effective_dt=now):
        return daily_partitions.get_last_partition_key()


def with_row_counts(
    context: AssetExecutionContext, events: Iterator[Any], warehouse: WarehouseResource
) -> Iterator[Any]:
    """Pass dbt's events through, holding model outputs until dbt has exited: DuckDB lets no
    one else open the file while dbt writes. Then each output gets its table's row count (and
    the reopened-periods decision its row); when dbt failed, the models it did build still
    report, before the failure."""
    outputs = []
    try:
        for event in events:
            if isinstance(event, Output):
                outputs.append(event)
            else:
                yield event
    except Exception:
        yield from _counted(context, outputs, warehouse)
        raise
    yield from _counted(context, outputs, warehouse)


def _counted(context: AssetExecutionContext, outputs: list[Output], warehouse: WarehouseResource) -> Iterator[Output]:
    with warehouse.connect() as con:
        for output in outputs:
            key = context.asset_key_for_output(output.output_name)
            schema, relation = key.path
            metadata = {"dagster/row_count": con.execute(f'select count(*) from "{schema}"."{relation}"').fetchall()[0][0]}
            if key == REOPENED_PERIODS_KEY:
                reason, reprocess_from = con.execute(
                    f'select reason, cast(reprocess_from as varchar) from "{schema}"."{relation}"'
                ).fetchall()[0]
                metadata |= {"reason": reason, "reprocess_from": reprocess_from}
            yield output.with_metadata({**output.metadata, **metadata})


def keep_parse_state(invocation_target: Path) -> None:
    """Make an invocation's parse state the one the next invocation starts from. dagster-dbt
    copies the project's `target/partial_parse.msgpack` into each invocation's own target
    folder; one parsed for another warehouse path (the set-up's `dbt parse`) is useless to dbt,
    which then parses the whole project again, in each of a run's three invocations."""
    state = invocation_target / "partial_parse.msgpack"
    if state.exists():
        project = dbt_project()
        destination = project.project_dir / project.target_path / state.name
        staged = destination.with_name(f".{state.name}.{os.getpid()}")
        shutil.copyfile(state, staged)
        os.replace(staged, destination)  # atomic: a concurrent invocation reads a whole file


def backfill_vars(context: AssetExecutionContext) -> list[str]:
    """dbt `--vars` that make the detection models recompute from the run's first partition day
    when that day is a backfill's; none for an ordinary run. The current day's partition is
    what every ordinary run names: only older days are a backfill, of one day (a run Dagster
    tags with one partition key, as the UI's "Launch 1 run" does) or of a range."""
    partitioned = context.has_partition_key or context.has_partition_key_range
    if partitioned and context.partition_key_range.start < current_partition_key():
        return ["--vars", json.dumps({"reprocess_from_date": context.partition_key_range.start})]
    return []


def _build_dbt_assets(name: str, select: str, exclude: str | None = None, partitioned: bool = False):
    @dbt_assets(
        manifest=dbt_project().manifest_path,
        project=dbt_project(),
        dagster_dbt_translator=RetailAnomalyTranslator(),
        name=name,
        select=select,
        exclude=exclude,
        partitions_def=daily_partitions if partitioned else None,
        # a backfill of many days is one dbt run: it recomputes from the first day on anyway
        backfill_policy=BackfillPolicy.single_run() if partitioned else None,
    )
    def _dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource) -> Iterator[Any]:
        warehouse.settings()  # exports the warehouse path and masking salt for the dbt subprocess
        invocation = dbt.cli(["build", *backfill_vars(context)], context=context)
        yield from with_row_counts(context, invocation.stream(), warehouse)
        keep_parse_state(invocation.target_path)

    return _dbt_assets


dbt_preparation_assets = _build_dbt_assets(
    "dbt_preparation", select=f"+{INCREMENTAL_MODELS}", exclude=REPROCESSING_MODELS
)
dbt_detection_assets = _build_dbt_assets("dbt_detection", select=REPROCESSING_MODELS, partitioned=True)
dbt_reporting_assets = _build_dbt_assets("dbt_reporting", select="fqn:*", exclude=f"+{INCREMENTAL_MODELS}")
dbt_asset_definitions = [dbt_preparation_assets, dbt_detection_assets, dbt_reporting_assets]

REPORT_TABLE_KEYS = sorted(
    (key for key in dbt_reporting_assets.keys if key.path[0] == "reports"),
    key=lambda key: key.to_user_string(),
)
