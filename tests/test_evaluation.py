"""Detection evaluation: the label-matching and false-positive rules (the real dbt SQL, compiled
and run on small synthetic upstream tables) and the scorecard built from the KPI tables."""

from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_runner import run_dbt
from orchestration import evaluation
from orchestration.cli import main
from orchestration.evaluation import format_scorecard, read_kind_kpis, scorecard_passes

EVALUATION_MODELS = (
    "int_label_rows",
    "int_label_flagged_cells",
    "int_label_detectors",
    "int_label_hits",
    "int_label_detections",
)

# Label A: the app channel is down 10:00-14:00 (orders and sessions rows, critical).
# Label B: a refund wave at total level on 12 Mar. Label C: one customer's outsized order.
LABELS_SQL = """
create table staging.stg_ground_truth__anomaly_labels as
select * from (values
    ('A', 'channel_outage', 'transactions', 'orders', 'channel', 'app', 'drop',
     timestamp '2026-03-10 10:00', timestamp '2026-03-10 14:00', true, null),
    ('A', 'channel_outage', 'interactions', 'sessions', 'channel', 'app', 'drop',
     timestamp '2026-03-10 10:00', timestamp '2026-03-10 14:00', true, null),
    ('B', 'refund_wave', 'transactions', 'refund_rate', 'total', 'all', 'spike',
     timestamp '2026-03-12 00:00', timestamp '2026-03-13 00:00', false, null),
    ('C', 'customer_outlier', 'transactions', 'customer_order_value', 'customer', 'cust_x', 'spike',
     timestamp '2026-03-15 09:00', timestamp '2026-03-15 10:00', false, 'cust_x')
) as labels (label_id, kind, source, metric, segment_type, segment_value, direction, start_ts, end_ts,
             is_critical, customer_key)
"""

# o1 the ensemble's app-sessions flag; o2 a seasonal-only verdict on total orders (not published);
# o3 a web refund flag inside B's window; o4 an unlabelled social flag; o5 the same, confirmed by
# an analyst; o6 a robust_z verdict on a low-volume cell (not evaluated).
OBSERVATIONS_SQL = """
create table marts.fct_metric_observations as
select
    observation_id, source, metric, segment_type, segment_value, grain, period_start,
    period_start + case grain when 'hour' then interval 1 hour else interval 1 day end as period_end,
    value, expected, status, is_evaluated, status = 'anomaly' as is_anomaly,
    case when status = 'anomaly' then 'warning' end as severity,
    case when status = 'anomaly' then case when value > expected then 'spike' else 'drop' end end as direction,
    fires_robust_z, fires_seasonal,
from (values
    ('o1', 'interactions', 'sessions', 'channel', 'app', 'hour', timestamp '2026-03-10 11:00', 2.0, 90.0, 'anomaly', true, true, false),
    ('o2', 'transactions', 'orders', 'total', 'all', 'day', timestamp '2026-03-10 00:00', 300.0, 400.0, 'normal', true, false, true),
    ('o3', 'transactions', 'refund_rate', 'channel', 'web', 'day', timestamp '2026-03-12 00:00', 0.2, 0.05, 'anomaly', true, true, true),
    ('o4', 'social', 'impressions', 'total', 'all', 'day', timestamp '2026-03-20 00:00', 9000.0, 3000.0, 'anomaly', true, true, true),
    ('o5', 'social', 'impressions', 'platform', 'tiktok', 'day', timestamp '2026-03-21 00:00', 5000.0, 1000.0, 'anomaly', true, false, true),
    ('o6', 'transactions', 'orders', 'total', 'all', 'day', timestamp '2026-03-25 00:00', 1.0, 3.0, 'low_volume', false, true, false)
) as cells (observation_id, source, metric, segment_type, segment_value, grain, period_start, value, expected,
            status, is_evaluated, fires_robust_z, fires_seasonal)
"""

CUSTOMERS_SQL = """
create table intermediate.int_customer_metrics_scored as
select
    observation_id, customer_key, metric, period_start, period_start + interval 1 day as period_end,
    'spike' as direction, 'critical' as severity, 'own_history' as baseline, true as is_flagged,
from (values
    ('k1', 'cust_x', 'customer_order_value', timestamp '2026-03-15'),
    ('k2', 'cust_y', 'customer_order_value', timestamp '2026-03-15')
) as observations (observation_id, customer_key, metric, period_start)
"""

# o1 opened a critical incident (an alert went out); o3 is in a warning one.
INCIDENTS_SQL = """
create table intermediate.int_incident_events as
select * from (values ('o1', 'i1'), ('o3', 'i3')) as events (anomaly_id, incident_id);
create table intermediate.int_incident_summaries as
select * from (values ('i1', 'critical'), ('i3', 'warning')) as incidents (incident_id, peak_severity);
"""

FEEDBACK_SQL = """
create table config.analyst_feedback as
select * from (values ('o5', 'true_positive', 'campaign post', timestamp '2026-03-22 09:00'))
    as feedback (anomaly_id, verdict, note, reviewed_at)
"""


@pytest.fixture(scope="module")
def compiled_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The evaluation models' SQL as dbt compiles it (refs point at "warehouse".<schema>.<table>)."""
    work = tmp_path_factory.mktemp("evaluation_compile")
    run_dbt(work, "compile", "--quiet", "--select", *EVALUATION_MODELS)
    folder = work / "target" / "compiled" / "retail_anomaly" / "dbt_project" / "models" / "intermediate" / "evaluation"
    return {model: (folder / f"{model}.sql").read_text() for model in EVALUATION_MODELS}


@pytest.fixture(scope="module")
def evaluation_warehouse(
    compiled_models: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Synthetic upstream tables, then the evaluation models built from them in dependency order."""
    # The file name makes the database "warehouse", as in the compiled references.
    path = tmp_path_factory.mktemp("evaluation_warehouse") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    for schema in ("staging", "marts", "intermediate", "config"):
        con.execute(f"create schema {schema}")
    for statement in (LABELS_SQL, OBSERVATIONS_SQL, CUSTOMERS_SQL, INCIDENTS_SQL, FEEDBACK_SQL):
        con.execute(statement)
    for model in EVALUATION_MODELS:
        con.execute(f"create table intermediate.{model} as {compiled_models[model]}")
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> set[tuple]:
    return set(con.execute(sql).fetchall())


def test_a_label_is_hit_on_its_segment_or_the_metric_total_in_its_direction_and_window(evaluation_warehouse):
    hits = _rows(
        evaluation_warehouse,
        """
        select rows.label_id, rows.metric, hits.detector, hits.cell_id, hits.match_type
        from intermediate.int_label_hits as hits
        join intermediate.int_label_rows as rows using (label_row_id)
        """,
    )
    assert hits == {
        ("A", "sessions", "ensemble", "o1", "same_segment"),
        ("A", "sessions", "robust_z", "o1", "same_segment"),
        # the seasonal detector's own verdict on total orders catches the app outage
        ("A", "orders", "seasonal", "o2", "total_level"),
        # a web-channel flag does not catch a total-level label (B has no hit)
        ("C", "customer_order_value", "ensemble", "k1", "same_customer"),
        ("C", "customer_order_value", "own_history", "k1", "same_customer"),
    }


def test_detection_rolls_up_per_metric_source_and_overall_with_time_to_detect(evaluation_warehouse):
    detections = {
        (label, detector, source, metric): (detected, hours)
        for label, detector, source, metric, detected, hours in evaluation_warehouse.execute(
            """
            select label_id, detector, source, metric, is_detected, time_to_detect_hours
            from intermediate.int_label_detections
            """
        ).fetchall()
    }
    # the ensemble missed the orders row but caught the sessions row, 2 h after the start
    assert detections[("A", "ensemble", "transactions", "orders")] == (False, None)
    assert detections[("A", "ensemble", "interactions", "all")] == (True, 2.0)
    assert detections[("A", "ensemble", "all", "all")] == (True, 2.0)
    # a day cell is complete at midnight: 14 h after the 10:00 start
    assert detections[("A", "seasonal", "all", "all")] == (True, 14.0)
    # alerted: the ensemble's hit of A is in a critical incident, B's (o3) in a warning one
    alerted = dict(
        evaluation_warehouse.execute(
            "select label_id || '/' || detector, is_alerted from intermediate.int_label_detections"
            " where source = 'all' and metric = 'all'"
        ).fetchall()
    )
    assert alerted["A/ensemble"] is True and alerted["A/seasonal"] is False
    assert alerted["B/ensemble"] is False and alerted["C/ensemble"] is False
    assert detections[("B", "ensemble", "all", "all")] == (False, None)
    # customer metrics are filed under the customers source
    assert detections[("C", "ensemble", "customers", "customer_order_value")][0] is True
    # every detector seen is judged on every label in its scope
    judged_by = {label: {d for lab, d, _, _ in detections if lab == label} for label in ("A", "B", "C")}
    assert judged_by == {
        "A": {"ensemble", "robust_z", "seasonal"},
        "B": {"ensemble", "robust_z", "seasonal"},
        "C": {"ensemble", "own_history"},
    }


def test_false_positives_overlap_no_labelled_window_and_lack_analyst_confirmation(evaluation_warehouse):
    cells = {
        (cell, detector): is_false_positive
        for cell, detector, is_false_positive in evaluation_warehouse.execute(
            "select cell_id, detector, is_false_positive from intermediate.int_label_flagged_cells"
        ).fetchall()
    }
    assert cells[("o3", "ensemble")] is False  # inside B's window on the same source
    assert cells[("o4", "ensemble")] is True
    assert cells[("o5", "ensemble")] is False  # confirmed by an analyst
    assert cells[("k2", "ensemble")] is True  # another customer than the labelled one
    # detectors count on their own verdicts; the low-volume cell was never evaluated
    assert ("o2", "seasonal") in cells and ("o2", "ensemble") not in cells
    assert not any(cell == "o6" for cell, _ in cells)


def _kind_rows(seed: int, rows: list[tuple]) -> pd.DataFrame:
    columns = [
        "kind",
        "labelled_anomalies",
        "detected_anomalies",
        "critical_labelled_anomalies",
        "critical_detected_anomalies",
        "critical_alerted_anomalies",
        "mean_time_to_detect_hours",
        "evaluated_cells",
        "false_positive_cells",
        "series_evaluated_cells",
        "series_false_positive_cells",
    ]
    return pd.DataFrame(rows, columns=columns).assign(seed=seed)


def test_scorecard_pools_seeds_and_marks_each_target():
    no_cells = (None, None, None, None)
    scorecard = pd.concat(
        [
            _kind_rows(101, [("spike", 4, 4, 2, 2, 1, 3.0, *no_cells), ("all", 10, 9, 5, 5, 4, 4.0, 20000, 40, 8000, 30)]),
            _kind_rows(202, [("spike", 4, 2, 2, 1, 0, 5.0, *no_cells), ("all", 10, 8, 5, 4, 3, 6.0, 20000, 150, 8000, 60)]),
        ],
        ignore_index=True,
    )
    text = format_scorecard(scorecard)
    lines = {line.split()[0]: line for line in text.splitlines() if line.split()[:1] in (["spike"], ["all"])}
    # spike pooled: critical 3/4 = 75% fails 95%, all 6/8 = 75% fails 85%; time weighted by detections
    assert "3/4 75% FAIL" in lines["spike"] and "6/8 75% FAIL" in lines["spike"]
    # alerted (caught in a critical incident) has no target: 1/4 in all, 7/10 in all kinds
    assert "3/4 75% FAIL 1/4 25% 6/8" in " ".join(lines["spike"].split())
    assert "9/10 90% FAIL 7/10 70% 17/20" in " ".join(lines["all"].split())
    assert lines["spike"].rstrip().endswith(f"{(4 * 3.0 + 2 * 5.0) / 6:.1f}")
    # all pooled: critical 9/10 fails, all 17/20 = 85% passes, false positives 190/40000 = 0.47%
    # pass, but the series alone, 90/16000 = 0.56%, fail
    assert "9/10 90% FAIL" in lines["all"] and "17/20 85% PASS" in lines["all"]
    assert "190/40000 0.47% PASS" in lines["all"] and "90/16000 0.56% FAIL" in lines["all"]
    assert "seed 202: critical 4/5 80% FAIL (alerted 3/5 60%)" in text and "false positives 150/20000 0.75% FAIL" in text
    assert text.rstrip().endswith("Overall: FAIL")
    assert not scorecard_passes(scorecard)


@pytest.mark.parametrize(
    ("row", "passes"),
    [
        (("all", 20, 18, 10, 10, 0, 2.0, 10000, 20, 4000, 15), True),  # alerts have no target
        (("all", 20, 18, 10, 9, 9, 2.0, 10000, 20, 4000, 15), False),  # critical 90%
        (("all", 20, 16, 10, 10, 10, 2.0, 10000, 20, 4000, 15), False),  # all 80%
        (("all", 20, 18, 10, 10, 10, 2.0, 10000, 60, 4000, 15), False),  # 0.6% of all cells
        (("all", 20, 18, 10, 10, 10, 2.0, 10000, 20, 4000, 25), False),  # 0.63% of the series
        (("all", 20, 18, 0, 0, 0, 2.0, 10000, 20, 4000, 15), True),  # no critical labels to miss
    ],
)
def test_scorecard_passes_only_when_every_pooled_target_is_met(row: tuple, passes: bool):
    scorecard = _kind_rows(101, [row])
    assert scorecard_passes(scorecard) is passes
    assert format_scorecard(scorecard).rstrip().endswith("Overall: PASS" if passes else "Overall: FAIL")


def test_kind_kpis_are_read_for_the_ensemble_with_the_cell_counts_on_the_all_row(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    with closing(duckdb.connect(str(path))) as con:
        con.execute("create schema reports")
        con.execute(
            """
            create table reports.detection_kpis_by_kind as select * from (values
                ('ensemble', 'spike', 3, 3, 1, 1, 1, 2.5),
                ('ensemble', 'all', 5, 4, 2, 2, 1, 3.0),
                ('robust_z', 'all', 5, 1, 2, 0, 0, 9.0)
            ) as t (detector, kind, labelled_anomalies, detected_anomalies, critical_labelled_anomalies,
                    critical_detected_anomalies, critical_alerted_anomalies, mean_time_to_detect_hours)
            """
        )
        con.execute(
            """
            create table reports.detection_kpis as select * from (values
                ('labels', 'ensemble', 'all', 'all', 5000, 12),
                ('labels', 'ensemble', 'transactions', 'all', 1000, 7),
                ('labels', 'ensemble', 'social', 'all', 500, 3),
                ('labels', 'ensemble', 'customers', 'all', 3500, 2),
                ('labels', 'ensemble', 'transactions', 'orders', 200, 1),
                ('labels', 'robust_z', 'all', 'all', 1500, 80),
                ('feedback', 'ensemble', 'all', 'all', 5000, 1)
            ) as t (basis, detector, source, metric, evaluated_cells, false_positive_cells)
            """
        )
    kinds = read_kind_kpis(path).set_index("kind")
    assert list(kinds.index) == ["spike", "all"]
    cell_columns = ["evaluated_cells", "false_positive_cells", "series_evaluated_cells", "series_false_positive_cells"]
    assert kinds.loc["all", cell_columns].tolist() == [5000, 12, 1500, 10]
    assert kinds.loc["all", "detected_anomalies"] == 4
    assert kinds.loc["all", "critical_alerted_anomalies"] == 1
    assert kinds.loc["spike", cell_columns].isna().all()


def test_evaluate_command_pins_the_generated_calendar_with_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """`evaluate --end` reaches the generator's end date (default: yesterday), so two versions
    can be scored on the same calendar."""
    calls = []

    def fake_evaluate(seeds, **kwargs):
        calls.append((seeds, kwargs))
        return pd.DataFrame(columns=["seed", "kind"])

    monkeypatch.setattr(evaluation, "evaluate", fake_evaluate)
    assert main(["evaluate", "--seeds", "505,606", "--end", "2026-11-23", "--work-dir", str(tmp_path)]) == 1
    assert main(["evaluate", "--work-dir", str(tmp_path)]) == 1
    end_dates = [(seeds, kwargs["end_date"]) for seeds, kwargs in calls]
    assert end_dates == [([505, 606], date(2026, 11, 23)), ([505, 606], None)]
