"""The HTML anomaly report and its Markdown summary, read back as a parser and a browser would."""

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from orchestration import report_html
from orchestration.report_chart import FlaggedPoint, SeriesPoint, build_chart, format_deviation, format_number
from orchestration.report_html import render_markdown_summary, render_report
from orchestration.report_incidents import SEVERITIES
from headless_chromium import ARTIFACTS_DIR, render_page
from report_warehouse import CONTRIBUTIONS, OBSERVATIONS, build_report_warehouse, execute

HOSTILE_HEADLINE = '<script>alert("x")</script> revenue & <b>orders</b>'
HOSTILE_DRIVER = "<img src=x onerror=alert(1)> promo | code"


KPI_TABLES = ("kpi-rollup", "kpi-detail")


class ReportParser(HTMLParser):
    """Collects what a reader sees: incident sections with their chart parts and drill-down,
    and the detection KPI tables (header and body rows, cell texts)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.incidents: list[dict] = []
        self.kpi_tables: dict[str, list[list[str]]] = {}
        self._incident: dict | None = None
        self._cell: list[str] | None = None
        self._in_drilldown = False
        self._kpi_rows: list[list[str]] | None = None
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        self.tags.append(tag)
        if tag == "article" and "incident" in classes:
            self._incident = {
                "id": attributes["data-incident-id"],
                "severity": classes[1],
                "svgs": 0,
                "band_paths": [],
                "observed_paths": [],
                "flagged_fills": [],
                "flagged_elsewhere": 0,
                "observed_dots": 0,
                "drilldown": [],
                "drilldown_caption": "",
            }
            self.incidents.append(self._incident)
        if tag == "table" and classes and classes[0] in KPI_TABLES:
            self._kpi_rows = self.kpi_tables.setdefault(classes[0], [])
        elif tag == "tr" and self._kpi_rows is not None:
            self._kpi_rows.append([])
        elif tag in ("th", "td") and self._kpi_rows is not None:
            self._cell = []
        if self._incident is None:
            return
        if tag == "svg":
            self._incident["svgs"] += 1
        elif tag == "path" and "band" in classes:
            self._incident["band_paths"].append(attributes["d"])
        elif tag == "path" and "observed" in classes:
            self._incident["observed_paths"].append(attributes["d"])
        elif tag == "circle" and "flagged" in classes:
            self._incident["flagged_fills"].append(attributes["fill"])
        elif tag == "circle" and "flagged-elsewhere" in classes:
            self._incident["flagged_elsewhere"] += 1
        elif tag == "circle" and "observed-dot" in classes:
            self._incident["observed_dots"] += 1
        elif tag == "table" and "drilldown" in classes:
            self._in_drilldown = True
        elif tag == "tr" and self._in_drilldown:
            self._incident["drilldown"].append([])
        elif tag == "td" and self._in_drilldown:
            self._cell = []
        elif tag == "caption" and self._in_drilldown:
            self._caption = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._incident = None
        elif tag == "table":
            self._in_drilldown = False
            self._kpi_rows = None
        elif tag == "caption" and self._caption is not None and self._incident is not None:
            self._incident["drilldown_caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("th", "td") and self._cell is not None and self._kpi_rows is not None:
            self._kpi_rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "td" and self._cell is not None and self._incident is not None:
            self._incident["drilldown"][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)

    @property
    def visible_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(page: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_report_warehouse(tmp_path / "warehouse.duckdb")


def render(warehouse: Path, tmp_path: Path) -> tuple[str, ReportParser]:
    out_path = tmp_path / "report" / "anomaly_report.html"
    summary = render_report(warehouse, out_path, run_label="run-42")
    assert summary.out_path == out_path
    assert [path.name for path in out_path.parent.iterdir()] == ["anomaly_report.html"]
    page = out_path.read_text(encoding="utf-8")
    return page, parse(page)


def test_incidents_are_ranked_by_severity_then_score(warehouse: Path, tmp_path: Path) -> None:
    incidents = execute(warehouse, "select incident_id, peak_severity, peak_score from reports.anomaly_incidents")
    expected = [row[0] for row in sorted(incidents, key=lambda row: (SEVERITIES.index(row[1]), -row[2]))]
    # The fixture has a warning that outscores a critical: ranking by score alone would differ.
    assert expected != [row[0] for row in sorted(incidents, key=lambda row: -row[2])]

    _, report = render(warehouse, tmp_path)

    severity_of = {incident_id: severity for incident_id, severity, _ in incidents}
    assert [incident["id"] for incident in report.incidents] == expected
    assert [incident["severity"] for incident in report.incidents] == [severity_of[i] for i in expected]


def test_each_incident_has_one_chart_with_band_line_and_flagged_points(warehouse: Path, tmp_path: Path) -> None:
    event_counts = dict(execute(warehouse, "select incident_id, event_count from reports.anomaly_incidents"))

    _, report = render(warehouse, tmp_path)

    assert len(report.incidents) == len(event_counts)
    for incident in report.incidents:
        assert incident["svgs"] == 1
        assert len(incident["band_paths"]) == 1 and incident["band_paths"][0].startswith("M")
        assert len(incident["observed_paths"]) == 1 and incident["observed_paths"][0].startswith("M")
        assert 1 <= len(incident["flagged_fills"]) <= event_counts[incident["id"]]
        assert set(incident["flagged_fills"]) == {"#dc2626"}


def test_chart_tells_this_incidents_flags_from_another_incidents(warehouse: Path, tmp_path: Path) -> None:
    # The charted series is the one of the incident's highest-scoring event; its first flagged
    # day becomes part of another incident.
    ((segment_type, segment_value),) = execute(
        warehouse,
        "select segment_type, segment_value from reports.anomaly_events where incident_id = 'inc_revenue'"
        " order by score desc limit 1",
    )
    charted = f"segment_type = '{segment_type}' and segment_value = '{segment_value}'"
    execute(
        warehouse,
        f"""
        update reports.anomaly_events set incident_id = 'inc_other'
        where anomaly_id = (
            select anomaly_id from reports.anomaly_events
            where incident_id = 'inc_revenue' and {charted} order by period_start limit 1
        )
        """,
    )
    ((total_flags,),) = execute(
        warehouse, f"select count(*) from reports.anomaly_events where incident_id = 'inc_revenue' and {charted}"
    )

    _, report = render(warehouse, tmp_path)

    revenue = next(incident for incident in report.incidents if incident["id"] == "inc_revenue")
    assert len(revenue["flagged_fills"]) == total_flags >= 1
    assert revenue["flagged_elsewhere"] == 1
    assert "flagged in another incident" in report.visible_text
    assert all(incident["flagged_elsewhere"] == 0 for incident in report.incidents if incident is not revenue)


def test_header_counts_incidents_and_shows_kpis(warehouse: Path, tmp_path: Path) -> None:
    by_severity = dict(execute(warehouse, "select peak_severity, count(*) from reports.anomaly_incidents group by 1"))
    detectors = [row[0] for row in execute(warehouse, "select distinct detector from reports.detection_kpis")]

    _, report = render(warehouse, tmp_path)

    text = report.visible_text
    assert "run-42" in text
    for severity in SEVERITIES:
        assert f"{by_severity.get(severity, 0)} {severity} incidents" in text
    assert "Detection quality" in text
    assert all(detector in text for detector in detectors)


def drilldown_rows(report: ReportParser, incident_id: str) -> list[list[str]]:
    incident = next(incident for incident in report.incidents if incident["id"] == incident_id)
    return [row for row in incident["drilldown"] if row]


def test_detection_quality_summary_reads_the_roll_up_rows(warehouse: Path, tmp_path: Path) -> None:
    # The fixture's two transactions labels have rows on revenue and orders: adding up the
    # per-metric and per-source rows would count them (and their flagged cells) over again.
    ((summed_labels, summed_flags),) = execute(
        warehouse,
        "select sum(labelled_anomalies), sum(flagged_cells) from reports.detection_kpis"
        " where detector = 'robust_z' and basis = 'labels'",
    )
    assert (summed_labels, summed_flags) != (3, 11)

    _, report = render(warehouse, tmp_path)

    header, *rows = report.kpi_tables["kpi-rollup"]
    assert header[:4] == ["detector", "basis", "labelled", "detected"]
    assert rows == [
        # the source = 'all', metric = 'all' rows, as the model computed them
        ["ensemble", "feedback", "—", "—", "—", "4", "1", "75%", "—"],
        ["robust_z", "labels", "3", "2", "67%", "11", "1", "91%", "6"],
        ["seasonal", "labels", "3", "1", "33%", "3", "0", "100%", "24"],
    ]
    markdown = render_markdown_summary(warehouse)
    assert "| robust_z | labels | 3 | 2 | 67% | 91% | 6 |" in markdown
    assert "| ensemble | feedback | — | — | — | 75% | — |" in markdown


def test_kpis_per_source_and_metric_read_as_words_and_dashes(warehouse: Path, tmp_path: Path) -> None:
    _, report = render(warehouse, tmp_path)

    header, *rows = report.kpi_tables["kpi-detail"]
    assert not [column for column in header if "_" in column], header
    assert {"critical detection rate", "false-positive rate", "hours to detect"} <= set(header)
    assert "None" not in report.visible_text
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    feedback = next(cell for cell in cells if cell["basis"] == "feedback")
    assert (feedback["labelled"], feedback["detection rate"], feedback["hours to detect"]) == ("—", "—", "—")
    revenue = next(
        cell for cell in cells
        if (cell["detector"], cell["basis"], cell["metric"]) == ("robust_z", "labels", "revenue")
    )
    assert (revenue["detection rate"], revenue["false-positive rate"], revenue["precision"]) == ("50%", "0.50%", "83%")
    # each detector's roll-ups lead its rows
    robust_z = [(cell["source"], cell["metric"]) for cell in cells if cell["detector"] == "robust_z"]
    assert robust_z[:2] == [("all", "all"), ("email", "all")]


def test_drilldown_ranks_segments_by_their_share_of_the_move(warehouse: Path, tmp_path: Path) -> None:
    # Independent reckoning over the periods whose total was flagged: each channel's mean
    # observed, expected and deviation per period, and its summed deviation over the total's.
    segments = execute(
        warehouse,
        f"""
        with totals as (
            select period_start, value - expected as total_delta from {OBSERVATIONS}
            where metric = 'revenue' and segment_type = 'total' and period_start in (
                select period_start from reports.anomaly_events
                where incident_id = 'inc_revenue' and segment_type = 'total')
        )
        select segment_value, avg(value), avg(expected), avg(value - expected),
            sum(value - expected) / (select sum(total_delta) from totals) as share
        from {OBSERVATIONS} join totals using (period_start)
        where metric = 'revenue' and segment_type = 'channel'
        group by 1 order by share desc
        """,
    )
    assert len(segments) == 3 and all(segment[-1] > 0 for segment in segments)

    _, report = render(warehouse, tmp_path)

    rows = drilldown_rows(report, "inc_revenue")
    assert rows == [
        ["channel", segment, format_number(observed), format_number(expected), format_deviation(deviation),
         f"{share:.0%}", "yes" if segment == "web" else ""]
        for segment, observed, expected, deviation, share in segments
    ]
    assert [row[4] for row in rows][:2] == ["-4,817", "-338"]  # per period, not summed over three


def test_drilldown_shares_are_the_models_contributions(warehouse: Path, tmp_path: Path) -> None:
    # Had the model weighed the channels otherwise, the report follows it: app now carries
    # three quarters of the move, web one quarter, store nothing.
    execute(
        warehouse,
        f"""
        update {CONTRIBUTIONS} as c set delta = (e.observed - e.expected) * (
            case c.segment_value when 'app' then 0.75 when 'web' then 0.25 else 0 end)
        from reports.anomaly_events as e
        where e.anomaly_id = c.anomaly_id
        """,
    )

    _, report = render(warehouse, tmp_path)

    rows = drilldown_rows(report, "inc_revenue")
    assert [(row[1], row[5], row[6]) for row in rows] == [("app", "75%", ""), ("web", "25%", "yes")]


def test_drilldown_of_a_rate_weighs_segments_by_volume_in_percentage_points(
    warehouse: Path, tmp_path: Path
) -> None:
    # The winback campaign's bounce rate moved seven times as far as the newsletter's, but the
    # newsletter sends nine e-mails in ten: it carries more of the total's move.
    moves = dict(
        execute(
            warehouse,
            f"""
            select segment_value, avg(value - expected) from {OBSERVATIONS}
            where metric = 'bounce_rate' and segment_type = 'campaign' and period_start in (
                select period_start from reports.anomaly_events where incident_id = 'inc_bounce')
            group by 1
            """,
        )
    )
    assert moves["winback"] > 5 * moves["newsletter"] > 0

    _, report = render(warehouse, tmp_path)

    rows = drilldown_rows(report, "inc_bounce")
    assert [row[1] for row in rows] == ["newsletter", "winback"]
    assert [row[5] for row in rows] == ["55%", "45%"]
    assert [row[4] for row in rows] == [f"+{100 * moves[segment]:.2f} pp" for segment in ("newsletter", "winback")]
    assert [row[2:4] for row in rows] == [["3.86%", "2%"], ["15.43%", "2%"]]
    bounce = next(incident for incident in report.incidents if incident["id"] == "inc_bounce")
    assert "over the 2 periods in which the total was flagged" in bounce["drilldown_caption"]
    assert "percentage points (pp)" in bounce["drilldown_caption"]


def test_drilldown_keeps_flagged_segments_past_its_limit(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_html, "DRILLDOWN_LIMIT", 1)

    _, report = render(warehouse, tmp_path)

    assert [row[1] for row in drilldown_rows(report, "inc_bounce")] == ["newsletter", "winback"]
    assert [row[1] for row in drilldown_rows(report, "inc_revenue")] == ["web"]


def test_drilldown_of_a_segment_alone_leads_with_it_and_shares_nothing(warehouse: Path, tmp_path: Path) -> None:
    # Without the flagged total, the incident is the web channel's alone: the total did not move
    # enough to share out, so the web channel stands beside the other channels.
    execute(
        warehouse, "delete from reports.anomaly_events where incident_id = 'inc_revenue' and segment_type = 'total'"
    )

    _, report = render(warehouse, tmp_path)

    rows = drilldown_rows(report, "inc_revenue")
    assert [(row[1], row[6]) for row in rows] == [("web", "yes"), ("app", ""), ("store", "")]
    assert {row[5] for row in rows} == {"—"}
    assert rows[0][4] == "-4,817"
    revenue = next(incident for incident in report.incidents if incident["id"] == "inc_revenue")
    assert "Total revenue was not flagged in this incident" in revenue["drilldown_caption"]


def test_deviations_are_signed_and_rates_read_in_percentage_points() -> None:
    assert format_deviation(-0.3322, "percent") == "-33.22 pp"
    assert format_deviation(0.0186, "percent") == "+1.86 pp"
    assert format_deviation(-4817.2, "currency") == "-4,817"
    assert format_deviation(34.0) == "+34"
    assert format_deviation(0.0) == "0"
    assert format_deviation(None) == "—"


def test_all_text_is_escaped(warehouse: Path, tmp_path: Path) -> None:
    execute(warehouse, f"update reports.anomaly_incidents set headline = '{HOSTILE_HEADLINE}'")
    execute(warehouse, f"update reports.marketing_insights set likely_driver = '{HOSTILE_DRIVER}'")

    page, report = render(warehouse, tmp_path)

    assert not {"script", "img", "b"} & set(report.tags)
    assert HOSTILE_HEADLINE in report.visible_text
    assert HOSTILE_DRIVER in report.visible_text
    assert "&lt;script&gt;" in page


def test_report_is_self_contained(warehouse: Path, tmp_path: Path) -> None:
    page, report = render(warehouse, tmp_path)

    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(report.tags)
    assert not re.search(r"https?://|url\(|@import", page)


def test_run_without_incidents_says_so_and_still_shows_kpis(warehouse: Path, tmp_path: Path) -> None:
    for table in ("anomaly_events", "anomaly_incidents", "marketing_insights"):
        execute(warehouse, f"delete from reports.{table}")

    _, report = render(warehouse, tmp_path)

    assert report.incidents == []
    assert "svg" not in report.tags
    assert "No anomalies in this run." in report.visible_text
    assert "Detection quality" in report.visible_text
    markdown = render_markdown_summary(warehouse)
    assert "No anomalies in this run." in markdown
    assert "| robust_z | labels |" in markdown


def test_markdown_summary_lists_incidents_in_report_order(warehouse: Path, tmp_path: Path) -> None:
    execute(
        warehouse,
        "update reports.anomaly_incidents set headline = headline || ' | <now>' where incident_id = 'inc_revenue'",
    )
    _, report = render(warehouse, tmp_path)
    headlines = dict(execute(warehouse, "select incident_id, headline from reports.anomaly_incidents"))

    markdown = render_markdown_summary(warehouse, run_label="run-42")

    positions = [markdown.index(headlines[incident["id"]].split(" | ")[0]) for incident in report.incidents]
    assert positions == sorted(positions)
    assert "revenue drop in transactions \\| &lt;now&gt;" in markdown
    assert "run-42" in markdown
    assert "2 critical, 1 warning, 0 info" in markdown


def test_chart_places_flagged_points_outside_the_band() -> None:
    start = datetime(2026, 5, 1)
    points = [
        SeriesPoint(start + timedelta(days=day), value, 100.0, 90.0, 110.0)
        for day, value in enumerate([100.0, 104.0, 97.0, 160.0, 101.0])
    ]
    points[0] = SeriesPoint(start, 100.0, None, None, None)  # before a baseline exists

    chart = build_chart(points, [FlaggedPoint(points[3].period_start, 160.0, 100.0)], "day", "orders")

    assert chart is not None
    (marker,) = chart.flagged
    band_ys = [float(pair.split(",")[1]) for pair in re.findall(r"[\d.]+,[\d.]+", chart.band_path)]
    assert marker.y < min(band_ys)  # SVG y grows downwards: above the band's top
    assert chart.left < marker.x <= chart.right
    assert chart.band_path.count("M") == 1 and chart.observed_path.count("M") == 1
    assert "expected 100" in marker.label
    assert [tick.label for tick in chart.x_ticks][0] == "2026-05-01"


def test_chart_draws_lone_values_as_dots_and_labels_ticks_by_their_step() -> None:
    # A metric with values only on send days: no value has a neighbour to join.
    start = datetime(2026, 5, 1)
    points = [
        SeriesPoint(start + timedelta(days=day), 900.0 + day if day % 3 == 0 else None, 920.0, 850.0, 990.0)
        for day in range(12)
    ]

    chart = build_chart(points, [], "day", "delivered")

    assert chart is not None
    assert chart.observed_path == ""
    assert len(chart.observed_dots) == 4
    labels = [tick.label for tick in chart.y_ticks]
    assert labels and all(re.fullmatch(r"\d{3}", label) for label in labels)

    rates = [SeriesPoint(start + timedelta(days=day), 0.02 + 0.001 * day, None, None, None) for day in range(5)]
    rate_labels = [tick.label for tick in build_chart(rates, [], "day", "open_rate").y_ticks]
    assert len(set(len(label) for label in rate_labels)) == 1, rate_labels  # one number of decimals
    assert len(set(rate_labels)) == len(rate_labels)


def test_chart_shows_a_percent_metric_in_percent() -> None:
    start = datetime(2026, 5, 1)
    rates = [SeriesPoint(start + timedelta(days=day), 0.02 + 0.001 * day, 0.021, 0.018, 0.024) for day in range(5)]

    chart = build_chart(rates, [FlaggedPoint(rates[4].period_start, 0.04, 0.021)], "day", "bounce_rate", "percent")

    assert chart is not None
    assert chart.y_label == "bounce_rate (%)"
    labels = [tick.label for tick in chart.y_ticks]
    assert labels and all(re.fullmatch(r"\d\.\d%", label) for label in labels), labels
    # the percentages sit where their fractions do: within the plotted values (1.8% to 4%),
    # higher on the chart (smaller SVG y) as they grow
    percents = [float(label.rstrip("%")) for label in labels]
    assert 1.5 <= min(percents) and max(percents) <= 4.5, labels
    positions = [tick.position for tick in chart.y_ticks]
    assert positions == sorted(positions, reverse=True) and percents == sorted(percents)
    assert all(chart.top <= position <= chart.bottom for position in positions)
    (marker,) = chart.flagged
    assert marker.label.endswith(": 4% (expected 2.1%)"), marker.label


def test_report_reads_each_metric_in_its_unit(warehouse: Path, tmp_path: Path) -> None:
    page, _ = render(warehouse, tmp_path)

    assert "bounce_rate (%)" in page
    assert "revenue (EUR)" in page and "per-period means, in EUR" in page
    assert "sessions (" not in page and "bounce_rate (EUR)" not in page


def test_report_renders_in_headless_chromium(warehouse: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "report" / "anomaly_report.html"
    render_report(warehouse, out_path)
    screenshot = ARTIFACTS_DIR / "anomaly_report.png"

    dom = render_page(out_path.as_uri(), screenshot, tmp_path / "chromium-profile")

    rendered = parse(dom)
    assert len(rendered.incidents) == 3
    assert all(incident["svgs"] == 1 and incident["flagged_fills"] for incident in rendered.incidents)
    assert screenshot.stat().st_size > 10_000
