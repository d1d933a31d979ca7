"""Email over SMTP, with STARTTLS and login when configured; plain-text and HTML body.

Subject: ``[logradar] FIRING|RESOLVED <severity> <stream>: <summary>``. The message has a
``Message-ID`` per notification and ``In-Reply-To`` the incident's first one, so mail
clients thread the firing, reminders and resolve of one incident together.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from logradar.alerts.channels.base import ChannelError, subject, text_body


def _thread_id(incident_id: int, seq: int, domain: str) -> str:
    return f"<logradar-incident-{incident_id}-{seq}@{domain}>"


def html_body(payload: dict[str, Any]) -> str:
    """The HTML alternative: the same content as :func:`text_body`."""
    i = payload["incident"]
    e = html.escape
    rows = "".join(
        f"<tr><th align='left'>{e(k)}</th><td>{e(str(v))}</td></tr>"
        for k, v in (
            ("Status", i["status"]),
            ("Severity", i["severity"]),
            ("Stream", i["stream"]),
            ("Detector", f"{i['detector']} ({i['kind']})"),
            ("Template", i["template"] or "-"),
            ("Anomalies", i["anomaly_count"]),
            ("First seen", i["first_seen"]),
            ("Last seen", i["last_seen"]),
            ("Resolved", i["resolved_at"] or "-"),
        )
    )
    examples = "".join(f"<pre>{e(line)}</pre>" for line in i["examples"])
    url = payload.get("url")
    link = f"<p><a href='{e(url)}'>Open incident {i['id']}</a></p>" if url else ""
    return (
        f"<html><body><h2>{e(subject(payload))}</h2><table>{rows}</table>"
        f"<p>{e(i['explanation'])}</p>{examples}{link}</body></html>"
    )


class EmailChannel:
    """Send each notification as one email to ``to``."""

    def __init__(
        self,
        name: str,
        *,
        smtp_host: str,
        smtp_port: int,
        starttls: bool,
        username: str | None,
        password: str | None,
        sender: str,
        to: list[str],
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.starttls = starttls
        self.username = username
        self.password = password
        self.sender = sender
        self.to = list(to)
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()

    def message(self, payload: dict[str, Any]) -> EmailMessage:
        incident = payload["incident"]
        domain = self.sender.rpartition("@")[2] or "logradar"
        msg = EmailMessage()
        msg["Subject"] = subject(payload)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = _thread_id(incident["id"], payload["seq"], domain)
        if payload["seq"] > 1:
            msg["In-Reply-To"] = _thread_id(incident["id"], 1, domain)
        msg.set_content(text_body(payload))
        msg.add_alternative(html_body(payload), subtype="html")
        return msg

    def send(self, payload: dict[str, Any]) -> str:
        msg = self.message(payload)
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context)
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(msg)
                code, answer = smtp.noop()
        except (OSError, smtplib.SMTPException) as e:
            raise ChannelError(f"{self.name}: {type(e).__name__}: {e}") from e
        if refused:
            raise ChannelError(f"{self.name}: recipients refused: {refused}")
        return f"SMTP accepted for {', '.join(self.to)} ({code} {answer.decode(errors='replace')})"
