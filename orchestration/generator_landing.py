"""Landing files for the demo generator: weekly files per source, every contract format, and quirks.

Quirks on purpose, so that ingestion is exercised: timestamp styles vary by file, channel
values are sometimes spelled loosely, a handful of rows are malformed, a few rows are
re-delivered in a correction file, and one file is landed twice under another name.
"""

import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.generator_timeline import SECONDS_PER_DAY, Timeline

TIMESTAMP_COLUMNS = {"transactions": "order_ts", "interactions": "event_ts", "social": "metric_ts", "email": "event_ts"}
_FILE_PREFIX = {"transactions": "orders", "interactions": "events", "social": "engagement", "email": "email_events"}
# Social rows are stamped with the end of their hour; file them by the hour's start.
_PERIOD_SHIFT = {"social": -3600}
_CHANNEL_SPELLINGS = {
    "web": ("Web", "WEB", " web"),
    "app": ("App", " APP "),
    "marketplace": ("Marketplace", "MARKETPLACE"),
    "store": ("Store", "store "),
    "social_shop": ("Social Shop", "social-shop", "SOCIAL_SHOP"),
}


def file_format(source: str, week: int) -> tuple[str, str]:
    """(suffix, timestamp style) of the source's file for the n-th week."""
    if source == "transactions":
        return (".csv.gz", "offset") if week % 3 == 2 else (".csv", "iso_z" if week % 2 == 0 else "naive")
    if source == "interactions":
        return ".parquet", "epoch" if week % 2 == 0 else "iso_z"
    if source == "social":
        return ".jsonl", "iso_z" if week % 2 == 0 else "offset"
    return (".ndjson", "epoch") if week % 2 == 0 else (".csv", "naive")


def format_timestamps(seconds: pa.Array, style: str) -> pa.Array:
    """Epoch seconds as `2026-03-01T14:03:22Z`, `2026-03-01 15:03:22+01:00`, `2026-03-01T14:03:22` or unchanged."""
    if style == "epoch":
        return seconds
    values = seconds.to_numpy(zero_copy_only=False)
    if style == "offset":
        text = np.strings.replace(np.datetime_as_string((values + 3600).astype("datetime64[s]"), unit="s"), "T", " ")
        return pa.array(np.strings.add(text, "+01:00"))
    text = np.datetime_as_string(values.astype("datetime64[s]"), unit="s")
    return pa.array(np.strings.add(text, "Z") if style == "iso_z" else text)


def vary_channel_spelling(rng: np.random.Generator, table: pa.Table, share: float = 0.01) -> pa.Table:
    """Spell about `share` of channel values loosely (`Web`, ` APP `, `Social Shop`)."""
    channel = table["channel"].to_numpy(zero_copy_only=False).astype(object)
    for canonical, spellings in _CHANNEL_SPELLINGS.items():
        chosen = np.flatnonzero((channel == canonical) & (rng.random(len(channel)) < share))
        channel[chosen] = np.array(spellings, dtype=object)[rng.integers(0, len(spellings), len(chosen))]
    return table.set_column(table.schema.get_field_index("channel"), "channel", pa.array(channel, pa.string()))


@dataclass
class LandingFile:
    """One file to land: well-formed rows plus malformed ones to scatter among them."""

    source: str
    path: Path  # relative to the landing folder
    table: pa.Table  # timestamps already formatted
    bad_records: list[dict] = field(default_factory=list)  # right shape, unusable values
    bad_lines: list[str] = field(default_factory=list)  # not a record at all (CSV and JSONL only)

    @property
    def rows(self) -> int:
        return self.table.num_rows + len(self.bad_records) + len(self.bad_lines)

    @property
    def malformed(self) -> int:
        return len(self.bad_records) + len(self.bad_lines)

    def serialize(self, rng: np.random.Generator) -> bytes:
        name = self.path.name
        if name.endswith(".parquet"):
            return self._parquet(rng)
        if name.endswith((".jsonl", ".ndjson")):
            lines = [_json_line(record) for record in self.table.to_pylist()]
            extra = [_json_line(record) for record in self.bad_records] + [
                f"{line}\n".encode() for line in self.bad_lines
            ]
            return b"".join(_scatter(rng, lines, extra))
        header, *lines = _csv_lines(self.table, header=True)
        bad = pa.Table.from_pylist(self.bad_records, schema=self.table.schema)
        extra = (_csv_lines(bad, header=False) if self.bad_records else []) + [
            f"{line}\n".encode() for line in self.bad_lines
        ]
        data = b"".join([header, *_scatter(rng, lines, extra)])
        return gzip.compress(data, compresslevel=6, mtime=0) if name.endswith(".gz") else data

    def _parquet(self, rng: np.random.Generator) -> bytes:
        rows: list[pa.Table] = []
        positions = np.sort(rng.integers(0, self.table.num_rows + 1, len(self.bad_records)))
        start = 0
        for position, record in zip(positions, self.bad_records, strict=True):
            rows += [
                self.table.slice(start, position - start),
                pa.Table.from_pylist([record], schema=self.table.schema),
            ]
            start = position
        rows.append(self.table.slice(start))
        buffer = io.BytesIO()
        pq.write_table(pa.concat_tables(rows), buffer, compression="snappy")
        return buffer.getvalue()


def _json_line(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _csv_lines(table: pa.Table, header: bool) -> list[bytes]:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=header, quoting_style="needed"))
    return buffer.getvalue().splitlines(keepends=True)


def _scatter(rng: np.random.Generator, lines: list[bytes], extra: list[bytes]) -> list[bytes]:
    """`lines` with each of `extra` inserted at a random position."""
    result = list(lines)
    for line in extra:
        result.insert(int(rng.integers(0, len(result) + 1)), line)
    return result


def weekly_files(source: str, table: pa.Table, timeline: Timeline) -> list[LandingFile]:
    """One file per source per ISO week, in a folder per month, named after the week's first day."""
    column = TIMESTAMP_COLUMNS[source]
    seconds = table[column].to_numpy()
    if (np.diff(seconds) < 0).any():
        order = np.argsort(seconds, kind="stable")
        table, seconds = table.take(pa.array(order)), seconds[order]
    day = (seconds + _PERIOD_SHIFT.get(source, 0) - timeline.t0) // SECONDS_PER_DAY
    week = (day + timeline.start.weekday()) // 7
    numbers, starts, counts = np.unique(week, return_index=True, return_counts=True)
    files = []
    for index, (number, start, count) in enumerate(zip(numbers, starts, counts, strict=True)):
        first_day = timeline.date_of(max(0, int(number) * 7 - timeline.start.weekday()))
        suffix, style = file_format(source, index)
        part = table.slice(int(start), int(count))
        part = part.set_column(
            part.schema.get_field_index(column), column, format_timestamps(part[column].combine_chunks(), style)
        )
        path = Path(source) / f"{first_day:%Y-%m}" / f"{_FILE_PREFIX[source]}_{first_day:%Y-%m-%d}{suffix}"
        files.append(LandingFile(source, path, part))
    return files


def _pick(files: list[LandingFile], suffix: str, avoid: tuple[LandingFile, ...] = ()) -> LandingFile:
    """The middle file with `suffix`, skipping `avoid`."""
    candidates = [f for f in files if f.path.name.endswith(suffix) and f not in avoid]
    return candidates[len(candidates) // 2]


def _template(rng: np.random.Generator, file: LandingFile) -> dict:
    return file.table.slice(int(rng.integers(0, file.table.num_rows)), 1).to_pylist()[0]


def _defective(rng: np.random.Generator, file: LandingFile, key: str, **defect: object) -> dict:
    """A copy of a random row with a defect, under a key of its own so it shadows no good row."""
    row = _template(rng, file)
    return row | {key: f"{row[key]}-{len(file.bad_records) + 1}"} | defect


def inject_malformed_rows(rng: np.random.Generator, files: dict[str, list[LandingFile]]) -> None:
    """A handful of rows ingestion must quarantine, each with a different defect."""
    orders = _pick(files["transactions"], ".csv")
    row = _template(rng, orders)
    orders.bad_lines.append(",".join(str(row[name]) for name in ("order_id", "line_number", "order_ts", "sku")))
    impossible_time = f"{str(row['order_ts'])[:10]}T25:61:00Z"
    for defect in ({"order_ts": impossible_time}, {"quantity": -2}, {"channel": "telephone"}):
        orders.bad_records.append(_defective(rng, orders, "order_id", **defect))
    orders.bad_records.append(_template(rng, orders) | {"order_id": None})
    events = _pick(files["interactions"], ".parquet")
    events.bad_records.append(_defective(rng, events, "event_id", device="smart_tv"))
    social = _pick(files["social"], ".jsonl")
    line = _json_line(_template(rng, social)).decode()
    social.bad_lines.append(line[: len(line) // 2])
    email_json = _pick(files["email"], ".ndjson")
    email_json.bad_records.append(_template(rng, email_json) | {"event_type": "deferred"})
    email_csv = _pick(files["email"], ".csv")
    email_csv.bad_records.append(_template(rng, email_csv) | {"event_ts": "31/13/2026 10:00"})


def correction_file(rng: np.random.Generator, files: list[LandingFile], avoid: tuple[LandingFile, ...]) -> LandingFile:
    """Two completed orders re-delivered later as refunded, with the same (order_id, line_number)."""
    original = _pick(files, ".csv", avoid)
    table = original.table
    completed = np.unique(
        np.array(table.filter(pc.equal(table["status"], "completed"))["order_id"].to_pylist(), dtype=object)
    )
    chosen = set(rng.choice(completed, size=min(2, len(completed)), replace=False).tolist())
    rows = table.filter(pc.is_in(table["order_id"], pa.array(sorted(chosen))))
    rows = rows.set_column(rows.schema.get_field_index("status"), "status", pa.array(["refunded"] * rows.num_rows))
    name = original.path.name.split(".", 1)[0]
    return LandingFile(original.source, original.path.with_name(f"{name}_correction.csv"), rows)


@dataclass(frozen=True)
class LandingReport:
    files: dict[str, list[Path]]
    rows: dict[str, int]
    malformed_rows: dict[str, int]
    redelivered_rows: int
    duplicate_file: Path
    duplicate_of: Path


def write_landing(
    rng: np.random.Generator, out_dir: Path, tables: dict[str, pa.Table], timeline: Timeline
) -> LandingReport:
    """Write every source's weekly files with the quirks; returns what was written."""
    for source in ("transactions", "interactions"):
        tables[source] = vary_channel_spelling(rng, tables[source])
    files = {source: weekly_files(source, table, timeline) for source, table in tables.items()}
    inject_malformed_rows(rng, files)
    malformed_file = next(f for f in files["transactions"] if f.malformed)
    correction = correction_file(rng, files["transactions"], avoid=(malformed_file,))
    files["transactions"].append(correction)

    for landing_file in (f for source_files in files.values() for f in source_files):
        target = out_dir / landing_file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(landing_file.serialize(rng))

    duplicate_of = files["transactions"][0].path
    name, suffix = duplicate_of.name.split(".", 1)
    duplicate = Path("transactions") / "redelivered" / f"{name}_resent.{suffix}"
    (out_dir / duplicate).parent.mkdir(parents=True, exist_ok=True)
    (out_dir / duplicate).write_bytes((out_dir / duplicate_of).read_bytes())
    return LandingReport(
        files={
            source: [out_dir / f.path for f in source_files]
            + ([out_dir / duplicate] if source == "transactions" else [])
            for source, source_files in files.items()
        },
        rows={source: sum(f.rows for f in source_files) for source, source_files in files.items()},
        malformed_rows={source: sum(f.malformed for f in source_files) for source, source_files in files.items()},
        redelivered_rows=correction.table.num_rows,
        duplicate_file=out_dir / duplicate,
        duplicate_of=out_dir / duplicate_of,
    )
