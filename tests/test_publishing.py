"""Publishing the report tables for BI: complete copies, swapped in atomically."""

from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from orchestration import publishing
from orchestration.publishing import SERVING_DATABASE, publish_reports
from report_warehouse import build_report_warehouse, execute

REPORT_TABLES = ("anomaly_events", "anomaly_incidents", "customer_anomalies", "detection_kpis", "marketing_insights")


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_report_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def serving_dir(tmp_path: Path) -> Path:
    return tmp_path / "serving"


def rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple]:
    return con.execute(f"select * from {relation} order by all").fetchall()


def warehouse_rows(warehouse: Path, table: str) -> list[tuple]:
    return execute(warehouse, f"select * from reports.{table} order by all")


def file_contents(folder: Path) -> dict[str, bytes | None]:
    """Every entry of the folder, so leftover staging folders show up too (as None)."""
    return {path.name: path.read_bytes() if path.is_file() else None for path in folder.iterdir()}


def test_publishes_every_report_table_as_parquet_and_duckdb(warehouse: Path, serving_dir: Path) -> None:
    result = publish_reports(warehouse, serving_dir)

    assert result.tables == REPORT_TABLES
    assert sorted(path.name for path in serving_dir.iterdir()) == sorted(
        [f"{table}.parquet" for table in REPORT_TABLES] + [SERVING_DATABASE]
    )
    with closing(duckdb.connect(str(serving_dir / SERVING_DATABASE), read_only=True)) as serving:
        for table in REPORT_TABLES:
            expected = warehouse_rows(warehouse, table)
            assert expected, f"fixture table {table} is empty"
            assert result.row_counts[table] == len(expected)
            # The file is named reports.duckdb, so reports.<table> reads as in the warehouse.
            assert rows(serving, f"reports.{table}") == expected
            assert rows(serving, f"read_parquet('{serving_dir / table}.parquet')") == expected


def test_republishing_unchanged_content_replaces_nothing(warehouse: Path, serving_dir: Path) -> None:
    publish_reports(warehouse, serving_dir)
    first = {path.name: path.stat().st_ino for path in serving_dir.iterdir()}

    result = publish_reports(warehouse, serving_dir)

    assert not result.changed
    assert {path.name: path.stat().st_ino for path in serving_dir.iterdir()} == first


def test_reader_opened_before_a_republish_keeps_the_previous_version(warehouse: Path, serving_dir: Path) -> None:
    publish_reports(warehouse, serving_dir)
    before = warehouse_rows(warehouse, "anomaly_events")
    reader = duckdb.connect(str(serving_dir / SERVING_DATABASE), read_only=True)
    try:
        execute(warehouse, "delete from reports.anomaly_events where severity = 'warning'")
        after = warehouse_rows(warehouse, "anomaly_events")
        assert len(after) < len(before)

        assert publish_reports(warehouse, serving_dir).changed
        assert rows(reader, "reports.anomaly_events") == before
    finally:
        reader.close()
    with closing(duckdb.connect(str(serving_dir / SERVING_DATABASE), read_only=True)) as fresh:
        assert rows(fresh, "reports.anomaly_events") == after
        assert rows(fresh, f"read_parquet('{serving_dir}/anomaly_events.parquet')") == after


def fail_on_call(monkeypatch: pytest.MonkeyPatch, target: object, name: str, failing_call: int) -> None:
    """Make `target.name` raise on its `failing_call`-th call and behave normally otherwise."""
    original = getattr(target, name)
    calls = {"count": 0}

    def patched(*args: object, **kwargs: object) -> object:
        calls["count"] += 1
        if calls["count"] == failing_call:
            raise OSError("simulated failure mid-publish")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, patched)


@pytest.mark.parametrize(
    ("target", "name"),
    [
        # The third quoted path is the second table's Parquet file: one table is already exported.
        (publishing, "quote_literal"),
        # The third replace happens after two published files were already swapped.
        (publishing.os, "replace"),
    ],
    ids=["while-staging", "while-swapping"],
)
def test_failure_mid_publish_leaves_previous_version_and_no_litter(
    warehouse: Path, serving_dir: Path, monkeypatch: pytest.MonkeyPatch, target: object, name: str
) -> None:
    publish_reports(warehouse, serving_dir)
    previous = file_contents(serving_dir)
    execute(warehouse, "update reports.anomaly_incidents set headline = headline || ' (updated)'")
    execute(warehouse, "delete from reports.anomaly_events where severity = 'warning'")
    fail_on_call(monkeypatch, target, name, failing_call=3)

    with pytest.raises(OSError, match="simulated failure"):
        publish_reports(warehouse, serving_dir)

    assert file_contents(serving_dir) == previous
    monkeypatch.undo()
    assert publish_reports(warehouse, serving_dir).changed


def test_publishing_a_selection_leaves_only_those_tables(warehouse: Path, serving_dir: Path) -> None:
    publish_reports(warehouse, serving_dir)

    result = publish_reports(warehouse, serving_dir, tables=["anomaly_incidents"])

    assert result.tables == ("anomaly_incidents",)
    assert sorted(path.name for path in serving_dir.iterdir()) == ["anomaly_incidents.parquet", SERVING_DATABASE]
    with closing(duckdb.connect(str(serving_dir / SERVING_DATABASE), read_only=True)) as serving:
        tables = serving.execute("select table_name from information_schema.tables").fetchall()
    assert tables == [("anomaly_incidents",)]


def test_unknown_table_fails_before_touching_the_serving_folder(warehouse: Path, serving_dir: Path) -> None:
    publish_reports(warehouse, serving_dir)
    previous = file_contents(serving_dir)

    with pytest.raises(ValueError, match="no_such_table"):
        publish_reports(warehouse, serving_dir, tables=["anomaly_events", "no_such_table"])

    assert file_contents(serving_dir) == previous
