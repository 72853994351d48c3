"""The dbt project as Dagster sees it: one cached DbtProject and the translator."""

import re
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from dagster import AssetCheckSpec, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject

from orchestration.settings import PROJECT_DIR

# The dbt beside this interpreter, so a virtualenv works without being on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
# Files whose change makes the parsed manifest stale.
_DBT_INPUTS = ("dbt_project", "seeds", "dbt_project.yml", "profiles.yml")


@cache
def dbt_project() -> DbtProject:
    """The project, with a manifest that is current with the SQL and YAML on disk."""
    project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
    if _manifest_is_stale(project.manifest_path):
        dbt_cli(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project


def dbt_cli(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)


def _manifest_is_stale(manifest_path: Path) -> bool:
    if not manifest_path.exists():
        return True
    built_at = manifest_path.stat().st_mtime
    for name in _DBT_INPUTS:
        path = PROJECT_DIR / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built_at for f in files):
            return True
    return False


class RetailAnomalyTranslator(DagsterDbtTranslator):
    """Asset keys are `<schema>/<relation>`, so raw tables written by the ingestion assets
    (`raw/transactions`) are the same assets the dbt sources point at, and report tables read
    as they are queried (`reports/anomaly_events`). Groups follow the model folders."""

    def __init__(self) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_source_tests_as_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        relation = dbt_resource_props.get("identifier") or dbt_resource_props.get("alias") or dbt_resource_props["name"]
        return AssetKey([dbt_resource_props["schema"], relation])

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "source":
            return "ingestion"
        if resource_type == "seed":
            return "configuration"
        # fqn: [project, folder, ..., model]
        return dbt_resource_props["fqn"][1]


def describe_test(test: Mapping[str, Any]) -> str:
    """What a dbt test checks, in words, for its asset check in the Dagster UI: the test's own
    description, else one made from its generic test and arguments."""
    if test.get("description"):
        return test["description"]
    metadata = test.get("test_metadata") or {}
    name = metadata.get("name")
    kwargs = {key: value for key, value in (metadata.get("kwargs") or {}).items() if key != "model"}
    column = kwargs.pop("column_name", None)
    if name is None:  # a singular test: its SQL file says what it checks
        return f"dbt test {test['name']} ({test['original_file_path']}) returns no rows."
    subject = f"`{column}`" if column else "each row"
    match name:
        case "unique":
            return f"{subject} is unique."
        case "not_null":
            return f"{subject} is never NULL."
        case "accepted_values":
            return f"{subject} is one of: {', '.join(map(str, kwargs['values']))}."
        case "relationships":
            # ref('model') or source('source', 'table') -> model, source.table
            target = ".".join(re.findall(r"'([^']*)'", kwargs["to"])) or kwargs["to"]
            return f"{subject} exists as `{kwargs['field']}` in {target}."
        case "unique_combination":
            return f"One row per ({', '.join(kwargs['columns'])})."
    arguments = ", ".join(f"{key}={value}" for key, value in kwargs.items())
    return f"dbt test {name} on {subject}" + (f" ({arguments})." if arguments else ".")
