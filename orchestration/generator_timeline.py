"""The generator's time axis: hours since the first day, seasonality and the promotion calendar."""

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from orchestration.contract import CHANNELS
from orchestration.settings import PROJECT_DIR

PROMOTION_CALENDAR_PATH = PROJECT_DIR / "seeds" / "promotion_calendar.csv"
SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86_400

# Share of a day's online activity per UTC hour (European evenings are busiest).
_ONLINE_HOURS = np.array(
    [
        0.25,
        0.15,
        0.10,
        0.08,
        0.08,
        0.12,
        0.25,
        0.45,
        0.65,
        0.80,
        0.90,
        0.95,
        1.00,
        0.98,
        0.95,
        0.95,
        1.00,
        1.10,
        1.25,
        1.40,
        1.45,
        1.30,
        0.95,
        0.55,
    ]
)
# Stores open 08:00-19:00 UTC.
_STORE_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.8, 1.0, 1.1, 1.2, 1.1, 1.05, 1.1, 1.2, 1.15, 0.9, 0, 0, 0, 0, 0]
)
# Monday..Sunday multipliers per channel (mean 1): online peaks at the weekend, stores on Saturday.
_WEEKDAYS = {
    "web": [0.95, 0.94, 0.96, 0.98, 1.00, 1.05, 1.12],
    "app": [0.90, 0.90, 0.92, 0.95, 1.02, 1.12, 1.19],
    "marketplace": [0.97, 0.97, 0.98, 1.00, 1.02, 1.02, 1.04],
    "store": [0.95, 1.00, 1.00, 1.05, 1.15, 1.50, 0.35],
    "social_shop": [0.90, 0.90, 0.95, 0.98, 1.02, 1.10, 1.15],
}
HOUR_CURVES = np.array([(_STORE_HOURS if c == "store" else _ONLINE_HOURS) for c in CHANNELS], dtype=float)
HOUR_CURVES /= HOUR_CURVES.sum(axis=1, keepdims=True)
WEEKDAY_PROFILES = np.array([_WEEKDAYS[c] for c in CHANNELS])
WEEKDAY_PROFILES /= WEEKDAY_PROFILES.mean(axis=1, keepdims=True)
DAILY_GROWTH = 0.0012


def load_promotion_calendar(path: Path = PROMOTION_CALENDAR_PATH) -> dict[date, float]:
    """Planned lifts by day from the promotion calendar seed (expected_lift: ratio to a normal day)."""
    with path.open(newline="") as handle:
        return {date.fromisoformat(row["calendar_date"]): float(row["expected_lift"]) for row in csv.DictReader(handle)}


@dataclass(frozen=True)
class Timeline:
    """`days` whole UTC days starting at `start`; hour index 0 is midnight of the first day."""

    start: date
    days: int
    promotion_lift: np.ndarray  # (days,) planned multiplier, 1.0 on ordinary days

    @classmethod
    def ending(cls, end: date, days: int, calendar: dict[date, float]) -> "Timeline":
        start = end - timedelta(days=days - 1)
        lift = np.array([calendar.get(start + timedelta(days=d), 1.0) for d in range(days)])
        return cls(start, days, lift)

    @property
    def hours(self) -> int:
        return self.days * 24

    @property
    def t0(self) -> int:
        """Epoch seconds of the first midnight."""
        return int(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp())

    @property
    def t_end(self) -> int:
        return self.t0 + self.days * SECONDS_PER_DAY

    @property
    def weekday(self) -> np.ndarray:
        """Monday=0 for each day."""
        return (self.start.weekday() + np.arange(self.days)) % 7

    @property
    def is_promotion_day(self) -> np.ndarray:
        return self.promotion_lift != 1.0

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=int(day))

    def iso(self, hour: int) -> str:
        moment = datetime.fromtimestamp(self.t0 + int(hour) * SECONDS_PER_HOUR, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def moments_in(self, rng: np.random.Generator, hour: np.ndarray) -> np.ndarray:
        """A random second (epoch) within each hour."""
        return self.t0 + hour * SECONDS_PER_HOUR + rng.integers(0, SECONDS_PER_HOUR, len(hour))

    def hour_of(self, seconds: np.ndarray) -> np.ndarray:
        return (np.asarray(seconds) - self.t0) // SECONDS_PER_HOUR

    def daily_level(self, rng: np.random.Generator, day_noise: float = 0.04) -> np.ndarray:
        """(days, channel) multiplier: weekday profile x slow growth x planned lifts x day-to-day noise."""
        weekday = WEEKDAY_PROFILES[:, self.weekday].T
        trend = np.exp(DAILY_GROWTH * np.arange(self.days))[:, None]
        noise = np.exp(rng.normal(0.0, day_noise, size=(self.days, len(CHANNELS))))
        return weekday * trend * self.promotion_lift[:, None] * noise

    def hourly(self, daily_level: np.ndarray, per_day: np.ndarray) -> np.ndarray:
        """(hours, channel) expected counts: `per_day` per channel shaped by the hour curves."""
        hour_of_day = np.arange(self.hours) % 24
        day = np.arange(self.hours) // 24
        return per_day[None, :] * daily_level[day] * HOUR_CURVES[:, hour_of_day].T


def window_share(channel: int, first_hour_of_day: int, hour_count: int) -> float:
    """Share of a channel's daily volume that falls inside a window of hours of one day."""
    hours = (first_hour_of_day + np.arange(hour_count)) % 24
    return float(HOUR_CURVES[channel, hours].sum())
