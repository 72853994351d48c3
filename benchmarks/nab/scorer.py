"""NAB scoring, ported from numenta/NAB v1.1 (`nab/sweeper.py`, `nab/scorer.py`,
`nab/optimizer.py`, `nab/runner.py::normalize`, `config/profiles.json`).

Every row of a data file gets a sweep score once, independent of any threshold:
  - inside a labelled window: the scaled sigmoid of its relative position in the window,
    +tpWeight at the window's first row, falling towards 0 at its last row;
  - outside every window: -fpWeight, or less after a window (the sigmoid of the distance past
    the preceding window's right edge, relative to that window's width);
  - the first 15% of rows (at most 750) are probationary and never scored.
A detection is a row whose anomaly score is >= the threshold. A window scores the largest
sweep score among its detections (= its earliest detection), or -fnWeight when it has none;
every detection outside the windows adds its own (negative) sweep score. Scores are summed
over the corpus and normalised per profile: 0 = the null detector, 100 = a detection on the
first row of every labelled window and nowhere else.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# NAB's probation period: this share of a file's rows, capped at this share of 5,000 rows.
PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class Profile:
    """One NAB application profile (config/profiles.json; tnWeight is unused by NAB)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
        Profile("reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
        Profile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
    )
}


@dataclass(frozen=True)
class LabelledFile:
    """One data file: its row timestamps in order and its labelled windows (inclusive)."""

    name: str
    timestamps: pd.DatetimeIndex
    windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]


def scaled_sigmoid(relative_position: np.ndarray | float) -> np.ndarray:
    """2 * sigmoid(-5x) - 1, and -1 beyond 3 (sweeper.scaledSigmoid)."""
    position = np.asarray(relative_position, dtype=float)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position > 3.0, -1.0, value)


def probation_length(row_count: int, probation_percent: float = PROBATION_PERCENT) -> float:
    return min(math.floor(probation_percent * row_count), probation_percent * 5000)


def _window_bounds(labelled: LabelledFile) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of each window's first and last row; NAB needs both to be data rows and
    takes a repeated timestamp's first row."""
    first_row: dict[pd.Timestamp, int] = {}
    for row, timestamp in enumerate(labelled.timestamps):
        first_row.setdefault(timestamp, row)
    lefts, rights = [], []
    for start, end in sorted(labelled.windows):
        missing = [edge for edge in (start, end) if edge not in first_row]
        if missing:
            raise ValueError(f"{labelled.name}: window edge {missing[0]} is not a row timestamp")
        lefts.append(first_row[start])
        rights.append(first_row[end])
    return np.array(lefts, dtype=int), np.array(rights, dtype=int)


def sweep_points(
    labelled: LabelledFile,
    anomaly_scores: Sequence[float],
    profile: Profile,
    probation_percent: float = PROBATION_PERCENT,
) -> pd.DataFrame:
    """Per row: anomaly_score, sweep_score and window_name (None outside windows,
    'probationary' in the probation period), as Sweeper.calcSweepScore."""
    row_count = len(labelled.timestamps)
    if len(anomaly_scores) != row_count:
        raise ValueError(f"{labelled.name}: {len(anomaly_scores)} scores for {row_count} rows")
    rows = np.arange(row_count)
    lefts, rights = _window_bounds(labelled)
    widths = (rights - lefts + 1).astype(float)

    # The window a row falls in (-1: none) and the last window that ended before it (-1: none).
    containing = np.full(row_count, -1)
    for window, (left, right) in enumerate(zip(lefts, rights)):
        containing[left : right + 1] = window
    preceding = np.searchsorted(rights, rows, side="left") - 1

    inside = containing >= 0
    in_window = containing.clip(min=0)
    before = preceding.clip(min=0)
    max_tp = scaled_sigmoid(-1.0)
    true_positive_score = (
        scaled_sigmoid(-(rights[in_window] - rows + 1) / widths[in_window]) * profile.tp_weight / max_tp
        if len(lefts)
        else np.zeros(row_count)
    )
    with np.errstate(divide="ignore"):
        past_window_score = (
            scaled_sigmoid(np.abs(rights[before] - rows) / (widths[before] - 1))
            if len(lefts)
            else np.full(row_count, -1.0)
        )
    false_positive_score = np.where(preceding >= 0, past_window_score, -1.0) * profile.fp_weight

    window_names = np.array([f"{labelled.name}|{left}" for left in lefts] or [""], dtype=object)
    window_name = np.where(inside, window_names[in_window], None)
    window_name = np.where(rows >= probation_length(row_count, probation_percent), window_name, "probationary")
    return pd.DataFrame(
        {
            "anomaly_score": np.asarray(anomaly_scores, dtype=float),
            "sweep_score": np.where(inside, true_positive_score, false_positive_score),
            "window_name": window_name,
        }
    )


def scores_by_threshold(points: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """The corpus score at every distinct anomaly score taken as threshold, highest first
    (Sweeper.calcScoreByThreshold). The first row, threshold +inf, detects nothing."""
    scorable = points[points["window_name"] != "probationary"]
    scorable = scorable.sort_values("anomaly_score", ascending=False, kind="stable")
    in_window = scorable["window_name"].notna().to_numpy()
    window_count = scorable.loc[in_window, "window_name"].nunique()

    # A window's part starts at -fnWeight and becomes the best sweep score detected so far.
    best_so_far = (
        scorable["sweep_score"]
        .where(in_window)
        .groupby(scorable["window_name"].where(in_window, ""))
        .cummax()
        .clip(lower=-profile.fn_weight)
    )
    best_before = best_so_far.groupby(scorable["window_name"].where(in_window, "")).shift(fill_value=-profile.fn_weight)
    window_gain = np.where(in_window, best_so_far - best_before, 0.0)
    false_positive_cost = np.where(in_window, 0.0, scorable["sweep_score"])
    running = pd.DataFrame(
        {
            "threshold": scorable["anomaly_score"].to_numpy(),
            "score": -profile.fn_weight * window_count + np.cumsum(window_gain + false_positive_cost),
            "tp": np.cumsum(in_window),
            "fp": np.cumsum(~in_window),
        }
    )
    # A threshold detects every row scoring at least that much: keep the last row of each value.
    by_threshold = running.groupby("threshold", sort=False).tail(1)
    nothing = pd.DataFrame({"threshold": [np.inf], "score": [-profile.fn_weight * window_count], "tp": [0], "fp": [0]})
    result = pd.concat([nothing, by_threshold], ignore_index=True)
    result["fn"] = int(in_window.sum()) - result["tp"]
    result["tn"] = int((~in_window).sum()) - result["fp"]
    return result


def score_at_threshold(points: pd.DataFrame, profile: Profile, threshold: float) -> pd.Series:
    """Raw score and row counts (threshold, score, tp, fp, fn, tn) when every row with
    anomaly_score >= threshold is a detection (Sweeper.scoreDataSet's matching row)."""
    table = scores_by_threshold(points, profile)
    return table.loc[table["threshold"] >= threshold].iloc[-1]


def best_threshold(points: pd.DataFrame, profile: Profile) -> tuple[float, float]:
    """(threshold, raw score) with the highest corpus score; ties go to the higher threshold,
    as the optimizer's stable sort does."""
    table = scores_by_threshold(points, profile)
    best = table.loc[table["score"].idxmax()]
    return float(best["threshold"]), float(best["score"])


def corpus_points(
    corpus: Iterable[LabelledFile], anomaly_scores: dict[str, Sequence[float]], profile: Profile
) -> pd.DataFrame:
    """Sweep points of every file, stacked as the optimizer does (window names are unique
    per file, so corpus sums are sums of per-file scores)."""
    frames = [
        sweep_points(labelled, anomaly_scores[labelled.name], profile).assign(file=labelled.name)
        for labelled in corpus
    ]
    return pd.concat(frames, ignore_index=True)


def normalised_score(raw_score: float, null_score: float, window_count: int, profile: Profile) -> float:
    """100 * (raw - null) / (perfect - null), perfect = windows x tpWeight (runner.normalize)."""
    perfect = window_count * profile.tp_weight
    return 100.0 * (raw_score - null_score) / (perfect - null_score)


def null_score(corpus: Sequence[LabelledFile], profile: Profile) -> float:
    """Raw score of a detector that never fires: the baseline NAB normalises against."""
    silent = {labelled.name: np.zeros(len(labelled.timestamps)) for labelled in corpus}
    return float(score_at_threshold(corpus_points(corpus, silent, profile), profile, threshold=1.0)["score"])
