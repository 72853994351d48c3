"""Deterministic demo data: four landing sources to the input contract, with labelled anomalies.

`generate` writes weekly files for transactions (CSV, CSV.gz), interactions (Parquet), social
(JSONL) and e-mail (NDJSON, CSV) under `out_dir`, and the ground truth to
`out_dir/labels.csv`. The same arguments always give byte-identical files.
"""

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from orchestration.contract import SOURCES
from orchestration.generator_anomalies import WARM_UP_DAYS, Anomaly, plan_anomalies
from orchestration.generator_landing import write_landing
from orchestration.generator_marketing import (
    build_email_events,
    build_social_rows,
    email_table,
    plan_social_posts,
    schedule_campaigns,
    social_campaign_by_hour,
    social_table,
)
from orchestration.generator_orders import (
    OrderContext,
    add_customer_outliers,
    build_orders,
    new_order_ids,
    order_requests,
    transactions_table,
)
from orchestration.generator_reference import build_catalog, build_customers
from orchestration.generator_sessions import interactions_table, plan_sessions
from orchestration.generator_timeline import Timeline, load_promotion_calendar

LABEL_COLUMNS = (
    "label_id",
    "kind",
    "source",
    "metric",
    "segment_type",
    "segment_value",
    "direction",
    "start_ts",
    "end_ts",
    "is_critical",
    "customer_id",
    "description",
)
MIN_DAYS = 14


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote. `rows` counts every row in distinct files (good, malformed and
    re-delivered; not the duplicated file), i.e. what ingestion should load or quarantine."""

    out_dir: Path
    start_date: date
    end_date: date
    files: dict[str, list[Path]]
    rows: dict[str, int]
    labels: int
    anomalies: int
    malformed_rows: dict[str, int]
    redelivered_rows: int
    duplicate_file: Path
    duplicate_of: Path

    @property
    def labels_path(self) -> Path:
        return self.out_dir / "labels.csv"

    def __str__(self) -> str:
        lines = [f"{self.start_date} .. {self.end_date}"]
        for source in SOURCES:
            lines.append(
                f"  {source:<13} {len(self.files[source]):>3} files {self.rows[source]:>9} rows"
                f" ({self.malformed_rows[source]} malformed)"
            )
        lines += [
            f"  labels        {self.labels} rows for {self.anomalies} anomalies ({self.labels_path.name})",
            f"  re-delivered  {self.redelivered_rows} transaction rows in a correction file",
            f"  duplicate     {self.duplicate_file.relative_to(self.out_dir)}"
            f" = {self.duplicate_of.relative_to(self.out_dir)}",
        ]
        if not self.anomalies:
            # a short demo is a quiet one: say why before someone looks for anomalies in it
            lines.append(
                f"  note          no anomalies: they start after a {WARM_UP_DAYS}-day warm-up (the"
                f" baselines' history), one every 6 days or so; generate {WARM_UP_DAYS + 10} days or more"
            )
        return "\n".join(lines)


def check_options(days: int, scale: float) -> None:
    """ValueError for options no demo can be generated with."""
    if days < MIN_DAYS:
        raise ValueError(f"days must be at least {MIN_DAYS} so that every format and quirk has a file")
    if scale <= 0:
        raise ValueError("scale must be positive")


def generate(
    out_dir: Path, days: int = 90, seed: int = 7, end_date: date | None = None, scale: float = 1.0
) -> GenerationSummary:
    """Write `days` whole UTC days ending on `end_date` (default: yesterday, UTC) into `out_dir`.

    `scale` multiplies volumes (1.0 is about 400 orders and 3000 sessions a day). Refuses to
    write into source folders that already hold files, so old and new data never mix.
    """
    check_options(days, scale)
    out_dir = Path(out_dir)
    occupied = [source for source in SOURCES if (out_dir / source).is_dir() and any((out_dir / source).iterdir())]
    if occupied:
        raise FileExistsError(f"{out_dir} already holds landing files for {', '.join(occupied)}; use an empty folder")
    end = end_date or datetime.now(UTC).date() - timedelta(days=1)

    rng = np.random.default_rng(seed)
    timeline = Timeline.ending(end, days, load_promotion_calendar())
    catalog = build_catalog(rng)
    customers = build_customers(rng, timeline.promotion_lift, scale)
    campaigns = schedule_campaigns(rng, timeline)
    anomalies, effects = plan_anomalies(rng, timeline, campaigns, customers, scale)

    email = build_email_events(rng, timeline, campaigns, customers, effects.deliverability_failures)
    posts = plan_social_posts(rng, timeline, campaigns, effects.viral_posts, scale)
    social_rows = build_social_rows(rng, timeline, posts, effects.mention_factor, scale)
    campaign_ids = [c.campaign_id for c in campaigns] + posts.social_campaign_ids

    daily_level = timeline.daily_level(rng)
    context = OrderContext.build(
        rng, timeline, catalog, customers, effects, social_campaign_by_hour(timeline, posts), scale
    )
    requests = order_requests(rng, timeline, daily_level, effects, customers, campaigns, email, scale)
    orders = add_customer_outliers(rng, context, build_orders(rng, context, requests))
    sessions = plan_sessions(rng, timeline, daily_level, effects, context.sampler, orders, email, campaigns, scale)

    tables = {
        "transactions": transactions_table(orders, catalog, customers, campaign_ids, new_order_ids(len(orders.ts))),
        "interactions": interactions_table(
            rng, timeline, effects, sessions, orders, catalog, customers, campaign_ids, context.ip_pool
        ),
        "social": social_table(social_rows, timeline, campaign_ids),
        "email": email_table(email, campaigns, customers),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    landing = write_landing(rng, out_dir, tables, timeline)
    label_rows = write_labels(out_dir / "labels.csv", anomalies, timeline)
    return GenerationSummary(
        out_dir=out_dir,
        start_date=timeline.start,
        end_date=end,
        files=landing.files,
        rows=landing.rows,
        labels=label_rows,
        anomalies=len(anomalies),
        malformed_rows=landing.malformed_rows,
        redelivered_rows=landing.redelivered_rows,
        duplicate_file=landing.duplicate_file,
        duplicate_of=landing.duplicate_of,
    )


def write_labels(path: Path, anomalies: list[Anomaly], timeline: Timeline) -> int:
    """One row per (metric, segment) where an anomaly should be visible; returns the row count."""
    rows = [
        {
            "label_id": anomaly.label_id,
            "kind": anomaly.kind,
            "source": target.source,
            "metric": target.metric,
            "segment_type": target.segment_type,
            "segment_value": target.segment_value,
            "direction": target.direction,
            "start_ts": timeline.iso(anomaly.start_hour),
            "end_ts": timeline.iso(anomaly.end_hour),
            "is_critical": str(anomaly.is_critical).lower(),
            "customer_id": anomaly.customer_id or "",
            "description": anomaly.description,
        }
        for anomaly in anomalies
        for target in anomaly.targets
    ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
