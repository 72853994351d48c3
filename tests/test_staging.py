"""The staging YAML agrees with the contract, the raw schema, the architecture doc and itself."""

import ast
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from orchestration.contract import SOURCES
from orchestration.ingestion import ensure_raw_schema
from orchestration.settings import PROJECT_DIR

STAGING_DIR = PROJECT_DIR / "dbt_project" / "models" / "staging"
# the project's macros, and its generic tests (macros too, for dbt)
MACRO_DIRS = (PROJECT_DIR / "dbt_project" / "macros", PROJECT_DIR / "dbt_project" / "tests" / "generic")
ARCHITECTURE = PROJECT_DIR / "docs" / "architecture.md"
MASK_PII_KINDS = {"customer_id", "email", "phone", "ip", "user_agent", "handle", "url"}
# Staging source name → raw table, for every source the staging layer reads.
RAW_TABLES = {**{name: name for name in SOURCES}, "ground_truth": "anomaly_labels", "ingestion": "load_ledger"}


def load_yaml(pattern: str, directory: Path = STAGING_DIR) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, yaml.safe_load(path.read_text())) for path in sorted(directory.glob(pattern))]


def declared_sources() -> dict[str, dict[str, Any]]:
    """Source name → its single table, from the `_<source>__sources.yml` files."""
    sources = {}
    for path, document in load_yaml("*/_*__sources.yml"):
        for source in document["sources"]:
            assert path.name == f"_{source['name']}__sources.yml", path
            (table,) = source["tables"]
            sources[source["name"]] = table
    return sources


def declared_models() -> dict[str, dict[str, Any]]:
    return {model["name"]: model for _, document in load_yaml("*/_*__models.yml") for model in document["models"]}


def declared_unit_tests() -> list[dict[str, Any]]:
    return [test for _, document in load_yaml("*/_*__models.yml") for test in document.get("unit_tests", [])]


def test_every_raw_table_has_a_source() -> None:
    assert set(declared_sources()) == set(RAW_TABLES)


@pytest.mark.parametrize("source_name", sorted(RAW_TABLES))
def test_source_declares_the_raw_tables_columns_and_types(source_name: str) -> None:
    with duckdb.connect() as con:
        ensure_raw_schema(con)
        raw_columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = ? order by ordinal_position",
            [RAW_TABLES[source_name]],
        ).fetchall()
    table = declared_sources()[source_name]
    assert table["name"] == RAW_TABLES[source_name]
    declared = [(column["name"], column["data_type"].upper().replace(" ", "")) for column in table["columns"]]
    assert declared == [(name, data_type.replace(" ", "")) for name, data_type in raw_columns]
    assert all(column.get("description") for column in table["columns"])


@pytest.mark.parametrize("source_name", sorted(SOURCES))
def test_source_tests_follow_the_contract(source_name: str) -> None:
    spec = SOURCES[source_name]
    columns = {column["name"]: column for column in declared_sources()[source_name]["columns"]}
    for contract_column in spec.columns:
        tests = columns[contract_column.name].get("data_tests", [])
        # Ingestion fills defaults, so a defaulted column is never NULL either.
        never_null = contract_column.required or contract_column.default is not None
        assert ("not_null" in tests) == never_null, contract_column.name
        accepted = [test["accepted_values"]["arguments"]["values"] for test in tests if isinstance(test, dict)]
        assert accepted == ([list(contract_column.enum)] if contract_column.enum else []), contract_column.name


@pytest.mark.parametrize("source_name", sorted(SOURCES))
def test_exactly_the_contracts_pii_columns_are_masked(source_name: str) -> None:
    spec = SOURCES[source_name]
    for column in declared_sources()[source_name]["columns"]:
        meta = column.get("meta", {})
        is_contract_pii = column["name"] in spec.column_names and spec.column(column["name"]).pii
        assert ("pii" in meta) == is_contract_pii, column["name"]
        if is_contract_pii:
            assert meta["pii"] in MASK_PII_KINDS and meta["masked_name"], column["name"]


def test_label_customer_ids_are_masked_like_transaction_customer_ids() -> None:
    def meta(source: str, column: str) -> dict[str, str]:
        return next(c["meta"] for c in declared_sources()[source]["columns"] if c["name"] == column)

    assert meta("ground_truth", "customer_id") == meta("transactions", "customer_id")


def test_unit_tests_give_the_masking_macro_the_declared_pii_meta() -> None:
    """Unit tests compile without dbt's graph and pass the PII meta in; it must be the real one."""
    sources = declared_sources()
    unit_tests = declared_unit_tests()
    assert {test["model"] for test in unit_tests} == set(declared_models())
    masking_tests = [test for test in unit_tests if "graph" in test.get("overrides", {}).get("macros", {})]
    # every model with PII columns masks them
    assert {test["model"] for test in masking_tests} >= {
        name for name, model in declared_models().items() if any("_key" in c["name"] for c in model["columns"])
    }
    for test in masking_tests:
        (graph_source,) = test["overrides"]["macros"]["graph"]["sources"].values()
        declared_pii = {
            column["name"]: {"name": column["name"], "meta": column["meta"]}
            for column in sources[graph_source["source_name"]]["columns"]
            if "pii" in column.get("meta", {})
        }
        assert graph_source["columns"] == declared_pii, test["name"]
        assert graph_source["name"] == RAW_TABLES[graph_source["source_name"]], test["name"]


def documented_staging_columns() -> dict[str, list[str]]:
    text = ARCHITECTURE.read_text()
    documented = {}
    for model, cell in re.findall(r"^\| `(stg_\w+)` \| (.+) \|$", text, flags=re.M):
        # Cells read like "order_id, **customer_key**, link_path (URL without query string)".
        documented[model] = [re.sub(r"\(.*\)", "", name).strip(" *") for name in cell.split(",")]
    # The labels row says "the label columns with customer_key instead of customer_id"; the
    # raw schema section lists them first.
    label_columns = re.search(r"`(label_id, [^`]+)`", text).group(1)
    documented["stg_ground_truth__anomaly_labels"] = [
        "customer_key" if name.strip() == "customer_id" else name.strip() for name in label_columns.split(",")
    ]
    return documented


def test_staging_models_have_the_columns_the_architecture_doc_promises() -> None:
    models = declared_models()
    assert {name: [column["name"] for column in model["columns"]] for name, model in models.items()} == (
        documented_staging_columns()
    )
    for name in models:
        assert (STAGING_DIR / name.split("__")[0].removeprefix("stg_") / f"{name}.sql").is_file(), name


@pytest.mark.parametrize("model_name", sorted(declared_models()))
def test_staging_model_is_documented_and_tested(model_name: str) -> None:
    model = declared_models()[model_name]
    assert model.get("description")
    assert all(column.get("description") for column in model["columns"])
    natural_key_tests = [test for test in model.get("data_tests", []) if "unique_combination" in test]
    assert len(natural_key_tests) == 1
    assert any(test["model"] == model_name for test in declared_unit_tests())


def defined_macros() -> dict[str, tuple[Path, list[str]]]:
    """Macro name → (its folder, its argument names), from every `{% macro %}` / `{% test %}`.

    dbt names a generic test `test_<name>`. The arguments are read as a Python signature, so a
    default such as `x=none` or `unit="number"` drops out.
    """
    macros = {}
    for path in sorted(path for directory in MACRO_DIRS for path in directory.glob("**/*.sql")):
        for kind, name, arguments in re.findall(
            r"\{%-?\s*(macro|test)\s+(\w+)\s*\((.*?)\)\s*-?%\}", path.read_text(), flags=re.S
        ):
            signature = ast.parse(f"def _({arguments}): pass").body[0].args
            macros[f"test_{name}" if kind == "test" else name] = (path.parent, [arg.arg for arg in signature.args])
    return macros


def test_every_macro_is_documented_with_its_arguments() -> None:
    """Each macro has an entry in its folder's `_<folder>__macros.yml`: what dbt docs show."""
    documented = {}
    for path, document in (entry for directory in MACRO_DIRS for entry in load_yaml("**/_*__macros.yml", directory)):
        assert path.name == f"_{path.parent.name}__macros.yml", path
        for macro in document["macros"]:
            documented[macro["name"]] = (path.parent, macro)
    macros = defined_macros()
    # dbt only warns about an entry whose macro is gone
    assert set(documented) == set(macros)
    for name, (folder, arguments) in macros.items():
        documented_folder, macro = documented[name]
        assert documented_folder == folder, name
        assert macro.get("description", "").strip(), name
        assert [argument["name"] for argument in macro.get("arguments", [])] == arguments, name
        assert all(argument.get("description", "").strip() for argument in macro.get("arguments", [])), name
