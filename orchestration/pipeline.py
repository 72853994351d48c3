"""Run the whole job in-process: what `retail-anomaly run` and the tests call."""

import os
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterInstance, materialize
from dagster._utils.error import SerializableErrorInfo

from orchestration.resources import WarehouseResource
from orchestration.settings import Settings


@dataclass
class PipelineResult:
    success: bool
    settings: Settings
    asset_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _instance() -> DagsterInstance:
    # With DAGSTER_HOME set, runs are recorded there and show in the Dagster UI's history.
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def _root_cause(error: SerializableErrorInfo) -> str:
    """The innermost error: Dagster wraps what went wrong in its own step error."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_pipeline(settings: Settings) -> PipelineResult:
    """Materialise every asset once, in one process, against the given paths."""
    # Imported here so that generating demo data does not pay for parsing dbt.
    from orchestration.definitions import all_assets, build_resources

    settings.export_to_env()
    warehouse = WarehouseResource(data_dir=str(settings.data_dir), landing_dir=str(settings.landing_dir))
    with _instance() as instance:
        result = materialize(
            all_assets, resources=build_resources(warehouse), instance=instance, raise_on_error=False
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
    return PipelineResult(success=result.success, settings=settings, asset_metadata=metadata, failures=failures)
