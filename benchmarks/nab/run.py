"""Score the product's detectors on the NAB subset and print them beside the published ones.

    python -m benchmarks.nab.run [--shared-data PATH] [--work-dir PATH] [--project-dir PATH] [--per-file]

A flagged cell is a detection at its row's timestamp (anomaly score 1, else 0), with the
product's own thresholds: no tuning, one configuration for the whole corpus. For comparison
the ensemble's |z| is also swept as NAB sweeps published detectors' scores: one corpus-wide
threshold per profile, chosen on this very corpus (an optimistic figure, as NAB's own).
"""

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.nab.corpus import NabSeries, load_corpus, load_published_scores, shared_data_dir
from benchmarks.nab.detection import detect
from benchmarks.nab.scorer import (
    PROFILES,
    best_threshold,
    corpus_points,
    normalised_score,
    null_score,
    score_at_threshold,
)
from orchestration.settings import PROJECT_DIR

DEFAULT_WORK_DIR = Path(__file__).resolve().parent.parent / ".work" / "nab"
FLAG = 1.0
HEADLINE = "ensemble (product flags)"
SWEPT = "ensemble |z|, NAB-swept threshold"

AnomalyScores = Callable[[pd.DataFrame], pd.Series]


def _flags(column: str) -> AnomalyScores:
    return lambda cells: cells[column].astype(float)


# name -> (anomaly score of every cell, swept threshold?)
DETECTORS: dict[str, tuple[AnomalyScores, bool]] = {
    HEADLINE: (_flags("is_anomaly"), False),
    "ensemble, one alert per incident": (_flags("is_incident_alert"), False),
    # what the product alerts on: an incident once it holds a critical event, once
    "ensemble, critical incidents (alerts)": (_flags("is_critical_alert"), False),
    "robust_z": (_flags("fires_robust_z"), False),
    "seasonal": (_flags("fires_seasonal"), False),
    "level_shift (CUSUM)": (_flags("fires_level_shift"), False),
    SWEPT: (lambda cells: cells["score"], True),
}


@dataclass(frozen=True)
class ProfileResult:
    threshold: float
    score: float  # NAB-normalised: 0 = null detector, 100 = perfect
    windows_detected: int
    false_positives: int


def detection_counts(points: pd.DataFrame, threshold: float) -> tuple[int, int, int]:
    """Outside the probation period: windows with a detection, detections inside windows,
    detections outside them."""
    detected = points[(points["anomaly_score"] >= threshold) & (points["window_name"] != "probationary")]
    inside = detected["window_name"].notna()
    return detected.loc[inside, "window_name"].nunique(), int(inside.sum()), int((~inside).sum())


def score_detector(
    corpus: list[NabSeries], anomaly_scores: dict[str, np.ndarray], sweep: bool, null_scores: dict[str, float]
) -> dict[str, ProfileResult]:
    """NAB scores of one detector under every profile."""
    window_count = sum(len(series.labelled.windows) for series in corpus)
    results = {}
    for name, profile in PROFILES.items():
        points = corpus_points([series.labelled for series in corpus], anomaly_scores, profile)
        threshold = best_threshold(points, profile)[0] if sweep else FLAG
        windows_detected, _, false_positives = detection_counts(points, threshold)
        results[name] = ProfileResult(
            threshold=threshold,
            score=normalised_score(
                float(score_at_threshold(points, profile, threshold)["score"]), null_scores[name], window_count, profile
            ),
            windows_detected=windows_detected,
            false_positives=false_positives,
        )
    return results


def scores_by_file(corpus: list[NabSeries], cells: pd.DataFrame, anomaly_score: AnomalyScores) -> dict[str, np.ndarray]:
    scores = anomaly_score(cells).to_numpy()
    return {series.name: scores[(cells["series_key"] == series.name).to_numpy()] for series in corpus}


def score_all(corpus: list[NabSeries], cells: pd.DataFrame) -> dict[str, dict[str, ProfileResult]]:
    labelled = [series.labelled for series in corpus]
    null_scores = {name: null_score(labelled, profile) for name, profile in PROFILES.items()}
    results = {}
    for name, (anomaly_score, sweep) in DETECTORS.items():
        results[name] = score_detector(corpus, scores_by_file(corpus, cells, anomaly_score), sweep, null_scores)
    return results


def format_table(results: dict[str, dict[str, ProfileResult]], published: dict[str, dict[str, float]]) -> str:
    """Ours and every published detector, by standard score; published rows name the profiles
    on which the headline (the product's flags) beats them."""
    headline = {name: result.score for name, result in results[HEADLINE].items()}
    rows = [
        (f"ours: {name}", {p: r.score for p, r in by_profile.items()}, by_profile["standard"])
        for name, by_profile in results.items()
    ] + [(name, scores, None) for name, scores in published.items()]
    rows.sort(key=lambda row: row[1]["standard"], reverse=True)

    profiles = list(PROFILES)
    lines = [
        f"{'detector':<44}" + "".join(f"{p:>20}" for p in profiles) + f"{'windows':>9}{'FPs':>7}  beaten by headline",
    ]
    for name, scores, standard in rows:
        line = f"{name:<44}" + "".join(f"{scores[p]:>20.2f}" for p in profiles)
        if standard is not None:
            line += f"{standard.windows_detected:>9}{standard.false_positives:>7}"
        else:
            beaten = [p for p in profiles if headline[p] > scores[p]]
            line += f"{'':>16}  " + (", ".join(beaten) if beaten else "-")
        lines.append(line)
    return "\n".join(lines)


def format_per_file(corpus: list[NabSeries], cells: pd.DataFrame) -> str:
    """The headline detector per file: windows, windows detected, flags inside and outside."""
    flags = scores_by_file(corpus, cells, DETECTORS[HEADLINE][0])
    lines = [f"{'file':<44}{'windows':>8}{'detected':>9}{'flags in':>9}{'flags out':>10}"]
    for series in corpus:
        points = corpus_points([series.labelled], flags, PROFILES["standard"])
        detected, inside, outside = detection_counts(points, FLAG)
        lines.append(f"{series.name:<44}{len(series.labelled.windows):>8}{detected:>9}{inside:>9}{outside:>10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--shared-data", help="shared data folder (default: $RETAIL_ANOMALY_SHARED_DATA, else ../shared/data)"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="scratch folder for the benchmark's DuckDB warehouse"
    )
    parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="dbt project whose detectors to score (default: this one)"
    )
    parser.add_argument("--per-file", action="store_true", help="also print the product flags per file")
    args = parser.parse_args(argv)

    shared_data = shared_data_dir(args.shared_data)
    corpus = load_corpus(shared_data)
    cells = detect(corpus, args.work_dir, args.project_dir)
    results = score_all(corpus, cells)
    windows = sum(len(series.labelled.windows) for series in corpus)
    print(f"NAB subset: {len(corpus)} files, {windows} windows; product's default detection settings\n")
    print(format_table(results, load_published_scores(shared_data)))
    swept = ", ".join(f"{p} {r.threshold:.2f}" for p, r in results[SWEPT].items())
    print(f"\nswept |z| thresholds: {swept}")
    if args.per_file:
        print("\n" + format_per_file(corpus, cells))


if __name__ == "__main__":
    main()
