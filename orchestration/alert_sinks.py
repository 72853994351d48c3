"""Where alerts go: JSON lines (the default), a webhook, Slack and e-mail.

Each sink is its own configuration (see alert_sinks.example.yml) and delivers one alert per
`send`, raising on any failure so that the caller can retry and record it.
"""

import json
import os
import smtplib
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from dagster_slack import SlackResource


@dataclass(frozen=True)
class Alert:
    """What a critical incident alert says; built from masked report tables only."""

    incident_id: str
    severity: str
    source: str  # the headline event's
    sources: tuple[str, ...]  # every source with events in the incident
    started_at: str
    ended_at: str
    headline: str
    explanation: str
    likely_driver: str | None
    suggested_action: str | None
    affected_metrics: tuple[str, ...]
    affected_segments: tuple[str, ...]
    peak_score: float
    event_count: int
    report: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sources": list(self.sources), "affected_metrics": list(self.affected_metrics),
                "affected_segments": list(self.affected_segments)}

    @property
    def subject(self) -> str:
        # One line: a line break in a headline must not start a new e-mail header.
        return " ".join(f"[retail-anomaly] {self.severity.upper()} {', '.join(self.sources)}: {self.headline}".split())

    def as_text(self) -> str:
        return "\n".join(
            [
                f"{self.severity.upper()} anomaly in {', '.join(self.sources)}: {self.headline}",
                f"Period: {self.started_at} to {self.ended_at}",
                f"What happened: {self.explanation}",
                f"Likely driver: {self.likely_driver or 'not identified'}",
                f"Suggested action: {self.suggested_action or 'none suggested'}",
                f"Affected metrics: {', '.join(self.affected_metrics)}",
                f"Affected segments: {', '.join(self.affected_segments)}",
                f"Peak score: {self.peak_score:.1f} over {self.event_count} flagged "
                f"{'period' if self.event_count == 1 else 'periods'}",
                f"Incident: {self.incident_id}",
                f"Report: {self.report}",
            ]
        )


class AlertSink(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


class SlackClient(Protocol):
    """The part of slack_sdk's WebClient a sink uses (tests pass a fake)."""

    def chat_postMessage(self, *, channel: str, text: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class JsonlSink:
    """Appends one JSON object a line."""

    path: Path
    name: str = "jsonl"

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(alert.as_dict(), sort_keys=True) + "\n")
            file.flush()
            os.fsync(file.fileno())


@dataclass(frozen=True)
class WebhookSink:
    """POSTs the alert as JSON; any status of 400 or more is a failure."""

    url: str = field(repr=False)  # webhook URLs often carry a secret
    name: str = "webhook"
    timeout_seconds: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def send(self, alert: Alert) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(alert.as_dict()).encode("utf-8"),
            headers={"Content-Type": "application/json", **self.headers},
            method="POST",
        )
        # urlopen raises HTTPError for 4xx/5xx and URLError when nothing answers.
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            response.read()


def _slack_escape(text: str) -> str:
    """Slack reads &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class SlackSink:
    """Posts to a channel through dagster-slack's SlackResource (or a given client)."""

    channel: str
    token: str | None = field(default=None, repr=False)
    name: str = "slack"
    client: SlackClient | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.client is None and not self.token:
            raise ValueError(f"slack sink {self.name!r} needs a token (e.g. token: ${{SLACK_BOT_TOKEN}})")

    def send(self, alert: Alert) -> None:
        client = self.client or SlackResource(token=self.token).get_client()
        # slack_sdk raises SlackApiError when Slack answers ok=false.
        client.chat_postMessage(channel=self.channel, text=_slack_escape(alert.as_text()))


@dataclass(frozen=True)
class EmailSink:
    """Sends a plain-text e-mail over SMTP, with optional STARTTLS and login."""

    host: str
    sender: str
    recipients: tuple[str, ...]
    name: str = "email"
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.sender or not self.recipients:
            raise ValueError(f"email sink {self.name!r} needs a sender and at least one recipient")

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(alert.as_text())
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


SINK_TYPES: dict[str, type] = {"jsonl": JsonlSink, "webhook": WebhookSink, "slack": SlackSink, "email": EmailSink}
