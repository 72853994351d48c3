"""The Dagster code location: ingestion → dbt → delivery, with dbt tests as asset checks."""

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from orchestration.assets.delivery import delivery_assets
from orchestration.assets.ingestion import ingestion_assets
from orchestration.assets.transformation import dbt_asset_definitions
from orchestration.automation import build_landing_sensor, build_schedules
from orchestration.dbt_project import dbt_cli, dbt_project
from orchestration.resources import WarehouseResource

all_assets = [*ingestion_assets, *dbt_asset_definitions, *delivery_assets]

# DuckDB allows one writer: every step runs in one process, one after another. Every check
# too: the dbt source tests of raw.load_ledger check an asset no step of the job materialises
# (the ingestion assets write it), which AssetSelection.all() alone leaves out.
retail_anomaly_job = define_asset_job(
    name="retail_anomaly_pipeline",
    selection=AssetSelection.all() | AssetSelection.all_asset_checks(),
    description="Load new landing files, build and test every dbt model, publish, report and alert.",
    executor_def=in_process_executor,
)


def build_resources(warehouse: WarehouseResource | None = None) -> dict[str, object]:
    return {
        "dbt": dbt_cli(dbt_project()),
        "warehouse": warehouse or WarehouseResource(),
    }


defs = Definitions(
    assets=all_assets,
    jobs=[retail_anomaly_job],
    sensors=[build_landing_sensor(retail_anomaly_job.name)],
    schedules=build_schedules(retail_anomaly_job.name),
    resources=build_resources(),
    executor=in_process_executor,
)
