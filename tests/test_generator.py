"""The demo data generator: landing files to the input contract, quirks and truthful labels."""

import csv
import gzip
import io
import itertools
import json
import math
import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from orchestration.contract import CHANNELS, LANDING_SUFFIXES, SOURCES
from orchestration.generator import LABEL_COLUMNS, GenerationSummary, generate
from orchestration.generator_anomalies import KINDS, WARM_UP_DAYS
from orchestration.generator_timeline import PROMOTION_CALENDAR_PATH, load_promotion_calendar

END = date(2026, 10, 25)
DAYS, SEED, SCALE = 56, 5, 0.15
# Metrics and segment types per source, as docs/architecture.md names them.
METRICS = {
    "transactions": {
        "orders", "revenue", "units", "avg_order_value", "avg_unit_price", "discount_share", "cancel_rate",
        "refund_rate", "new_customer_share",
    },
    "interactions": {
        "sessions", "add_to_cart_rate", "checkout_rate", "conversion_rate", "cart_abandonment_rate",
        "bot_session_share", *(f"events_{event}" for event in SOURCES["interactions"].column("event_type").enum),
    },
    "social": {"impressions", "engagement_rate", "clicks", "mentions"},
    "email": {"delivered", "open_rate", "click_rate", "bounce_rate", "unsubscribe_rate", "complaint_rate"},
    "customers": {"customer_order_value", "customer_units", "customer_order_frequency"},
}  # fmt: skip
SEGMENT_TYPES = {
    "transactions": {"total", "channel", "category", "country", "campaign"},
    "interactions": {"total", "channel", "device"},
    "social": {"total", "platform", "campaign"},
    "email": {"total", "campaign"},
    "customers": {"customer"},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    return generate(tmp_path_factory.mktemp("generator") / "landing", days=DAYS, seed=SEED, end_date=END, scale=SCALE)


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    """Long enough for every anomaly kind to be placed at least once."""
    return generate(tmp_path_factory.mktemp("generator_long") / "landing", days=120, seed=3, end_date=END, scale=0.1)


def landed(summary: GenerationSummary, source: str, include_duplicate: bool = False) -> list[Path]:
    files = sorted(p for p in (summary.out_dir / source).rglob("*") if p.name.endswith(LANDING_SUFFIXES))
    return [p for p in files if include_duplicate or p != summary.duplicate_file]


def text_lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return handle.read().splitlines()


def raw_records(path: Path, limit: int | None = None) -> tuple[list[str], list[list] | list[dict]]:
    """(column names, records) as landed: CSV records as lists, JSON lines as dicts (or None when invalid)."""
    if path.name.endswith(".parquet"):
        table = pq.read_table(path)
        return table.column_names, table.slice(0, limit).to_pylist()
    if path.name.endswith((".jsonl", ".ndjson")):
        records = []
        for line in text_lines(path):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                records.append(None)
        return sorted({key for record in records if record for key in record}), records
    header, *rows = list(csv.reader(io.StringIO("\n".join(text_lines(path)))))
    return header, rows


_FRAMES: dict[tuple[Path, str], pd.DataFrame] = {}


def frame(summary: GenerationSummary, source: str) -> pd.DataFrame:
    """Well-formed rows of a source (malformed ones dropped), with a UTC `ts` and a normalised channel."""
    key = (summary.out_dir, source)
    if key not in _FRAMES:
        parts = []
        for path in landed(summary, source):
            if path.name.endswith(".parquet"):
                part = pq.read_table(path).to_pandas().astype(object)
            else:
                names, records = raw_records(path)
                if path.name.endswith((".jsonl", ".ndjson")):
                    part = pd.DataFrame([r for r in records if r], dtype=object)
                else:
                    part = pd.DataFrame([r for r in records if len(r) == len(names)], columns=names, dtype=object)
            part["file"] = path.relative_to(summary.out_dir).as_posix()
            parts.append(part)
        data = pd.concat(parts, ignore_index=True)
        column = {"transactions": "order_ts", "interactions": "event_ts", "social": "metric_ts", "email": "event_ts"}
        data["ts"] = parse_timestamps(data[column[source]])
        data = data[data["ts"].notna()].copy()
        if "channel" in data:
            data["channel"] = data["channel"].str.strip().str.lower().str.replace(r"[ -]", "_", regex=True)
        _FRAMES[key] = data
    return _FRAMES[key].copy()


def parse_timestamps(values: pd.Series) -> pd.Series:
    """The contract's timestamp forms: ISO-8601 with or without offset (naive is UTC), or epoch seconds."""
    text = values.astype(str)
    epoch = text.str.fullmatch(r"\d+")
    parsed = pd.to_datetime(text.where(~epoch), utc=True, format="ISO8601", errors="coerce")
    from_epoch = pd.to_datetime(pd.to_numeric(text.where(epoch)), unit="s", utc=True)
    return parsed.where(~epoch, from_epoch)


def file_bytes(summary: GenerationSummary) -> dict[str, bytes]:
    return {
        p.relative_to(summary.out_dir).as_posix(): p.read_bytes() for p in summary.out_dir.rglob("*") if p.is_file()
    }


def labels(summary: GenerationSummary) -> list[dict[str, str]]:
    with summary.labels_path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# -- determinism -----------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(run: GenerationSummary, tmp_path: Path) -> None:
    again = generate(tmp_path / "landing", days=DAYS, seed=SEED, end_date=END, scale=SCALE)
    assert file_bytes(again) == file_bytes(run)


def test_another_seed_gives_other_data(run: GenerationSummary, tmp_path: Path) -> None:
    other = file_bytes(generate(tmp_path / "landing", days=DAYS, seed=SEED + 1, end_date=END, scale=SCALE))
    original = file_bytes(run)
    differing = [name for name in original if name in other and other[name] != original[name]]
    assert len(differing) >= len(original) - 1


def test_covers_whole_days_ending_on_the_end_date(run: GenerationSummary) -> None:
    assert (run.start_date, run.end_date) == (END - timedelta(days=DAYS - 1), END)
    first = datetime.combine(run.start_date, time(), UTC)
    after = datetime.combine(END + timedelta(days=1), time(), UTC)
    for source in SOURCES:
        stamps = frame(run, source)["ts"]
        assert stamps.min() >= first
        # Social counts are stamped with the end of their hour, so the last one is the midnight after.
        assert stamps.max() <= after if source == "social" else stamps.max() < after


# -- files and formats -----------------------------------------------------------------------


def test_every_landing_format_is_used(run: GenerationSummary) -> None:
    def suffixes(source: str) -> set[str]:
        return {"".join(p.suffixes) for p in landed(run, source)}

    assert suffixes("transactions") == {".csv", ".csv.gz"}
    assert suffixes("interactions") == {".parquet"}
    assert suffixes("social") == {".jsonl"}
    assert suffixes("email") == {".ndjson", ".csv"}
    assert {source: len(landed(run, source, include_duplicate=True)) for source in SOURCES} == {
        source: len(files) for source, files in run.files.items()
    }


def test_files_are_weekly_in_month_folders(run: GenerationSummary) -> None:
    for source in SOURCES:
        files = [p for p in landed(run, source) if "_correction" not in p.name]
        assert len(files) == math.ceil((DAYS + run.start_date.weekday()) / 7)
        for path in files:
            first_day = date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", path.name).group())
            assert path.parent.name == f"{first_day:%Y-%m}"


def test_every_file_holds_every_contract_column(run: GenerationSummary) -> None:
    for source, spec in SOURCES.items():
        for path in landed(run, source, include_duplicate=True):
            names, _ = raw_records(path, limit=0)
            assert set(spec.column_names) <= set(names), path


def test_timestamp_styles_vary_as_the_contract_allows(run: GenerationSummary) -> None:
    styles = Counter()
    for source, column in (("transactions", "order_ts"), ("interactions", "event_ts"), ("email", "event_ts")):
        for path in landed(run, source):
            names, records = raw_records(path, limit=1)
            value = records[0][column] if isinstance(records[0], dict) else records[0][names.index(column)]
            if isinstance(value, int):
                styles["epoch"] += 1
            elif value.endswith("Z"):
                styles["iso_z"] += 1
            elif value.endswith("+01:00"):
                styles["offset"] += 1
            else:
                styles["naive"] += 1
    assert set(styles) == {"epoch", "iso_z", "offset", "naive"}


def test_summary_counts_every_row_in_distinct_files(run: GenerationSummary) -> None:
    for source in SOURCES:
        rows = sum(
            pq.ParquetFile(path).metadata.num_rows if path.suffix == ".parquet" else len(raw_records(path)[1])
            for path in landed(run, source)
        )
        assert rows == run.rows[source], source


def test_malformed_rows_are_landed_on_purpose(run: GenerationSummary) -> None:
    defects = Counter()
    for path in landed(run, "transactions"):
        names, records = raw_records(path)
        rows = pd.DataFrame([r for r in records if len(r) == len(names)], columns=names)
        defects["too_few_fields"] += len(records) - len(rows)
        defects["bad_timestamp"] += int(parse_timestamps(rows["order_ts"]).isna().sum())
        defects["negative_quantity"] += int((rows["quantity"].astype(int) < 0).sum())
        channel = rows["channel"].str.strip().str.lower().str.replace(r"[ -]", "_", regex=True)
        defects["unknown_channel"] += int((~channel.isin(CHANNELS)).sum())
        defects["missing_order_id"] += int((rows["order_id"] == "").sum())
    for path in landed(run, "social"):
        defects["invalid_json"] += sum(record is None for record in raw_records(path)[1])
    email = frame(run, "email")
    defects["unknown_email_event"] += int((~email["event_type"].isin(SOURCES["email"].column("event_type").enum)).sum())
    email_csv = [record[4] for path in landed(run, "email") if path.suffix == ".csv" for record in raw_records(path)[1]]
    defects["bad_email_timestamp"] = int(parse_timestamps(pd.Series(email_csv)).isna().sum())
    devices = frame(run, "interactions")["device"]
    defects["unknown_device"] += int((~devices.isin(SOURCES["interactions"].column("device").enum)).sum())
    assert all(count == 1 for count in defects.values()), defects
    assert len(defects) == sum(run.malformed_rows.values()) == 9


def test_one_file_is_landed_twice_under_another_name(run: GenerationSummary) -> None:
    assert run.duplicate_file.read_bytes() == run.duplicate_of.read_bytes()
    assert run.duplicate_file.name != run.duplicate_of.name
    assert run.duplicate_file.parent != run.duplicate_of.parent
    assert run.duplicate_file in run.files["transactions"]


def test_a_correction_redelivers_rows_with_the_same_natural_key(run: GenerationSummary) -> None:
    orders = frame(run, "transactions")
    repeated = orders[orders.duplicated(["order_id", "line_number"], keep=False)].sort_values("file")
    assert len(repeated) == 2 * run.redelivered_rows > 0
    latest = repeated.drop_duplicates(["order_id", "line_number"], keep="last")
    assert set(latest["status"]) == {"refunded"}
    assert latest["file"].str.contains("_correction").all()


def test_channel_values_are_sometimes_spelled_loosely(run: GenerationSummary) -> None:
    for path in (landed(run, "transactions")[0], landed(run, "interactions")[0]):
        names, records = raw_records(path, limit=5000)
        channels = {r["channel"] if isinstance(r, dict) else r[names.index("channel")] for r in records}
        assert channels - set(CHANNELS), path


def test_raw_files_carry_pii_for_masking_to_hide(run: GenerationSummary) -> None:
    orders, events, email, social = (
        frame(run, source) for source in ("transactions", "interactions", "email", "social")
    )
    email_pattern = r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$"
    assert orders["customer_email"].str.match(email_pattern).mean() > 0.9
    assert orders["customer_phone"].str.match(r"^\+\d{1,3} \d{3} \d{9}$").sum() > 100
    assert orders["customer_id"].str.match(r"^C\d{8}$").sum() > 100
    ips = events["ip_address"].dropna()
    assert ips.str.match(r"^\d{1,3}(\.\d{1,3}){3}$").any() and ips.str.contains(":").any()
    assert events["user_agent"].str.startswith("Mozilla/5.0").mean() > 0.5
    clicks = email[email["event_type"] == "click"]["link_url"]
    assert clicks.str.contains(r"[?&]email=[^&]+@", regex=True).all()
    assert email["recipient_email"].str.match(email_pattern).all()
    handles = set(social["account_handle"])
    assert any(h.startswith("@") and "northwind" not in h for h in handles)


# -- behaviour -------------------------------------------------------------------------------


def test_volumes_are_realistic_for_the_scale(run: GenerationSummary) -> None:
    orders = frame(run, "transactions")
    assert 300 * SCALE < orders["order_id"].nunique() / DAYS < 550 * SCALE
    assert 1.3 < len(orders) / orders["order_id"].nunique() < 2.5
    events = frame(run, "interactions")
    sessions = events.groupby("session_id")["event_type"].agg(lambda types: "purchase" in set(types))
    assert 2500 * SCALE < len(sessions) / DAYS < 4500 * SCALE
    assert 0.02 < sessions.mean() < 0.05
    assert 1000 * SCALE < len(frame(run, "email")) / DAYS < 5000 * SCALE


def test_weekly_seasonality(run: GenerationSummary) -> None:
    orders = frame(run, "transactions").drop_duplicates("order_id")
    per_day = orders.groupby([orders["ts"].dt.date, "channel"]).size().unstack(fill_value=0)
    weekday = pd.Series([d.weekday() for d in per_day.index], index=per_day.index)
    store = per_day["store"].groupby(weekday).mean()
    assert store[5] > 2 * store[6]  # stores are busiest on Saturday, quiet on Sunday
    online = per_day[["web", "app"]].sum(axis=1).groupby(weekday).mean()
    assert online[[5, 6]].mean() > 1.05 * online[[0, 1, 2, 3]].mean()


def test_newsletters_lift_orders_for_a_day_or_two(run: GenerationSummary) -> None:
    email = frame(run, "email")
    sends = email[email["event_type"] == "sent"].groupby("campaign_id")["ts"].min()
    orders = frame(run, "transactions").drop_duplicates("order_id")
    attributed = orders[orders["campaign_id"].isin(sends.index)]
    lag = attributed["ts"] - attributed["campaign_id"].map(sends)
    assert len(attributed) > 50
    assert ((lag >= timedelta(0)) & (lag < timedelta(hours=48))).all()
    per_day = orders.groupby(orders["ts"].dt.date).size()
    send_days = set(sends.dt.date)
    quiet = [d for d in per_day.index if d not in send_days and d - timedelta(days=1) not in send_days]
    assert per_day[sorted(send_days & set(per_day.index))].mean() > 1.08 * per_day[quiet].mean()


def test_planned_peaks_follow_the_promotion_calendar(tmp_path: Path) -> None:
    summary = generate(tmp_path / "landing", days=21, seed=2, end_date=date(2026, 12, 3), scale=0.1)
    orders = frame(summary, "transactions").drop_duplicates("order_id")
    per_day = orders.groupby(orders["ts"].dt.date).size()
    calendar = load_promotion_calendar()
    ordinary = per_day[[d for d in per_day.index if d not in calendar]]
    assert per_day[date(2026, 11, 27)] > 1.8 * ordinary.median()  # Black Friday
    assert per_day[date(2026, 11, 30)] > 1.5 * ordinary.median()  # Cyber Monday
    # three weeks hold no anomaly yet, and the summary says why
    assert summary.anomalies == 0
    assert "no anomalies: they start after a 35-day warm-up" in str(summary)


def test_promotion_calendar_seed() -> None:
    with PROMOTION_CALENDAR_PATH.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["calendar_date", "event_name", "event_type", "expected_lift"]
    days = [date.fromisoformat(row["calendar_date"]) for row in rows]
    assert len(set(days)) == len(days)
    assert all(float(row["expected_lift"]) > 0 for row in rows)
    for year in range(2024, 2028):
        black_friday = [
            d for d, row in zip(days, rows, strict=True) if row["event_name"] == "black_friday" and d.year == year
        ]
        assert len(black_friday) == 1 and black_friday[0].weekday() == 4 and 22 <= black_friday[0].day <= 28
        assert date(year, 12, 25) in days and date(year, 2, 14) in days


def test_generate_refuses_a_landing_folder_that_holds_files(run: GenerationSummary) -> None:
    with pytest.raises(FileExistsError):
        generate(run.out_dir, days=DAYS, seed=SEED, end_date=END, scale=SCALE)


# -- ground truth ----------------------------------------------------------------------------


def test_labels_file_follows_the_architecture(long_run: GenerationSummary) -> None:
    with long_run.labels_path.open(newline="") as handle:
        assert next(csv.reader(handle)) == list(LABEL_COLUMNS) == [
            "label_id", "kind", "source", "metric", "segment_type", "segment_value", "direction",
            "start_ts", "end_ts", "is_critical", "customer_id", "description",
        ]  # fmt: skip
    rows = labels(long_run)
    assert len(rows) == long_run.labels
    assert {row["kind"] for row in rows} == set(KINDS)
    assert len({row["label_id"] for row in rows}) == long_run.anomalies
    for row in rows:
        assert row["metric"] in METRICS[row["source"]], row
        assert row["segment_type"] in SEGMENT_TYPES[row["source"]], row
        assert row["direction"] in ("spike", "drop")
        assert row["is_critical"] in ("true", "false")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:00:00Z", row["start_ts"]) and row["start_ts"] < row["end_ts"]
        assert (row["segment_value"] == "all") == (row["segment_type"] == "total")
        is_customer = row["kind"] == "customer_outlier"
        assert bool(row["customer_id"]) == is_customer
        assert not is_customer or row["segment_value"] == row["customer_id"]
    keys = [(r["label_id"], r["source"], r["metric"], r["segment_type"], r["segment_value"]) for r in rows]
    assert len(set(keys)) == len(keys)
    critical = {row["label_id"]: row["is_critical"] for row in rows}
    assert set(critical.values()) == {"true", "false"}


def test_anomalies_follow_the_warm_up_never_overlap_and_avoid_planned_peaks(long_run: GenerationSummary) -> None:
    windows = sorted({(row["start_ts"], row["end_ts"]) for row in labels(long_run)})
    promotions = {d for d in load_promotion_calendar() if long_run.start_date <= d <= long_run.end_date}
    assert promotions, "the long run should cover planned promotion days"
    assert windows[0][0] >= f"{long_run.start_date + timedelta(days=WARM_UP_DAYS)}"
    for (_, end), (next_start, _) in itertools.pairwise(windows):
        assert end <= next_start
    for start, end in windows:
        first, last = date.fromisoformat(start[:10]), date.fromisoformat(end[:10])
        assert not any(first <= d <= last for d in promotions), (start, end)


def test_labelled_volume_changes_are_visible_in_the_data(long_run: GenerationSummary) -> None:
    """Orders and sessions in a labelled window against the same hours one and two periods earlier."""
    data = {
        ("transactions", "orders"): frame(long_run, "transactions").drop_duplicates("order_id"),
        ("interactions", "sessions"): frame(long_run, "interactions").drop_duplicates("session_id"),
    }
    checked = 0
    for row in labels(long_run):
        rows = data.get((row["source"], row["metric"]))
        if rows is None or row["segment_type"] not in ("total", "channel"):
            continue
        if row["segment_type"] == "channel":
            rows = rows[rows["channel"] == row["segment_value"]]
        start, end = (datetime.fromisoformat(row[column]) for column in ("start_ts", "end_ts"))
        if row["kind"] == "drift":
            start = end - timedelta(days=1)  # judged on its last day, where it has ramped furthest
        period = timedelta(weeks=math.ceil((end - start) / timedelta(weeks=1)))

        def count(shift: timedelta, rows: pd.DataFrame = rows, start: datetime = start, end: datetime = end) -> int:
            return int(((rows["ts"] >= start - shift) & (rows["ts"] < end - shift)).sum())

        baseline = (count(period) + count(2 * period)) / 2
        if baseline < 20:
            continue
        ratio = count(timedelta(0)) / baseline
        assert ratio < 0.8 if row["direction"] == "drop" else ratio > 1.2, (
            row["label_id"],
            row["kind"],
            row["metric"],
            ratio,
        )
        checked += 1
    assert checked >= 5
