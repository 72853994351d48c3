"""When the job runs: on new landing files (sensor) and on the clock (schedules)."""

import hashlib

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

from orchestration.assets.transformation import current_partition_key
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


def build_landing_sensor(job_name: str) -> SensorDefinition:
    @sensor(
        name="landing_folder_sensor",
        job_name=job_name,
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
        return SensorResult(
            run_requests=[RunRequest(run_key=fingerprint, partition_key=current_partition_key())], cursor=fingerprint
        )

    return landing_folder_sensor


def _refresh_schedule(
    job_name: str, name: str, cron: str, status: DefaultScheduleStatus, description: str
) -> ScheduleDefinition:
    @schedule(
        name=name,
        job_name=job_name,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=status,
        description=description,
    )
    def refresh(context: ScheduleEvaluationContext) -> RunRequest:
        return RunRequest(partition_key=current_partition_key(context.scheduled_execution_time))

    return refresh


def build_schedules(job_name: str) -> list[ScheduleDefinition]:
    return [
        _refresh_schedule(
            job_name,
            "hourly_refresh",
            "5 * * * *",
            DefaultScheduleStatus.STOPPED,
            "Every hour: refresh the hourly metrics as new events land.",
        ),
        _refresh_schedule(
            job_name,
            "daily_refresh",
            "30 1 * * *",
            DefaultScheduleStatus.RUNNING,
            "Every day after midnight UTC: close yesterday's daily metrics, publish and alert.",
        ),
    ]
