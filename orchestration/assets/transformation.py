"""The dbt project as assets: every model, seed and test (tests become asset checks)."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt_project import RetailAnomalyTranslator, dbt_project
from orchestration.resources import WarehouseResource


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=RetailAnomalyTranslator(),
)
def retail_anomaly_dbt_assets(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    warehouse.settings()  # exports the warehouse path and masking salt for the dbt subprocess
    yield from dbt.cli(["build"], context=context).stream()


REPORT_TABLE_KEYS = sorted(
    (key for key in retail_anomaly_dbt_assets.keys if key.path[0] == "reports"),
    key=lambda key: key.to_user_string(),
)
