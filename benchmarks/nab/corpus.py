"""The NAB subset in the shared data folder: data files, labelled windows, published scores."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.nab.scorer import LabelledFile
from orchestration.settings import PROJECT_DIR

ENV_SHARED_DATA = "RETAIL_ANOMALY_SHARED_DATA"


@dataclass(frozen=True)
class NabSeries:
    """One NAB data file: its rows (timestamp, value) and its labelled windows."""

    labelled: LabelledFile
    values: pd.Series

    @property
    def name(self) -> str:
        """NAB's relative path, e.g. `realTweets/Twitter_volume_GOOG.csv`."""
        return self.labelled.name

    @property
    def category(self) -> str:
        return self.name.split("/")[0]


def shared_data_dir(explicit: str | Path | None = None) -> Path:
    """The shared data folder: argument, else $RETAIL_ANOMALY_SHARED_DATA, else ../shared/data."""
    return Path(explicit or os.environ.get(ENV_SHARED_DATA) or PROJECT_DIR.parent / "shared" / "data").resolve()


def load_corpus(shared_data: Path) -> list[NabSeries]:
    """Every file named in labels/combined_windows.json, in the labels' order."""
    nab_dir = shared_data / "nab"
    windows_by_file = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    corpus = []
    for name, windows in windows_by_file.items():
        rows = pd.read_csv(nab_dir / "data" / name, parse_dates=["timestamp"])
        labelled = LabelledFile(
            name=name,
            timestamps=pd.DatetimeIndex(rows["timestamp"]),
            windows=tuple((pd.Timestamp(start), pd.Timestamp(end)) for start, end in windows),
        )
        corpus.append(NabSeries(labelled=labelled, values=rows["value"].astype(float)))
    return corpus


def load_published_scores(shared_data: Path) -> dict[str, dict[str, float]]:
    """Published detector -> profile -> normalised score on exactly this subset."""
    return json.loads((shared_data / "nab" / "published_scores.json").read_text())["scores"]
