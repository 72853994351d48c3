"""Geometry of an inline SVG chart of one metric series: the observed line, the expected value
and its band, and the flagged periods. The HTML template draws it; no script, no fetch."""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH = 760
HEIGHT = 260
MARGIN_LEFT = 72
MARGIN_RIGHT = 44
MARGIN_TOP = 14
MARGIN_BOTTOM = 48
X_TICK_COUNT = 6
Y_TICK_COUNT = 5
DATE_FORMATS = {"day": "%Y-%m-%d", "hour": "%m-%d %H:00"}
# What a missing value reads as, in charts and tables alike.
MISSING = "—"


@dataclass(frozen=True)
class SeriesPoint:
    period_start: datetime
    value: float | None
    expected: float | None
    lower_bound: float | None
    upper_bound: float | None


@dataclass(frozen=True)
class FlaggedPoint:
    period_start: datetime
    observed: float
    expected: float | None
    # False for a period of the same series flagged in another incident (drawn muted).
    in_incident: bool = True


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str
    in_incident: bool = True


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    observed_path: str
    # Observed values with no neighbour to join (sparse series, e.g. e-mail sends): drawn as dots.
    observed_dots: tuple[tuple[float, float], ...]
    expected_path: str
    band_path: str
    flagged: tuple[Marker, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    y_label: str
    x_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    right: int = WIDTH - MARGIN_RIGHT
    top: int = MARGIN_TOP
    bottom: int = HEIGHT - MARGIN_BOTTOM


def format_number(value: float | None) -> str:
    """Readable at a glance: thousands separators for counts and money, decimals for rates."""
    if value is None:
        return MISSING
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        # A count stays whole: 68, not 68.00.
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3f}".rstrip("0").rstrip(".") if value else "0"


def format_value(value: float | None, unit: str = "number") -> str:
    """A metric value in its unit (`metric_unit`): a `percent` metric is a fraction, shown as a
    percentage (0.032 -> 3.2%); any other as format_number."""
    if value is None or unit != "percent":
        return format_number(value)
    return f"{format_number(100 * value)}%"


def format_deviation(value: float | None, unit: str = "number") -> str:
    """A difference of two metric values, signed: a `percent` metric's in percentage points
    (0.021 - 0.032 -> -1.1 pp, not -1.1%, which would read as relative), any other as format_number."""
    if value is None:
        return MISSING
    text = format_number(100 * value) + " pp" if unit == "percent" else format_number(value)
    return text if text.startswith("-") or not value else f"+{text}"


def _nice_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Round values, all labelled with the decimals their step needs (0, 20, 40 or 0.25, 0.50)."""
    raw_step = (high - low) / Y_TICK_COUNT
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    decimals = len(f"{step:.10f}".rstrip("0").split(".")[1])
    first = math.ceil(low / step) * step
    values = [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]
    # + 0.0 turns -0.0 into 0.0, which would print as "-0".
    return [(value, f"{round(value, decimals) + 0.0:,.{decimals}f}") for value in values]


def _y_ticks(low: float, high: float, unit: str, y_of: Callable[[float], float]) -> tuple[Tick, ...]:
    """Round values of the axis; a percent metric's axis is ticked at round percentages (2.5%, 3%)."""
    scale = 100 if unit == "percent" else 1
    return tuple(
        Tick(position=y_of(value / scale), label=f"{label}%" if unit == "percent" else label)
        for value, label in _nice_ticks(low * scale, high * scale)
    )


def _runs(points: Iterable[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Split a line at missing values (e.g. periods before a baseline exists)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _line_path(run: list[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in run)


def build_chart(
    points: Sequence[SeriesPoint],
    flagged: Sequence[FlaggedPoint],
    grain: str,
    metric: str,
    unit: str = "number",
    currency: str | None = None,
) -> Chart | None:
    """Scale the series into the plot area; None when there is nothing to draw. A `percent`
    metric's axis and labels read in percent; a `currency` metric's axis names its currency."""
    if not points:
        return None
    values = [
        v
        for p in points
        for v in (p.value, p.expected, p.lower_bound, p.upper_bound)
        if v is not None
    ] + [f.observed for f in flagged]
    low, high = min(values), max(values)
    padding = (high - low) * 0.05 or abs(high) * 0.1 or 1.0
    low, high = low - padding, high + padding
    first_time = points[0].period_start.timestamp()
    time_span = points[-1].period_start.timestamp() - first_time
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM

    def x_of(moment: datetime) -> float:
        if not time_span:
            return (left + right) / 2
        return left + (moment.timestamp() - first_time) / time_span * (right - left)

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    def xy(moment: datetime, value: float | None) -> tuple[float, float] | None:
        return None if value is None else (x_of(moment), y_of(value))

    band_runs = _runs(
        None
        if p.lower_bound is None or p.upper_bound is None
        else (x_of(p.period_start), p.lower_bound, p.upper_bound)
        for p in points
    )
    band_path = " ".join(
        _line_path([(x, y_of(upper)) for x, _, upper in run] + [(x, y_of(lower)) for x, lower, _ in reversed(run)])
        + " Z"
        for run in band_runs
    )
    observed_runs = _runs(xy(p.period_start, p.value) for p in points)
    date_format = DATE_FORMATS.get(grain, DATE_FORMATS["day"])
    tick_indexes = sorted({round(i * (len(points) - 1) / (X_TICK_COUNT - 1)) for i in range(X_TICK_COUNT)})
    axis_unit = "%" if unit == "percent" else currency
    return Chart(
        observed_path=" ".join(_line_path(run) for run in observed_runs if len(run) > 1),
        observed_dots=tuple(run[0] for run in observed_runs if len(run) == 1),
        expected_path=" ".join(_line_path(run) for run in _runs(xy(p.period_start, p.expected) for p in points)),
        band_path=band_path,
        flagged=tuple(
            Marker(
                x=x_of(f.period_start),
                y=y_of(f.observed),
                label=f"{f.period_start.strftime(date_format)}: {format_value(f.observed, unit)}"
                f" (expected {format_value(f.expected, unit)})",
                in_incident=f.in_incident,
            )
            for f in flagged
        ),
        x_ticks=tuple(
            Tick(position=x_of(points[i].period_start), label=points[i].period_start.strftime(date_format))
            for i in tick_indexes
        ),
        y_ticks=_y_ticks(low, high, unit, y_of),
        y_label=f"{metric} ({axis_unit})" if axis_unit else metric,
        x_label=f"{grain} (UTC)",
    )
