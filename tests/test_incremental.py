"""Incremental dbt runs: a sequence of runs over growing landings gives the tables a full build
gives, late rows reopen only the periods from their day on, and a run with nothing new rebuilds
nothing."""

import json
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from benchmarks.incremental import ingest, land_until
from orchestration.cli import main
from orchestration.dbt_project import dbt_project
from orchestration.generator import generate
from orchestration.settings import ENV_MASKING_SALT, ENV_METRIC_CONFIG, PROJECT_DIR
from tests.dbt_runner import TEST_SALT, run_dbt

END = date(2026, 6, 30)
DAYS = 63
# The demo lands one file per source and week, named by the week's first day; the correction
# file (named by its week too) re-delivers rows of earlier days: late rows for the second run.
BATCH_ENDS = ("2026-05-18", "2026-06-08", "2026-06-29")


@dataclass(frozen=True)
class Warehouse:
    data_dir: Path

    @property
    def path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.execute(sql).fetchall()


def ingest_and_build(warehouse: Warehouse, landing: Path, salt: str = TEST_SALT) -> None:
    ingest(warehouse.path, landing)
    # models and seeds only: the data tests run in every other suite
    run_dbt(warehouse.data_dir, "build", "--exclude", "resource_type:unit_test", "resource_type:test", salt=salt)


def rows_differing(con: duckdb.DuckDBPyConnection, left: str, right: str, table: str, columns: str = "*") -> int:
    """Rows of `table` (its `columns`) in one attached database and not in the other, counted
    with duplicates."""
    return con.execute(
        f"""
        select count(*) from (
            (select {columns} from {left}.{table} except all select {columns} from {right}.{table})
            union all
            (select {columns} from {right}.{table} except all select {columns} from {left}.{table})
        )
        """
    ).fetchall()[0][0]


def _incremental_models() -> dict[str, str]:
    """Name -> schema of every incremental model in the project's manifest."""
    manifest = json.loads(dbt_project().manifest_path.read_text())
    return {
        node["name"]: node["schema"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }


INCREMENTAL_MODELS = _incremental_models()
# the staging models of the four landed sources, which grow by load
STAGED_BY_LOAD = {name for name, schema in INCREMENTAL_MODELS.items() if schema == "staging"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated") / "landing"
    generate(folder, days=DAYS, seed=14, end_date=END, scale=0.3)
    return folder


@pytest.fixture(scope="module")
def incremental_runs(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, list]:
    """Three runs, one per batch of weeks; the reprocess decision of each run is kept."""
    warehouse = Warehouse(tmp_path_factory.mktemp("incremental"))
    landing = warehouse.data_dir / "landing"
    decisions = []
    for last_week in BATCH_ENDS:
        land_until(generated, landing, last_week)
        ingest_and_build(warehouse, landing)
        decisions.append(warehouse.query("select reason, reprocess_from from intermediate.int_periods_reopened")[0])
    return warehouse, decisions


@pytest.fixture(scope="module")
def full_build(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("full"))
    land_until(generated, warehouse.data_dir / "landing", BATCH_ENDS[-1])
    ingest_and_build(warehouse, warehouse.data_dir / "landing")
    return warehouse


def test_the_project_has_incremental_models_for_staging_and_the_series_and_scores_of_metrics_and_customers() -> None:
    assert {
        "int_metric_series_unioned",
        "int_metric_series_prepared",
        "int_metric_scores_robust_z",
        "int_metric_scores_seasonal",
        "int_metric_series_scored",
        "int_metric_scores_level_shift",
        "fct_metric_observations",
        "int_customer_metric_observations",
        "int_customer_metrics_scored",
    } <= INCREMENTAL_MODELS.keys()
    assert STAGED_BY_LOAD == {
        "stg_transactions__order_lines",
        "stg_interactions__events",
        "stg_social__post_metrics",
        "stg_email__events",
    }


def test_each_run_reopens_from_the_earliest_day_its_new_loads_touch(incremental_runs) -> None:
    _, decisions = incremental_runs
    reasons = [reason for reason, _ in decisions]
    assert reasons == ["first_build", "new_loads", "new_loads"]
    # Each batch lands whole weeks from the Monday after the previous batch's last week; its
    # e-mail opens and clicks count for sends of a few days before, which reopens those days.
    second_from, third_from = decisions[1][1].date(), decisions[2][1].date()
    assert date(2026, 5, 18) <= second_from <= date(2026, 5, 25)
    assert date(2026, 6, 8) <= third_from <= date(2026, 6, 15)


def test_a_sequence_of_incremental_runs_gives_the_tables_of_a_full_build(incremental_runs, full_build) -> None:
    incremental, _ = incremental_runs
    with duckdb.connect() as con:
        con.execute(f"attach '{incremental.path}' as incremental (read_only)")
        con.execute(f"attach '{full_build.path}' as full_build (read_only)")
        for table, schema in INCREMENTAL_MODELS.items():
            rows = con.execute(f"select count(*) from full_build.{schema}.{table}").fetchall()[0][0]
            # a staged row names its load and file, which differ between the two warehouses
            columns = "columns(lambda c: c not in ('_load_id', '_file_path'))" if table in STAGED_BY_LOAD else "*"
            differing = rows_differing(con, "incremental", "full_build", f"{schema}.{table}", columns)
            assert rows > 0, table
            assert differing == 0, f"{schema}.{table}: {differing} of {rows} rows differ"


def test_a_run_with_nothing_new_reopens_nothing(incremental_runs) -> None:
    warehouse, _ = incremental_runs
    before = warehouse.query("select count(*), max(period_start) from marts.fct_metric_observations")
    ingest_and_build(warehouse, warehouse.data_dir / "landing")
    assert warehouse.query("select reason from intermediate.int_periods_reopened") == [("up_to_date",)]
    assert warehouse.query("select count(*), max(period_start) from marts.fct_metric_observations") == before


def test_a_file_without_rows_reopens_nothing(incremental_runs) -> None:
    warehouse, _ = incremental_runs
    landing = warehouse.data_dir / "landing"
    header = next((landing / "transactions").rglob("*.csv")).read_text().splitlines()[0]
    (landing / "transactions" / "header_only.csv").write_text(header + "\n")
    ingest_and_build(warehouse, landing)
    assert warehouse.query("select loaded_rows from raw.load_ledger order by load_id desc limit 1") == [(0,)]
    assert warehouse.query("select reason from intermediate.int_periods_reopened") == [("up_to_date",)]


def test_a_backfill_recomputes_the_detection_partitions_from_its_first_day(
    incremental_runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse, _ = incremental_runs
    # the salt of the builds before it (another salt would reopen everything)
    monkeypatch.setenv(ENV_MASKING_SALT, TEST_SALT)
    before = warehouse.query("select count(*), sum(hash(t)) from marts.fct_metric_observations as t")
    exit_code = main([
        "backfill", "--from", "2026-06-01", "--to", "2026-06-07",
        "--data-dir", str(warehouse.data_dir), "--landing", str(warehouse.data_dir / "landing"),
    ])  # fmt: skip
    assert exit_code == 0
    last_build = warehouse.query(
        "select reason, reprocessed_from from ops.incremental_builds order by built_at desc limit 1"
    )
    assert last_build == [("partition_requested", datetime(2026, 6, 1))]
    # the decision the Dagster UI shows says so too
    assert warehouse.query("select reason, reprocess_from from intermediate.int_periods_reopened") == last_build
    # the same inputs give the same rows
    assert warehouse.query("select count(*), sum(hash(t)) from marts.fct_metric_observations as t") == before


def test_a_backfill_outside_the_partitions_is_refused(incremental_runs, capsys: pytest.CaptureFixture) -> None:
    warehouse, _ = incremental_runs
    assert main(["backfill", "--from", "2010-12-01", "--data-dir", str(warehouse.data_dir)]) == 2
    assert "RETAIL_ANOMALY_PARTITIONS_START" in capsys.readouterr().err


def staging_code(warehouse: Warehouse) -> dict[str, str]:
    """The SQL each staging model of the source data ran in the warehouse's last dbt run."""
    results = json.loads((warehouse.data_dir / "target" / "run_results.json").read_text())["results"]
    models = {result["unique_id"].split(".")[-1]: result["compiled_code"] for result in results}
    code = {name: code for name, code in models.items() if name in STAGED_BY_LOAD}
    assert code.keys() == STAGED_BY_LOAD, "the run did not build every staging model"
    return code


def deliver_again(warehouse: Warehouse, source: str, where: str, changes: dict[str, object]) -> dict:
    """Lands a file re-delivering the first raw row of `source` matching `where`, with
    `changes`; returns the row as landed."""
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        cursor = con.execute(
            f"select * exclude (_load_id, _file_hash, _file_path, _line_number, _loaded_at) from raw.{source} where {where} limit 1"
        )
        names = [column[0] for column in cursor.description]
        row = {**dict(zip(names, cursor.fetchone())), **changes}
    row = {key: value.isoformat() if isinstance(value, datetime) else value for key, value in row.items()}
    path = warehouse.data_dir / "landing" / source / "redelivered" / f"{source}_again.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row, default=str) + "\n")  # decimals as text, as a CSV would give them
    return row


def test_staging_adds_only_new_loads_and_replaces_rows_delivered_again(incremental_runs) -> None:
    """An incremental run stages only the loads staging has not seen; a row delivered again
    replaces its staged version by natural key, also when part of the key is empty (an
    account-level social row has no post_id)."""
    warehouse, _ = incremental_runs
    social = deliver_again(warehouse, "social", "post_id is null", {"mentions": 4321})
    line = deliver_again(warehouse, "transactions", "status = 'completed'", {"status": "refunded"})
    staged_rows = "select count(*) from staging.{} as t"
    before = {model: warehouse.query(staged_rows.format(model))[0][0] for model in STAGED_BY_LOAD}

    ingest_and_build(warehouse, warehouse.data_dir / "landing")

    assert all("_load_id > (select" in code for code in staging_code(warehouse).values())
    assert {model: warehouse.query(staged_rows.format(model))[0][0] for model in STAGED_BY_LOAD} == before
    # the staged row counts did not grow: these rows replaced their earlier versions
    assert warehouse.query(
        f"""
        select count(*) from staging.stg_social__post_metrics
        where platform = '{social["platform"]}' and post_id is null and metric_at = '{social["metric_ts"]}'
            and mentions = 4321
        """
    ) == [(1,)]
    assert warehouse.query(
        f"""
        select count(*), min(status) from staging.stg_transactions__order_lines
        where order_id = '{line["order_id"]}' and line_number = {line["line_number"]}
        """
    ) == [(1, "refunded")]


def test_a_new_masking_salt_reopens_everything(incremental_runs) -> None:
    """A new salt restages every load, re-keying every staged customer at once; the
    incremental tables must follow, or a customer's old periods keep the old pseudonym and
    their history splits in two."""
    warehouse, _ = incremental_runs
    staged_customers = "select distinct customer_key from staging.stg_transactions__order_lines where customer_key is not null"
    keys_of_the_old_salt = set(warehouse.query(staged_customers))
    ingest_and_build(warehouse, warehouse.data_dir / "landing", salt="a-rotated-salt")
    assert warehouse.query("select reason from intermediate.int_periods_reopened") == [("code_or_config_changed",)]
    # staging restaged every load under the new salt
    assert not any("_load_id > (select" in code for code in staging_code(warehouse).values())
    assert keys_of_the_old_salt and not keys_of_the_old_salt & set(warehouse.query(staged_customers))
    stale_customers = """
        select count(*) from intermediate.int_customer_metric_observations
        where customer_key not in (select customer_key from marts.fct_customer_orders)
    """
    assert warehouse.query(stale_customers) == [(0,)]
    assert warehouse.query("select count(*) from intermediate.int_customer_metric_observations")[0][0] > 0


def compiled_code_fingerprint(project_dir: Path, data_dir: Path, *args: str) -> str:
    """The code fingerprint int_periods_reopened compiles to for a project and dbt arguments."""
    run_dbt(data_dir, "compile", "--select", "int_periods_reopened", "--project-dir", str(project_dir), *args)
    compiled = next((data_dir / "target" / "compiled").rglob("int_periods_reopened.sql")).read_text()
    return re.search(r"'([0-9a-f]{32})' as code_fingerprint", compiled).group(1)


def test_the_code_fingerprint_covers_macros_and_command_line_vars(tmp_path: Path) -> None:
    """An edited macro or a var given on the command line reopens everything, as an edited
    model does; where the project lives and where a backfill starts do not."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml", "dbt_project", "seeds"):
        copy = shutil.copytree if (PROJECT_DIR / name).is_dir() else shutil.copy2
        copy(PROJECT_DIR / name, project / name)
    data_dir = tmp_path / "data"
    fingerprint = compiled_code_fingerprint(project, data_dir)

    assert compiled_code_fingerprint(PROJECT_DIR, data_dir) == fingerprint
    assert compiled_code_fingerprint(project, data_dir, "--vars", '{"reprocess_from_date": "2026-06-01"}') == fingerprint
    assert compiled_code_fingerprint(project, data_dir, "--vars", '{"recurrence_limit": 4}') != fingerprint
    macro = project / "dbt_project" / "macros" / "detectors" / "standardised_deviation.sql"
    macro.write_text(macro.read_text().replace("{%- endmacro %}", "{#- an edit -#}\n{%- endmacro %}", 1))
    assert compiled_code_fingerprint(project, data_dir) != fingerprint


def test_a_thresholds_file_replaces_the_seed_and_reopens_everything(
    incremental_runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs last: it rebuilds the shared warehouse with other thresholds."""
    warehouse, _ = incremental_runs
    point_detector_flags = "select count(*) from marts.fct_metric_observations where fires_robust_z or fires_seasonal"
    flags_with_the_seed = warehouse.query(point_detector_flags)[0][0]
    seed = (PROJECT_DIR / "seeds" / "metric_config.csv").read_text().splitlines()
    header, default_row = seed[0].split(","), seed[1].split(",")
    assert default_row[0] == "default"
    # a warning bar only outages reach
    default_row[header.index("warning_z")] = "99.0"
    default_row[header.index("critical_z")] = "99.0"
    thresholds = tmp_path / "thresholds.csv"
    thresholds.write_text("\n".join([seed[0], ",".join(default_row)]) + "\n")
    monkeypatch.setenv(ENV_METRIC_CONFIG, str(thresholds))
    ingest_and_build(warehouse, warehouse.data_dir / "landing")
    assert warehouse.query("select reason from intermediate.int_periods_reopened") == [("code_or_config_changed",)]
    assert warehouse.query("select count(*) from intermediate.int_metric_configs_resolved") == [(1,)]
    assert warehouse.query(
        "select distinct warning_z, critical_z from marts.fct_metric_observations where grain = 'day'"
    ) == [(99.0, 99.0)]
    assert warehouse.query(point_detector_flags)[0][0] < flags_with_the_seed / 2


@pytest.mark.parametrize("reprocess_from", ["2026-06-03", "2026-06-10", "2026-06-17", "2026-06-24"])
def test_a_reopened_level_shift_chart_reads_back_far_enough(
    full_build: Warehouse, tmp_path: Path, reprocess_from: str
) -> None:
    """The chart on a reopened day sums its week, and each day of that week is scaled by the
    autocorrelation estimated over the weeks before it: rebuilt from any day, it is the chart
    of the full build."""
    reopened = Warehouse(tmp_path)
    shutil.copyfile(full_build.path, reopened.path)
    with duckdb.connect(str(reopened.path)) as con:
        # nothing new was loaded: only the requested day reopens
        con.execute("update intermediate.int_periods_reopened set reprocess_from = 'infinity'")
    run_dbt(
        reopened.data_dir, "run", "--select", "int_metric_scores_level_shift",
        "--vars", f"{{reprocess_from_date: '{reprocess_from}'}}",
    )  # fmt: skip
    with duckdb.connect() as con:
        con.execute(f"attach '{reopened.path}' as reopened (read_only)")
        con.execute(f"attach '{full_build.path}' as full_build (read_only)")
        table = "intermediate.int_metric_scores_level_shift"
        scaled = con.execute(
            f"select count(*) from full_build.{table}"
            f" where period_start >= '{reprocess_from}' and residual_autocorrelation > 0"
        ).fetchall()[0][0]
        differing = rows_differing(con, "reopened", "full_build", table)
    assert scaled > 0, "no reopened day of the chart allowed for autocorrelation: the case is not exercised"
    assert differing == 0
