"""When the job runs: on new landing files (sensor) and on the clock (schedules)."""

import hashlib

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorDefinition,
    SensorResult,
    SkipReason,
    sensor,
)

from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from orchestration.contract import LANDING_SUFFIXES, SOURCES
from orchestration.resources import WarehouseResource


def landing_fingerprint(warehouse: WarehouseResource) -> tuple[str, int]:
    """A digest of every landing file's path, size and modification time, and the file count."""
    landing = warehouse.settings().landing_dir
    entries = sorted(
        f"{path.relative_to(landing)}:{stat.st_size}:{stat.st_mtime_ns}"
        for source in SOURCES
        for path in (landing / source).rglob("*")
        if path.is_file() and path.name.endswith(LANDING_SUFFIXES)
        for stat in (path.stat(),)
    )
    return hashlib.sha256("\n".join(entries).encode()).hexdigest(), len(entries)


def build_landing_sensor(job: UnresolvedAssetJobDefinition) -> SensorDefinition:
    @sensor(
        name="landing_folder_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="Starts a run when files appear (or change) in the landing folder. Files already "
        "loaded are skipped by content hash, so a touched file costs a quick no-op run.",
    )
    def landing_folder_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource) -> SensorResult | SkipReason:
        fingerprint, file_count = landing_fingerprint(warehouse)
        if file_count == 0:
            return SkipReason("the landing folder holds no files")
        if fingerprint == context.cursor:
            return SkipReason(f"no new files among {file_count}")
        return SensorResult(run_requests=[RunRequest(run_key=fingerprint)], cursor=fingerprint)

    return landing_folder_sensor


def build_schedules(job: UnresolvedAssetJobDefinition) -> list[ScheduleDefinition]:
    return [
        ScheduleDefinition(
            name="hourly_refresh",
            job=job,
            cron_schedule="5 * * * *",
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.STOPPED,
            description="Every hour: refresh the hourly metrics as new events land.",
        ),
        ScheduleDefinition(
            name="daily_refresh",
            job=job,
            cron_schedule="30 1 * * *",
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.RUNNING,
            description="Every day after midnight UTC: close yesterday's daily metrics, publish and alert.",
        ),
    ]
