"""The landing-folder sensor starts a run for new files only; the schedules target the job."""

from datetime import UTC, datetime
from pathlib import Path

from dagster import RunRequest, SkipReason, build_schedule_context, build_sensor_context

from orchestration.assets.transformation import current_partition_key
from orchestration.automation import build_landing_sensor, build_schedules
from orchestration.definitions import defs, retail_anomaly_job
from orchestration.resources import WarehouseResource


def evaluate(landing: Path, cursor: str | None) -> tuple[list[RunRequest], SkipReason | None, str | None]:
    sensor = build_landing_sensor(retail_anomaly_job.name)
    warehouse = WarehouseResource(data_dir=str(landing.parent / "data"), landing_dir=str(landing))
    context = build_sensor_context(
        cursor=cursor, resources={"warehouse": warehouse}, definitions=defs
    )
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.skip_message, result.cursor


def test_sensor_skips_an_empty_landing_folder(tmp_path: Path) -> None:
    (tmp_path / "landing" / "transactions").mkdir(parents=True)
    run_requests, skip, _ = evaluate(tmp_path / "landing", cursor=None)
    assert run_requests == [] and "no files" in skip


def test_sensor_requests_one_run_per_new_set_of_files(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "transactions").mkdir(parents=True)
    (landing / "transactions" / "orders.csv").write_text("order_id\nA\n")
    (landing / "transactions" / "notes.txt").write_text("not a landing file")

    first, _, cursor = evaluate(landing, cursor=None)
    assert len(first) == 1
    # the run targets today's partition of the detection assets
    assert first[0].partition_key == current_partition_key()
    again, skip, same_cursor = evaluate(landing, cursor=cursor)
    assert again == [] and "no new files" in skip and same_cursor in (None, cursor)

    (landing / "email").mkdir()
    (landing / "email" / "events.jsonl").write_text("{}\n")
    after_new_file, _, new_cursor = evaluate(landing, cursor=cursor)
    assert len(after_new_file) == 1 and new_cursor != cursor
    assert after_new_file[0].run_key != first[0].run_key


def test_schedules_run_the_whole_job_in_utc() -> None:
    schedules = {schedule.name: schedule for schedule in build_schedules(retail_anomaly_job.name)}
    assert set(schedules) == {"hourly_refresh", "daily_refresh"}
    assert all(schedule.job_name == retail_anomaly_job.name for schedule in schedules.values())
    assert all(schedule.execution_timezone == "UTC" for schedule in schedules.values())


def test_a_scheduled_run_targets_the_partition_of_its_day() -> None:
    daily = next(schedule for schedule in build_schedules(retail_anomaly_job.name) if schedule.name == "daily_refresh")
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 6, 30, 1, 30, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    run_requests = daily.evaluate_tick(context).run_requests
    assert [request.partition_key for request in run_requests] == ["2026-06-30"]
