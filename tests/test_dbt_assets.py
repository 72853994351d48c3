"""The dbt assets: row counts reported once dbt has exited (even when dbt failed), the dbt
source tests of the load ledger run in the job, every dbt test check says what it checks, and a
run of older partitions is a backfill."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, Output, PartitionKeyRange, build_asset_context

from orchestration.assets.transformation import backfill_vars, current_partition_key, with_row_counts
from orchestration.resources import WarehouseResource


class _Context:
    """What with_row_counts asks of Dagster's context: the asset an output materialises."""

    @staticmethod
    def asset_key_for_output(output_name: str) -> AssetKey:
        return AssetKey(["marts", output_name])


def test_models_built_before_a_dbt_failure_still_report_their_row_counts(tmp_path: Path) -> None:
    warehouse = WarehouseResource(data_dir=str(tmp_path), landing_dir=str(tmp_path / "landing"))
    with warehouse.connect() as con:
        con.execute("create schema marts; create table marts.built as select * from range(3)")

    def dbt_events() -> Iterator[object]:
        yield Output(None, output_name="built")
        yield "a log line"
        raise RuntimeError("dbt failed on the next model")

    seen = []
    with pytest.raises(RuntimeError, match="next model"):
        for event in with_row_counts(_Context(), dbt_events(), warehouse):
            seen.append(event)
    # the log line passes through at once; the output waits for dbt to finish, then counts
    assert seen[0] == "a log line"
    assert seen[1].output_name == "built" and seen[1].metadata["dagster/row_count"].value == 3


def test_the_job_runs_the_load_ledger_source_tests_on_an_ingestion_asset() -> None:
    from orchestration.definitions import defs, retail_anomaly_job

    ledger = AssetKey(["raw", "load_ledger"])
    job = defs.resolve_job_def(retail_anomaly_job.name)
    checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys if key.asset_key == ledger}
    # they were left out (and logged as "not selected" in every run)
    assert "source_unique_ingestion_load_ledger_load_id" in checks
    assert defs.resolve_asset_graph().get(ledger).group_name == "ingestion"


def test_every_dbt_test_check_says_what_it_checks() -> None:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    descriptions = {key.name: graph.get_check_spec(key).description for key in graph.asset_check_keys}
    assert all(descriptions.values()), [name for name, text in descriptions.items() if not text]
    assert descriptions["not_null_anomaly_incidents_incident_id"] == "`incident_id` is never NULL."
    assert descriptions["relationships_marketing_insights_incident_id__incident_id__ref_anomaly_incidents_"] == (
        "`incident_id` exists as `incident_id` in anomaly_incidents."
    )


def test_a_run_of_older_partitions_backfills_from_its_first_day() -> None:
    backfill = ["--vars", '{"reprocess_from_date": "2026-06-01"}']
    # one day, as Dagster tags a run of one partition (the UI's "Launch 1 run"): no range tags
    assert backfill_vars(build_asset_context(partition_key="2026-06-01")) == backfill
    a_week = PartitionKeyRange("2026-06-01", "2026-06-07")
    assert backfill_vars(build_asset_context(partition_key_range=a_week)) == backfill
    # the current day is what every ordinary run names
    assert backfill_vars(build_asset_context(partition_key=current_partition_key())) == []
    assert backfill_vars(build_asset_context()) == []
