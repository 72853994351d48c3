"""Alerts for critical incidents: real local HTTP and SMTP servers, the ledger, retries, PII guard."""

import email
import email.policy
import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

import pii_scan
from orchestration.alert_sinks import Alert, EmailSink, JsonlSink, SlackSink, WebhookSink
from orchestration.alerting import AlertSinksConfig, load_sinks_config, parse_sinks_config, send_alerts
from orchestration.pii_guard import PII_PATTERNS, find_pii, redact_pii
from orchestration.settings import PROJECT_DIR, Settings
from report_warehouse import CRITICAL_INCIDENTS, build_report_warehouse, execute

with warnings.catch_warnings():
    # Deprecated since 3.6 but still in 3.11's standard library: a real SMTP server, no new dependency.
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore
    import smtpd

PAYLOAD_FIELDS = {
    "incident_id", "severity", "source", "sources", "started_at", "ended_at", "headline", "explanation",
    "likely_driver", "suggested_action", "affected_metrics", "affected_segments", "peak_score",
    "event_count", "report",
}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_report_warehouse(tmp_path / "warehouse.duckdb")


def ledger(warehouse: Path) -> dict[tuple[str, str], dict]:
    con_rows = execute(
        warehouse,
        "select incident_id, sink, status, attempts, last_error, first_attempt_at, last_attempt_at, sent_at"
        " from alerts.delivery_ledger",
    )
    columns = ("status", "attempts", "last_error", "first_attempt_at", "last_attempt_at", "sent_at")
    return {(row[0], row[1]): dict(zip(columns, row[2:], strict=True)) for row in con_rows}


def config(*sinks: object, max_attempts: int = 3, base_delay_seconds: float = 0.01) -> AlertSinksConfig:
    return AlertSinksConfig(sinks=sinks, max_attempts=max_attempts, base_delay_seconds=base_delay_seconds)


class RecordingWebhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        status = server.statuses.pop(0) if server.statuses else 200
        if status == 200:
            server.received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook_server() -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on 127.0.0.1; set `statuses` to answer with those codes first."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingWebhook)
    server.statuses = []
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def webhook_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/alerts"


class RecordingSMTPServer(smtpd.SMTPServer):
    def __init__(self) -> None:
        self.socket_map: dict = {}
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        super().__init__(("127.0.0.1", 0), None, map=self.socket_map)

    def process_message(self, peer: object, mailfrom: str, rcpttos: list[str], data: bytes, **kwargs: object) -> None:
        self.messages.append((mailfrom, rcpttos, email.message_from_bytes(data, policy=email.policy.default)))


@pytest.fixture
def smtp_server() -> Iterator[RecordingSMTPServer]:
    server = RecordingSMTPServer()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            asyncore.loop(timeout=0.05, count=1, map=server.socket_map)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server
    stop.set()
    thread.join()
    asyncore.close_all(map=server.socket_map)


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class FailingSink:
    name = "always-down"

    def send(self, alert: Alert) -> None:
        raise ConnectionError("sink unreachable")


class FakeSlackClient:
    def __init__(self) -> None:
        self.posts: list[dict] = []

    def chat_postMessage(self, **kwargs: object) -> dict:  # noqa: N802 (slack_sdk's naming)
        self.posts.append(kwargs)
        return {"ok": True}


def test_jsonl_sink_appends_one_line_per_critical_incident_once(warehouse: Path, tmp_path: Path) -> None:
    alerts_file = tmp_path / "alerts" / "alerts.jsonl"
    sinks = config(JsonlSink(alerts_file))

    first = send_alerts(warehouse, tmp_path, sinks)
    second = send_alerts(warehouse, tmp_path, sinks)

    lines = [json.loads(line) for line in alerts_file.read_text().splitlines()]
    assert sorted(line["incident_id"] for line in lines) == sorted(CRITICAL_INCIDENTS)
    assert all(set(line) == PAYLOAD_FIELDS and line["severity"] == "critical" for line in lines)
    assert lines[0]["report"] == str(tmp_path / "report" / "anomaly_report.html")
    assert (first.sent, first.failed, first.already_sent) == (len(CRITICAL_INCIDENTS), 0, 0)
    assert (second.sent, second.failed, second.already_sent) == (0, 0, len(CRITICAL_INCIDENTS))
    assert {key: row["status"] for key, row in ledger(warehouse).items()} == {
        (incident_id, "jsonl"): "sent" for incident_id in CRITICAL_INCIDENTS
    }


def test_an_incident_whose_id_changed_is_not_alerted_again(warehouse: Path, tmp_path: Path) -> None:
    """An incident's id is its earliest event's: when the other source of an outage lands in a
    later run with an earlier event, the incident gets a new id. A sink already told of one of
    its events has been told of it; a new incident is still news, and a new one taking in no
    alerted event is too."""
    alerts_file = tmp_path / "alerts.jsonl"
    sinks = config(JsonlSink(alerts_file))
    send_alerts(warehouse, tmp_path, sinks)
    # inc_revenue takes in an earlier event (renamed as its id would be); a new critical incident appears
    execute(
        warehouse,
        """
        update reports.anomaly_incidents
        set incident_id = 'inc_revenue_earlier', anomaly_ids = list_prepend('earlier_event', anomaly_ids)
        where incident_id = 'inc_revenue';
        update reports.anomaly_incidents
        set peak_severity = 'critical'
        where incident_id = 'inc_sessions';
        """,
    )
    second = send_alerts(warehouse, tmp_path, sinks)
    third = send_alerts(warehouse, tmp_path, sinks)

    sent = [json.loads(line)["incident_id"] for line in alerts_file.read_text().splitlines()]
    assert sorted(sent) == sorted([*CRITICAL_INCIDENTS, "inc_sessions"])
    assert (second.sent, second.already_sent) == (1, 2)
    assert (third.sent, third.already_sent) == (0, 3)
    # the new event is remembered as part of the incident the sink was told of
    assert execute(
        warehouse, "select incident_id from alerts.alerted_anomalies where anomaly_id = 'earlier_event'"
    ) == [("inc_revenue",)]


def test_payload_carries_the_incident_and_its_marketing_insight(warehouse: Path, tmp_path: Path) -> None:
    alerts_file = tmp_path / "alerts.jsonl"
    send_alerts(warehouse, tmp_path, config(JsonlSink(alerts_file)))
    (incident,) = execute(
        warehouse,
        "select i.headline, i.explanation, i.source, m.likely_driver, m.suggested_action"
        " from reports.anomaly_incidents i join reports.marketing_insights m using (incident_id)"
        " where incident_id = 'inc_revenue'",
    )

    revenue = next(line for line in map(json.loads, alerts_file.read_text().splitlines())
                   if line["incident_id"] == "inc_revenue")

    assert (revenue["headline"], revenue["explanation"], revenue["source"], revenue["likely_driver"],
            revenue["suggested_action"]) == incident
    assert revenue["affected_segments"] == ["channel=web", "total=all"]
    assert revenue["sources"] == ["transactions"]
    assert revenue["started_at"] == "2026-05-31T00:00Z"


def test_webhook_receives_each_critical_incident_as_json(
    warehouse: Path, tmp_path: Path, webhook_server: ThreadingHTTPServer
) -> None:
    result = send_alerts(warehouse, tmp_path, config(WebhookSink(url=webhook_url(webhook_server))))

    assert result.sent == len(CRITICAL_INCIDENTS)
    assert sorted(body["incident_id"] for _, body in webhook_server.received) == sorted(CRITICAL_INCIDENTS)
    assert {content_type for content_type, _ in webhook_server.received} == {"application/json"}


def test_webhook_failing_then_recovering_is_retried_within_the_run(
    warehouse: Path, tmp_path: Path, webhook_server: ThreadingHTTPServer
) -> None:
    webhook_server.statuses = [500]
    sleep = RecordingSleep()

    result = send_alerts(warehouse, tmp_path, config(WebhookSink(url=webhook_url(webhook_server))), sleep=sleep)

    first_incident = result.deliveries[0].incident_id
    rows = ledger(warehouse)
    assert rows[(first_incident, "webhook")]["attempts"] == 2
    assert {row["status"] for row in rows.values()} == {"sent"}
    assert sum(row["attempts"] for row in rows.values()) == len(CRITICAL_INCIDENTS) + 1
    assert sleep.delays == [0.01]
    assert len(webhook_server.received) == len(CRITICAL_INCIDENTS)


def test_delivery_failed_in_one_run_is_sent_on_the_next(
    warehouse: Path, tmp_path: Path, webhook_server: ThreadingHTTPServer
) -> None:
    sinks = config(WebhookSink(url=webhook_url(webhook_server)), max_attempts=2)
    webhook_server.statuses = [500] * 2 * len(CRITICAL_INCIDENTS)

    failed = send_alerts(warehouse, tmp_path, sinks, sleep=RecordingSleep())
    after_failure = ledger(warehouse)
    recovered = send_alerts(warehouse, tmp_path, sinks, sleep=RecordingSleep())
    after_recovery = ledger(warehouse)
    quiet = send_alerts(warehouse, tmp_path, sinks, sleep=RecordingSleep())

    assert (failed.sent, failed.failed) == (0, len(CRITICAL_INCIDENTS))
    assert all(row["status"] == "failed" and row["attempts"] == 2 and "HTTP Error 500" in row["last_error"]
               for row in after_failure.values())
    assert (recovered.sent, recovered.failed) == (len(CRITICAL_INCIDENTS), 0)
    for key, row in after_recovery.items():
        assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
        assert row["first_attempt_at"] == after_failure[key]["first_attempt_at"]
        assert row["sent_at"] >= after_failure[key]["last_attempt_at"]
    assert (quiet.sent, quiet.already_sent) == (0, len(CRITICAL_INCIDENTS))
    assert sorted(body["incident_id"] for _, body in webhook_server.received) == sorted(CRITICAL_INCIDENTS)


def test_backoff_doubles_and_a_dead_sink_does_not_stop_the_others(warehouse: Path, tmp_path: Path) -> None:
    alerts_file = tmp_path / "alerts.jsonl"
    sleep = RecordingSleep()

    result = send_alerts(
        warehouse, tmp_path, config(FailingSink(), JsonlSink(alerts_file), max_attempts=4, base_delay_seconds=0.5),
        sleep=sleep,
    )

    assert sleep.delays == [0.5, 1.0, 2.0] * len(CRITICAL_INCIDENTS)
    assert (result.sent, result.failed) == (len(CRITICAL_INCIDENTS), len(CRITICAL_INCIDENTS))
    assert len(alerts_file.read_text().splitlines()) == len(CRITICAL_INCIDENTS)
    rows = ledger(warehouse)
    for incident_id in CRITICAL_INCIDENTS:
        assert rows[(incident_id, "always-down")]["attempts"] == 4
        assert rows[(incident_id, "always-down")]["last_error"] == "ConnectionError: sink unreachable"


def test_email_arrives_through_a_real_smtp_server(
    warehouse: Path, tmp_path: Path, smtp_server: RecordingSMTPServer
) -> None:
    port = smtp_server.socket.getsockname()[1]
    sink = EmailSink(host="127.0.0.1", port=port, sender="alerts@retail.test", recipients=("oncall@retail.test",))
    (revenue,) = execute(
        warehouse,
        "select headline, explanation, suggested_action from reports.anomaly_incidents"
        " join reports.marketing_insights using (incident_id) where incident_id = 'inc_revenue'",
    )

    result = send_alerts(warehouse, tmp_path, config(sink))

    assert result.sent == len(CRITICAL_INCIDENTS)
    messages = {message["Subject"]: (mailfrom, rcpttos, message) for mailfrom, rcpttos, message in smtp_server.messages}
    mailfrom, rcpttos, message = messages[f"[retail-anomaly] CRITICAL transactions: {revenue[0]}"]
    assert (mailfrom, rcpttos) == ("alerts@retail.test", ["oncall@retail.test"])
    body = message.get_content()
    assert revenue[1] in body and revenue[2] in body
    assert str(tmp_path / "report" / "anomaly_report.html") in body
    assert len(messages) == len(CRITICAL_INCIDENTS)


def test_slack_sink_posts_through_the_given_client(warehouse: Path, tmp_path: Path) -> None:
    execute(warehouse, "update reports.anomaly_incidents set headline = 'orders <down> & returns up'"
                       " where incident_id = 'inc_revenue'")
    client = FakeSlackClient()

    result = send_alerts(warehouse, tmp_path, config(SlackSink(channel="#retail", client=client)))

    assert result.sent == len(CRITICAL_INCIDENTS)
    assert [post["channel"] for post in client.posts] == ["#retail"] * len(CRITICAL_INCIDENTS)
    assert any("orders &lt;down&gt; &amp; returns up" in post["text"] for post in client.posts)
    with pytest.raises(ValueError, match="token"):
        SlackSink(channel="#retail")


def test_pii_guard_blocks_an_incident_whose_text_looks_like_pii(warehouse: Path, tmp_path: Path) -> None:
    execute(warehouse, "update reports.anomaly_incidents set explanation = 'Orders from jane.doe@example.com fell'"
                       " where incident_id = 'inc_revenue'")
    alerts_file = tmp_path / "alerts.jsonl"

    result = send_alerts(warehouse, tmp_path, config(JsonlSink(alerts_file)))

    sent = [json.loads(line)["incident_id"] for line in alerts_file.read_text().splitlines()]
    assert sent == [incident for incident in CRITICAL_INCIDENTS if incident != "inc_revenue"]
    assert (result.sent, result.failed) == (len(CRITICAL_INCIDENTS) - 1, 1)
    blocked = ledger(warehouse)[("inc_revenue", "jsonl")]
    assert (blocked["status"], blocked["attempts"]) == ("failed", 0)
    assert blocked["last_error"] == "blocked: text looks like e-mail"


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("contact jane.doe+x@shop.example.co.uk", ["e-mail"]),
        ("link?email=jane.doe%40example.com&x=1", ["e-mail"]),
        ("call +49 170 1234567 now", ["phone"]),
        ("call (555) 123-4567.", ["phone"]),
        ("tel:+44.20.7946.0958 or 555.010.0311", ["phone"]),
        ("from 203.0.113.42, again", ["IP address"]),
        ("from 2001:db8::7334", ["IP address"]),
        ("from 10.0.0.1 10.0.0.2 ::ffff:192.0.2.44", ["IP address"]),
        ("mentions by @jane_doe.shop spiked", ["handle"]),
        ("sessions from Mozilla/5.0 (X11; Linux) doubled", ["user agent"]),
        ("Revenue fell 45.3% (1,234,567 vs 2,000,000) on 2026-05-31T00:00Z", []),
        ("between 2026-05-31 - 2026-06-03 00:00 and 14:03:22", []),
        ("segment channel=web, score 12.5, cust_0123456789abcdef", []),
        ("orders/2026-05/orders_2026-05-04.csv line 12345, price @ 5 EUR, v1.2.3", []),
        ("post 1000101577681572 and 7301234567890123456 trended", []),
    ],
)
def test_pii_patterns(text: str, kinds: list[str]) -> None:
    assert find_pii(text) == kinds
    assert find_pii(redact_pii(text)) == []
    # The warehouse scanner runs the same patterns in DuckDB (RE2): it must read them alike.
    with duckdb.connect() as con:
        con.execute("create table leaked (note varchar)")
        con.execute("insert into leaked values (?)", [text])
        scanned = pii_scan.find_pii(con)
    assert sorted({PII_PATTERNS[finding.kind].label for finding in scanned}) == kinds


def test_sinks_from_the_example_yaml(tmp_path: Path) -> None:
    settings = Settings(tmp_path, tmp_path / "landing", "salt", PROJECT_DIR / "alert_sinks.example.yml")
    environ = {
        "RETAIL_ANOMALY_ALERT_WEBHOOK_URL": "https://hooks.example/abc",
        "OPS_WEBHOOK_TOKEN": "t0ken",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "RETAIL_ANOMALY_ALERT_SMTP_PASSWORD": "pa$$word",
    }

    loaded = load_sinks_config(settings, environ)

    jsonl, webhook, slack, mail = loaded.sinks
    assert jsonl == JsonlSink(tmp_path / "alerts" / "alerts.jsonl")
    assert (webhook.name, webhook.url, dict(webhook.headers)) == (
        "ops-webhook", "https://hooks.example/abc", {"Authorization": "Bearer t0ken"}
    )
    assert (slack.name, slack.channel, slack.token) == ("slack-marketing", "#retail-anomalies", "xoxb-1")
    assert (mail.port, mail.starttls, mail.password, len(mail.recipients)) == (587, True, "pa$$word", 2)
    assert (loaded.max_attempts, loaded.base_delay_seconds) == (3, 2.0)
    assert "xoxb-1" not in repr(loaded) and "pa$$word" not in repr(loaded)
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN"):
        load_sinks_config(settings, {k: v for k, v in environ.items() if k != "SLACK_BOT_TOKEN"})


def test_sinks_from_environment_variables(tmp_path: Path) -> None:
    settings = Settings(tmp_path, tmp_path / "landing", "salt", None)
    environ = {
        "RETAIL_ANOMALY_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "RETAIL_ANOMALY_ALERT_SMTP_HOST": "mail.local",
        "RETAIL_ANOMALY_ALERT_SMTP_PORT": "2525",
        "RETAIL_ANOMALY_ALERT_EMAIL_FROM": "alerts@retail.test",
        "RETAIL_ANOMALY_ALERT_EMAIL_TO": "a@retail.test, b@retail.test",
        "RETAIL_ANOMALY_ALERT_MAX_ATTEMPTS": "5",
    }

    loaded = load_sinks_config(settings, environ)

    assert [sink.name for sink in loaded.sinks] == ["jsonl", "webhook", "email"]
    assert loaded.sinks[1].url == "http://127.0.0.1:9/hook"
    assert (loaded.sinks[2].port, loaded.sinks[2].recipients) == (2525, ("a@retail.test", "b@retail.test"))
    assert loaded.max_attempts == 5
    assert [sink.name for sink in load_sinks_config(settings, {}).sinks] == ["jsonl"]


def test_configuration_mistakes_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown alert sink type 'pager'"):
        parse_sinks_config({"sinks": [{"type": "pager"}]}, tmp_path)
    with pytest.raises(ValueError, match="unknown option"):
        parse_sinks_config({"sinks": [{"type": "webhook", "url": "http://x", "retries": 3}]}, tmp_path)
    with pytest.raises(ValueError, match="unique"):
        parse_sinks_config({"sinks": [{"type": "jsonl"}, {"type": "jsonl"}]}, tmp_path)
