"""The landing-folder sensor starts a run for new files only; the schedules target the job."""

from pathlib import Path

from dagster import RunRequest, SkipReason, build_sensor_context

from orchestration.automation import build_landing_sensor, build_schedules
from orchestration.definitions import retail_anomaly_job
from orchestration.resources import WarehouseResource


def evaluate(landing: Path, cursor: str | None) -> tuple[list[RunRequest], SkipReason | None, str | None]:
    sensor = build_landing_sensor(retail_anomaly_job)
    warehouse = WarehouseResource(data_dir=str(landing.parent / "data"), landing_dir=str(landing))
    context = build_sensor_context(cursor=cursor, resources={"warehouse": warehouse})
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
    again, skip, same_cursor = evaluate(landing, cursor=cursor)
    assert again == [] and "no new files" in skip and same_cursor in (None, cursor)

    (landing / "email").mkdir()
    (landing / "email" / "events.jsonl").write_text("{}\n")
    after_new_file, _, new_cursor = evaluate(landing, cursor=cursor)
    assert len(after_new_file) == 1 and new_cursor != cursor
    assert after_new_file[0].run_key != first[0].run_key


def test_schedules_run_the_whole_job_in_utc() -> None:
    schedules = {schedule.name: schedule for schedule in build_schedules(retail_anomaly_job)}
    assert set(schedules) == {"hourly_refresh", "daily_refresh"}
    assert all(schedule.job_name == retail_anomaly_job.name for schedule in schedules.values())
    assert all(schedule.execution_timezone == "UTC" for schedule in schedules.values())
