"""Alerts for critical incidents: one per incident and sink, never again once sent.

A delivery ledger, `alerts.delivery_ledger` in the warehouse (a schema dbt does not manage),
remembers every (incident, sink), and `alerts.alerted_anomalies` the events each sink was told
about: an incident's id is its earliest event's, so it changes when an earlier event joins it
later (the other source of an outage landing in a later run), and an incident holding an event
a sink was already alerted of is the same incident under a new id, not news. Failed
deliveries are retried with exponential back-off within a run and again on the next run. Alerts are built from the masked report tables only,
and a guard (pii_guard.py) refuses to send any text that looks like PII (e-mail address, phone
number, IP address, handle, user agent).
"""

import json
import logging
import os
import string
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml

from orchestration.alert_sinks import SINK_TYPES, Alert, AlertSink
from orchestration.pii_guard import find_pii, redact_pii
from orchestration.report_incidents import Incident, read_incidents
from orchestration.settings import Settings

logger = logging.getLogger(__name__)

ENV_PREFIX = "RETAIL_ANOMALY_ALERT_"
_ERROR_LENGTH = 500

_LEDGER_DDL = """
create schema if not exists alerts;
create table if not exists alerts.delivery_ledger (
    incident_id varchar not null,
    sink varchar not null,
    status varchar not null,  -- sent / failed
    attempts integer not null,
    last_error varchar,
    first_attempt_at timestamp not null,
    last_attempt_at timestamp not null,
    sent_at timestamp,
    primary key (incident_id, sink)
);
create table if not exists alerts.alerted_anomalies (
    anomaly_id varchar not null,
    sink varchar not null,
    incident_id varchar not null,  -- the incident the sink was alerted of
    primary key (anomaly_id, sink)
);
"""

# The events of incidents a sink was sent, including events that joined them since.
_REMEMBER_ALERTED_SQL = """
insert or ignore into alerts.alerted_anomalies
select unnest($anomaly_ids), $sink, $incident_id
"""

_RECORD_SQL = """
insert into alerts.delivery_ledger
values ($incident_id, $sink, $status, $attempts, $error, $now, $now, $sent_at)
on conflict (incident_id, sink) do update set
    status = excluded.status,
    attempts = attempts + excluded.attempts,
    last_error = excluded.last_error,
    last_attempt_at = excluded.last_attempt_at,
    sent_at = excluded.sent_at
"""


@dataclass(frozen=True)
class AlertSinksConfig:
    sinks: tuple[AlertSink, ...]
    max_attempts: int = 3
    base_delay_seconds: float = 1.0
    # Where the alert points readers; default: the HTML report's path in the data folder.
    report_url: str | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay_seconds < 0:
            raise ValueError("max_attempts must be at least 1 and base_delay_seconds not negative")
        names = [sink.name for sink in self.sinks]
        if len(names) != len(set(names)):
            raise ValueError(f"alert sink names must be unique (the ledger keys on them): {names}")


@dataclass(frozen=True)
class Delivery:
    incident_id: str
    sink: str
    status: str
    attempts: int  # in this run
    error: str | None


@dataclass(frozen=True)
class AlertRunResult:
    sent: int
    failed: int
    already_sent: int
    deliveries: tuple[Delivery, ...]


# --- configuration -------------------------------------------------------------------------

def _expand_environment(value: Any, environ: Mapping[str, str]) -> Any:
    """`${VAR}` in any string value comes from the environment, so secrets stay out of YAML."""
    if isinstance(value, str):
        try:
            return string.Template(value).substitute(environ)
        except KeyError as missing:
            raise ValueError(f"alert sink configuration needs environment variable {missing}") from None
    if isinstance(value, list):
        return [_expand_environment(item, environ) for item in value]
    if isinstance(value, dict):
        return {key: _expand_environment(item, environ) for key, item in value.items()}
    return value


def _build_sink(options: Mapping[str, Any], data_dir: Path) -> AlertSink:
    options = dict(options)
    kind = options.pop("type", None)
    if kind not in SINK_TYPES:
        raise ValueError(f"unknown alert sink type {kind!r}; one of {', '.join(SINK_TYPES)}")
    sink_class = SINK_TYPES[kind]
    allowed = {f.name for f in fields(sink_class)} - {"client"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"{kind} sink: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    options.setdefault("name", kind)
    if kind == "jsonl":
        options["path"] = Path(options.get("path") or data_dir / "alerts" / "alerts.jsonl")
    if isinstance(options.get("recipients"), str):
        options["recipients"] = options["recipients"].split(",")
    if "recipients" in options:
        options["recipients"] = tuple(address.strip() for address in options["recipients"])
    return sink_class(**options)


def parse_sinks_config(raw: Mapping[str, Any], data_dir: Path) -> AlertSinksConfig:
    """Build the configuration from the structure documented in alert_sinks.example.yml."""
    unknown = sorted(set(raw) - {"sinks", "max_attempts", "base_delay_seconds", "report_url"})
    if unknown:
        raise ValueError(f"unknown alert configuration key(s): {', '.join(unknown)}")
    return AlertSinksConfig(
        sinks=tuple(_build_sink(options, data_dir) for options in raw.get("sinks") or ()),
        max_attempts=int(raw.get("max_attempts", 3)),
        base_delay_seconds=float(raw.get("base_delay_seconds", 1.0)),
        report_url=raw.get("report_url"),
    )


def _raw_config_from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Without a YAML file: the JSON-lines sink plus any sink whose variables are set."""

    def setting(name: str) -> str | None:
        return environ.get(ENV_PREFIX + name) or None

    sinks: list[dict[str, Any]] = [{"type": "jsonl"}]
    if setting("WEBHOOK_URL"):
        sinks.append({"type": "webhook", "url": setting("WEBHOOK_URL")})
    if setting("SLACK_CHANNEL"):
        sinks.append({"type": "slack", "channel": setting("SLACK_CHANNEL"), "token": environ.get("SLACK_BOT_TOKEN")})
    if setting("SMTP_HOST"):
        email: dict[str, Any] = {
            "type": "email",
            "host": setting("SMTP_HOST"),
            "port": int(setting("SMTP_PORT") or 25),
            "sender": setting("EMAIL_FROM"),
            "recipients": setting("EMAIL_TO") or "",
            "starttls": (setting("SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
        }
        if setting("SMTP_USERNAME"):
            email |= {"username": setting("SMTP_USERNAME"), "password": setting("SMTP_PASSWORD")}
        sinks.append(email)
    raw: dict[str, Any] = {"sinks": sinks}
    if setting("MAX_ATTEMPTS"):
        raw["max_attempts"] = setting("MAX_ATTEMPTS")
    if setting("BASE_DELAY_SECONDS"):
        raw["base_delay_seconds"] = setting("BASE_DELAY_SECONDS")
    if setting("REPORT_URL"):
        raw["report_url"] = setting("REPORT_URL")
    return raw


def load_sinks_config(settings: Settings, environ: Mapping[str, str] = os.environ) -> AlertSinksConfig:
    """The YAML file named by RETAIL_ANOMALY_ALERT_SINKS, else the environment variables."""
    if settings.alert_sinks_file is not None:
        raw = _expand_environment(yaml.safe_load(settings.alert_sinks_file.read_text(encoding="utf-8")) or {}, environ)
    else:
        raw = _raw_config_from_environment(environ)
    return parse_sinks_config(raw, settings.data_dir)


# --- delivery --------------------------------------------------------------------------------

def _iso_utc(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes") + "Z"


def alert_for(incident: Incident, report: str) -> Alert:
    return Alert(
        incident_id=incident.incident_id,
        severity=incident.peak_severity,
        source=incident.source,
        sources=incident.sources,
        started_at=_iso_utc(incident.started_at),
        ended_at=_iso_utc(incident.ended_at),
        headline=incident.headline,
        explanation=incident.explanation,
        likely_driver=incident.likely_driver,
        suggested_action=incident.suggested_action,
        affected_metrics=incident.affected_metrics,
        affected_segments=incident.affected_segments,
        peak_score=float(incident.peak_score),
        event_count=int(incident.event_count),
        report=report,
    )


def _deliver(sink: AlertSink, alert: Alert, config: AlertSinksConfig, sleep: Callable[[float], None]) -> Delivery:
    error = None
    for attempt in range(1, config.max_attempts + 1):
        try:
            sink.send(alert)
            return Delivery(alert.incident_id, sink.name, "sent", attempt, None)
        except Exception as exc:  # a failing sink is retried and recorded; it must not stop the others
            error = redact_pii(f"{type(exc).__name__}: {exc}")[:_ERROR_LENGTH]
            if attempt < config.max_attempts:
                sleep(config.base_delay_seconds * 2 ** (attempt - 1))
    return Delivery(alert.incident_id, sink.name, "failed", config.max_attempts, error)


def _record(warehouse_path: Path, delivery: Delivery, anomaly_ids: tuple[str, ...]) -> None:
    # A short connection per record: the warehouse is not held while sinks are slow.
    now = datetime.now(UTC).replace(tzinfo=None)
    with closing(duckdb.connect(str(warehouse_path))) as con:
        if delivery.status == "sent":
            _remember_alerted(con, delivery.incident_id, delivery.sink, anomaly_ids)
        con.execute(
            _RECORD_SQL,
            {
                "incident_id": delivery.incident_id,
                "sink": delivery.sink,
                "status": delivery.status,
                "attempts": delivery.attempts,
                "error": delivery.error,
                "now": now,
                "sent_at": now if delivery.status == "sent" else None,
            },
        )


def _remember_alerted(
    con: duckdb.DuckDBPyConnection, incident_id: str, sink: str, anomaly_ids: tuple[str, ...]
) -> None:
    con.execute(_REMEMBER_ALERTED_SQL, {"anomaly_ids": list(anomaly_ids), "sink": sink, "incident_id": incident_id})


def _alerted_as(
    incident: Incident, sink: str, delivered: set[tuple[str, str]], alerted: Mapping[tuple[str, str], str]
) -> str | None:
    """The id `sink` was alerted of the incident as: its own, or an earlier id of it when one of
    its events was in an incident sent before; None when the sink has not been told."""
    if (incident.incident_id, sink) in delivered:
        return incident.incident_id
    return next((alerted[(event, sink)] for event in incident.anomaly_ids if (event, sink) in alerted), None)


def send_alerts(
    warehouse_path: Path,
    data_dir: Path,
    sinks_config: AlertSinksConfig,
    sleep: Callable[[float], None] = time.sleep,
) -> AlertRunResult:
    """Send every critical incident to every sink that has not received it yet."""
    with closing(duckdb.connect(str(warehouse_path))) as con:
        con.execute(_LEDGER_DDL)
        incidents = read_incidents(con, severity="critical")
        delivered = set(
            con.execute("select incident_id, sink from alerts.delivery_ledger where status = 'sent'").fetchall()
        )
        alerted = dict(
            ((anomaly_id, sink), incident_id)
            for anomaly_id, sink, incident_id in con.execute(
                "select anomaly_id, sink, incident_id from alerts.alerted_anomalies"
            ).fetchall()
        )
        # (incident, sink) -> the id the sink was alerted of it as; its events are remembered
        # under that id as the incident grows (and, in a ledger older than
        # alerts.alerted_anomalies, at all)
        alerted_as: dict[tuple[str, str], str] = {}
        for incident in incidents:
            for sink in sinks_config.sinks:
                if (as_id := _alerted_as(incident, sink.name, delivered, alerted)) is not None:
                    alerted_as[(incident.incident_id, sink.name)] = as_id
                    _remember_alerted(con, as_id, sink.name, incident.anomaly_ids)
    report = sinks_config.report_url or str(data_dir / "report" / "anomaly_report.html")
    deliveries: list[Delivery] = []
    already_sent = 0
    for incident in incidents:
        alert = alert_for(incident, report)
        # The report link is operator configuration (it may name a host by IP); the rest is data.
        content = {key: value for key, value in alert.as_dict().items() if key != "report"}
        pii_kinds = find_pii(json.dumps(content, ensure_ascii=False))
        for sink in sinks_config.sinks:
            if (incident.incident_id, sink.name) in alerted_as:
                already_sent += 1
                if alerted_as[(incident.incident_id, sink.name)] != incident.incident_id:
                    logger.info(
                        "incident %s was alerted to %s as %s",
                        incident.incident_id, sink.name, alerted_as[(incident.incident_id, sink.name)],
                    )
                continue
            if pii_kinds:
                delivery = Delivery(
                    incident.incident_id, sink.name, "failed", 0, f"blocked: text looks like {', '.join(pii_kinds)}"
                )
            else:
                delivery = _deliver(sink, alert, sinks_config, sleep)
            if delivery.status == "failed":
                logger.warning("alert %s to %s failed: %s", delivery.incident_id, delivery.sink, delivery.error)
            _record(warehouse_path, delivery, incident.anomaly_ids)
            deliveries.append(delivery)
    return AlertRunResult(
        sent=sum(d.status == "sent" for d in deliveries),
        failed=sum(d.status == "failed" for d in deliveries),
        already_sent=already_sent,
        deliveries=tuple(deliveries),
    )
