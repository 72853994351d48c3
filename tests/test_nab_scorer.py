"""The NAB scoring port (benchmarks/nab/scorer.py) on hand-computed cases, and the runner's
mapping of NAB rows onto the product's hourly cells.

Expected values are worked out from NAB's definitions in the test itself: S(x) = 2/(1+e^(5x)) - 1,
a detection at row i of window [l, r] (width w = r - l + 1) earns S(-(r - i + 1)/w) / S(-1),
a detection d rows past a window's last row costs fpWeight * S(d / (w - 1)), one before any
window costs fpWeight.
"""

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.nab.corpus import NabSeries
from benchmarks.nab.detection import GRAINS, cell_frame, detect, incident_alerts, nab_rows, verdicts_per_row
from benchmarks.nab.run import HEADLINE, score_all
from benchmarks.nab.scorer import (
    PROFILES,
    LabelledFile,
    Profile,
    best_threshold,
    corpus_points,
    normalised_score,
    null_score,
    probation_length,
    score_at_threshold,
    scores_by_threshold,
    sweep_points,
)

STANDARD = PROFILES["standard"]
ROWS = 100  # probation: the first 15 rows
WINDOW = (40, 49)  # width 10


def scaled_sigmoid(x: float) -> float:
    return -1.0 if x > 3.0 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def labelled_file(name: str, rows: int, windows: list[tuple[int, int]]) -> LabelledFile:
    timestamps = pd.date_range("2024-01-01", periods=rows, freq="5min")
    return LabelledFile(name, timestamps, tuple((timestamps[left], timestamps[right]) for left, right in windows))


def detections(rows: int, flagged: list[int]) -> np.ndarray:
    scores = np.zeros(rows)
    scores[flagged] = 1.0
    return scores


def raw_score(flagged: list[int], profile=STANDARD, windows=(WINDOW,), rows=ROWS) -> float:
    labelled = labelled_file("f", rows, list(windows))
    points = sweep_points(labelled, detections(rows, flagged), profile)
    return float(score_at_threshold(points, profile, threshold=0.5)["score"])


def test_probation_is_15_percent_capped_at_750_rows():
    assert probation_length(100) == 15
    assert probation_length(4000) == 600
    assert probation_length(16000) == 750


def test_detection_at_window_start_earns_the_full_true_positive_weight():
    assert raw_score([40]) == pytest.approx(1.0)


def test_detection_at_window_end_earns_little():
    expected = scaled_sigmoid(-1 / 10) / scaled_sigmoid(-1.0)
    assert expected == pytest.approx(0.24825, abs=1e-5)
    assert raw_score([49]) == pytest.approx(expected)


def test_only_the_earliest_detection_in_a_window_counts():
    assert raw_score([45, 40, 47]) == pytest.approx(raw_score([40]))
    assert raw_score([45, 47]) == pytest.approx(scaled_sigmoid(-5 / 10) / scaled_sigmoid(-1.0))


def test_false_positive_before_any_window_costs_the_full_fp_weight():
    # The missed window costs -1 on top.
    assert raw_score([20]) == pytest.approx(-1.0 - 0.11)


def test_false_positive_just_after_a_window_costs_less():
    just_after = raw_score([50])
    assert just_after == pytest.approx(-1.0 + 0.11 * scaled_sigmoid(1 / 9))
    assert -1.11 < just_after < -1.0
    # More than three window widths later it is a plain false positive again.
    assert raw_score([90]) == pytest.approx(-1.11)


def test_probation_period_is_ignored():
    # A detection in row 10 is neither rewarded nor penalised; a window entirely inside the
    # probation period is not counted as missed.
    assert raw_score([10]) == pytest.approx(-1.0)
    assert raw_score([], windows=[(5, 9), WINDOW]) == pytest.approx(-1.0)
    assert raw_score([5], windows=[(5, 9), WINDOW]) == pytest.approx(-1.0)


def test_fn_weight_of_the_low_fn_profile_doubles_a_miss():
    assert raw_score([], profile=PROFILES["reward_low_FN_rate"]) == pytest.approx(-2.0)
    assert raw_score([20], profile=PROFILES["reward_low_FP_rate"]) == pytest.approx(-1.22)


def test_nab_reference_case_scoring_all_metrics():
    """NAB's own tests/integration/scorer_test.py::testScoringAllMetrics: fpWeight 1, no
    probation, windows at rows 30-34 and 65-69, detections at 30, 31 and 37 -> -0.9540."""
    profile = Profile("unit", tp_weight=1.0, fp_weight=1.0, fn_weight=1.0)
    labelled = labelled_file("f", 100, [(30, 34), (65, 69)])
    points = sweep_points(labelled, detections(100, [30, 31, 37]), profile, probation_percent=0.0)
    row = score_at_threshold(points, profile, threshold=0.5)
    assert row["score"] == pytest.approx(-0.9540, abs=1e-4)
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (2, 1, 8, 89)


def test_threshold_sweep_matches_nabs_reference_table():
    """NAB's tests/integration/sweeper_test.py::testCalcScoreByThresholdReturnsExpectedScores."""
    profile = Profile("unit", tp_weight=1.0, fp_weight=1.0, fn_weight=5.0)
    points = pd.DataFrame(
        {
            "anomaly_score": [0.5, 0.5, 0.0, 0.2, 0.3, 0.5, 0.5],
            "sweep_score": [-1000, -1000, -3, 20, 10, 5, -3],
            "window_name": ["probationary", "probationary", None, "windowA", "windowA", "windowB", None],
        }
    )
    table = scores_by_threshold(points, profile)
    assert table["threshold"].tolist() == [np.inf, 0.5, 0.3, 0.2, 0.0]
    assert table["score"].tolist() == pytest.approx([-10, 5 - 3 - 5, 5 - 3 + 10, 5 - 3 + 20, 5 - 3 + 20 - 3])
    assert table[["tp", "tn", "fp", "fn"]].values.tolist() == [
        [0, 2, 0, 3],
        [1, 1, 1, 2],
        [2, 1, 1, 1],
        [3, 1, 1, 0],
        [3, 0, 2, 0],
    ]
    assert best_threshold(points, profile) == (0.2, 22.0)


def two_file_corpus() -> list[LabelledFile]:
    return [labelled_file("a", ROWS, [WINDOW]), labelled_file("b", 200, [(60, 79), (120, 139)])]


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_null_detector_scores_0_and_perfect_detector_scores_100(profile):
    corpus = two_file_corpus()
    baseline = null_score(corpus, profile)
    assert baseline == pytest.approx(-3 * profile.fn_weight)

    silent = {labelled.name: np.zeros(len(labelled.timestamps)) for labelled in corpus}
    silent_raw = score_at_threshold(corpus_points(corpus, silent, profile), profile, 0.5)["score"]
    assert normalised_score(silent_raw, baseline, 3, profile) == pytest.approx(0.0)

    perfect = {"a": detections(ROWS, [40]), "b": detections(200, [60, 120])}
    perfect_raw = score_at_threshold(corpus_points(corpus, perfect, profile), profile, 0.5)["score"]
    assert normalised_score(perfect_raw, baseline, 3, profile) == pytest.approx(100.0)


def test_normalisation_is_summed_over_the_corpus():
    """One window caught at its start, one missed, one false positive far from any window."""
    corpus = two_file_corpus()
    flagged = {"a": detections(ROWS, [40]), "b": detections(200, [30])}
    raw = score_at_threshold(corpus_points(corpus, flagged, STANDARD), STANDARD, 0.5)["score"]
    assert raw == pytest.approx(1.0 - 2.0 - 0.11)
    assert normalised_score(raw, -3.0, 3, STANDARD) == pytest.approx(100 * (raw + 3) / (3 + 3))


def test_window_edge_missing_from_the_data_is_an_error():
    timestamps = pd.date_range("2024-01-01", periods=20, freq="h")
    labelled = LabelledFile("f", timestamps, ((timestamps[5] + pd.Timedelta("1min"), timestamps[8]),))
    with pytest.raises(ValueError, match="not a row timestamp"):
        sweep_points(labelled, np.zeros(20), STANDARD)


def nab_series(name: str, start: str, rows: int, freq: str) -> NabSeries:
    labelled = LabelledFile(name, pd.date_range(start, periods=rows, freq=freq), ())
    return NabSeries(labelled=labelled, values=pd.Series(np.arange(rows, dtype=float)))


def test_five_minute_rows_become_hour_and_day_cells_and_partial_periods_are_incomplete():
    # 21:40 .. 23:35: 4 rows in the 21:00 hour, then two full hours of 12 rows; one partial day.
    rows = nab_rows([nab_series("realTweets/t.csv", "2015-03-01 21:40", 28, "5min")])
    cells = cell_frame(rows).set_index(["grain", "period_start"])
    hours = cells.loc["hour"]
    assert hours["is_complete_period"].tolist() == [False, True, True]
    assert hours.loc["2015-03-01 22:00", "value"] == sum(range(4, 16))
    assert hours.loc["2015-03-01 22:00", "volume"] == sum(range(4, 16))
    assert hours["last_row"].tolist() == [3, 15, 27]
    assert cells.loc["day", "is_complete_period"].tolist() == [False]
    assert (cells["metric_kind"] == "count").all()


def test_hourly_ratio_rows_keep_their_value_a_day_averages_them_and_neither_has_volume():
    rows = nab_rows([nab_series("realAdExchange/x.csv", "2011-07-01 00:00:01", 48, "h")])
    cells = cell_frame(rows).set_index(["grain", "period_start"])
    assert cells.loc["hour", "value"].tolist() == list(range(48))
    assert cells.loc["day", "value"].tolist() == [11.5, 35.5]
    assert cells.loc["hour", "is_complete_period"].all() and cells["volume"].isna().all()
    # The second day ends at 23:00:01, its last hourly row: complete.
    assert cells.loc["day", "is_complete_period"].tolist() == [True, True]


def test_a_cells_verdict_lands_on_the_row_that_closes_it():
    rows = nab_rows([nab_series("realTweets/t.csv", "2015-03-01 22:00", 24, "5min")])
    cells = cell_frame(rows)
    observations = cells[["series_key", "period_start"]].assign(
        is_anomaly=[True, False, False],  # hour 22:00, hour 23:00, the day
        is_critical=False,
        fires_robust_z=[True, False, False],
        fires_seasonal=False,
        fires_level_shift=[False, False, True],
        score=[9.0, 0.5, 2.0],
    )
    verdicts = verdicts_per_row(rows, cells, observations)
    assert verdicts.index[verdicts["is_anomaly"]].tolist() == [11]
    assert verdicts.index[verdicts["fires_level_shift"]].tolist() == [23]
    # Row 23 closes both the 23:00 hour and the day: the larger |z| counts.
    assert verdicts["score"].tolist() == [0.0] * 11 + [9.0] + [0.0] * 11 + [2.0]


def _events(*spans: tuple[str, str]) -> pd.DataFrame:
    starts = pd.Series(pd.to_datetime([start for start, _ in spans], format="mixed"))
    grains = pd.Series([grain for _, grain in spans])
    lengths = grains.map(GRAINS)
    return pd.DataFrame({"period_start": starts, "period_end": starts + lengths, "grain": grains})


def test_one_alert_per_incident_as_the_products_incidents_group_events():
    events = _events(
        ("2011-07-01 01:00", "hour"),
        ("2011-07-01 03:00", "hour"),  # one quiet hour after 01:00: the same incident
        ("2011-07-01 06:00", "hour"),  # two quiet hours: a new incident, alerted
        ("2011-07-01", "day"),  # spans both; known at midnight, after their alerts
        ("2011-07-02 20:00", "hour"),  # within a day of the flagged day: its incident
        ("2011-07-04 05:00", "hour"),  # a quiet day later: new
    )
    everything = pd.Series(True, index=events.index)
    assert incident_alerts(events, everything).tolist() == [True, False, True, False, False, True]
    # A critical alert waits for the incident's first critical event, and comes once: the
    # critical day joins incidents that were already alerted.
    critical = pd.Series([False, True, True, True, False, False])
    assert incident_alerts(events, critical).tolist() == [False, True, True, False, False, False]


@pytest.mark.slow
def test_the_products_detection_chain_flags_a_spike_in_a_labelled_window(tmp_path):
    """End to end through dbt: 40 days of an hourly daily cycle with a tripled hour on day 30."""
    hours = pd.date_range("2011-07-01 00:00:01", periods=40 * 24, freq="h")
    noise = np.random.default_rng(7).normal(0, 0.02, len(hours))
    values = 1.0 + 0.5 * np.sin(2 * np.pi * hours.hour.to_numpy() / 24) + noise
    spike = 30 * 24 + 12
    values[spike] *= 3
    labelled = LabelledFile("realAdExchange/synthetic.csv", hours, ((hours[spike - 6], hours[spike + 18]),))
    corpus = [NabSeries(labelled=labelled, values=pd.Series(values))]

    verdicts = detect(corpus, tmp_path)

    assert verdicts["timestamp"].tolist() == hours.tolist()
    assert verdicts.loc[spike, "is_anomaly"] and verdicts.loc[spike, "score"] > 10
    assert score_all(corpus, verdicts)[HEADLINE]["standard"].windows_detected == 1
