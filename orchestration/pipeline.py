"""Run the whole job in-process: what `retail-anomaly run` and the tests call."""

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance, EventLogEntry

# The tags Dagster gives a run of a range of partitions (a backfill from the UI). Not exported:
# execute_in_process takes one partition key, and a range only through these tags.
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration.resources import WarehouseResource
from orchestration.settings import Settings


@dataclass
class PipelineResult:
    success: bool
    settings: Settings
    asset_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # checks of warning severity that failed (a stale or empty source): the run goes on
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Progress:
    """Materialised assets so far out of all assets in the job, and what is running now."""

    done: int
    total: int
    current: str


ProgressCallback = Callable[[Progress], None]


def _instance() -> DagsterInstance:
    # With DAGSTER_HOME set, runs are recorded there and show in the Dagster UI's history.
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


class _ErrorInfo(Protocol):
    """What a failed step's event holds: a message and the error that caused it."""

    message: str
    cause: "_ErrorInfo | None"


def _root_cause(error: _ErrorInfo) -> str:
    """The innermost error: Dagster wraps what went wrong in its own step error."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def _partition_args(partition_range: tuple[str, str] | None) -> dict[str, Any]:
    """One day as the sensor, the schedules and the Dagster UI name it, or a range of days."""
    from orchestration.assets.transformation import current_partition_key

    first, last = partition_range or (current_partition_key(),) * 2
    if first == last:
        return {"partition_key": first}
    return {"tags": {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}}


def run_pipeline(
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    log_level: str = "INFO",
    partition_range: tuple[str, str] | None = None,
) -> PipelineResult:
    """Materialise every asset once, in one process, against the given paths. The run targets
    the current day's partition, or `partition_range` (first and last day): the detection
    assets also recompute from its first day on."""
    # Imported here so that generating demo data does not pay for parsing dbt.
    from orchestration.definitions import build_resources, defs, retail_anomaly_job

    settings.export_to_env()
    warehouse = WarehouseResource(data_dir=str(settings.data_dir), landing_dir=str(settings.landing_dir))
    job = defs.resolve_job_def(retail_anomaly_job.name)
    total = len(job.asset_layer.asset_graph.get_all_asset_keys())
    run_id = str(uuid.uuid4())  # Dagster's own run ids are uuid4 text too
    done = 0

    def track(entry: EventLogEntry) -> None:
        nonlocal done
        event = entry.dagster_event
        if on_progress is None or event is None:
            return
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            done += 1
            on_progress(Progress(done, total, event.asset_key.to_user_string()))
        elif event.event_type == DagsterEventType.STEP_START:
            on_progress(Progress(done, total, event.step_key))

    with _instance() as instance:
        instance.add_event_listener(run_id, track)
        result = job.execute_in_process(
            instance=instance,
            run_id=run_id,
            resources=build_resources(warehouse),
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            **_partition_args(partition_range),
        )
    metadata = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }
    failures = [
        f"{event.step_key}: {_root_cause(event.event_specific_data.error)}"
        for event in result.all_events
        if event.is_step_failure
    ]
    # A blocking check names itself in the step failure; its own description says why.
    failed_checks = {
        severity: [
            f"check {evaluation.asset_key.to_user_string()}/{evaluation.check_name} failed: {evaluation.description}"
            for evaluation in result.get_asset_check_evaluations()
            if not evaluation.passed and evaluation.severity == severity
        ]
        for severity in (AssetCheckSeverity.ERROR, AssetCheckSeverity.WARN)
    }
    return PipelineResult(
        success=result.success,
        settings=settings,
        asset_metadata=metadata,
        failures=failures + failed_checks[AssetCheckSeverity.ERROR],
        warnings=failed_checks[AssetCheckSeverity.WARN],
    )
