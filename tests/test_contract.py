"""orchestration/contract.py must say what docs/input-contract.md says."""

import re

import pytest

from orchestration.contract import SOURCES
from orchestration.settings import PROJECT_DIR


def documented_sources() -> dict[str, list[dict[str, str]]]:
    text = (PROJECT_DIR / "docs" / "input-contract.md").read_text()
    sources: dict[str, list[dict[str, str]]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        name = section.split()[0]
        rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| column")]
        sources[name] = [
            dict(zip(("column", "type", "required", "pii", "notes"), (cell.strip() for cell in row.strip("|").split("|"))))
            for row in rows
        ]
    return {name: rows for name, rows in sources.items() if name in SOURCES}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_code_and_document_list_the_same_columns(source: str) -> None:
    documented = documented_sources()[source]
    spec = SOURCES[source]
    assert [row["column"] for row in documented] == list(spec.column_names)
    for row in documented:
        column = spec.column(row["column"])
        assert column.required == (row["required"] == "yes"), row["column"]
        # link_url is not a PII column, but its notes warn that query strings may hold PII.
        documented_pii = row["pii"] != "" or "PII" in row["notes"]
        assert column.pii == documented_pii, row["column"]
        expected_type = {"timestamp": "timestamp", "integer": "integer", "decimal": "decimal"}.get(row["type"], "string")
        assert column.type == expected_type, row["column"]


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_natural_keys_match_the_document(source: str) -> None:
    text = (PROJECT_DIR / "docs" / "input-contract.md").read_text()
    match = re.search(rf"^## {source} — natural key \(([^)]*)\)", text, flags=re.M)
    assert match, source
    assert tuple(part.strip() for part in match.group(1).split(",")) == SOURCES[source].natural_key
