"""Email against a real SMTP server (aiosmtpd) that requires STARTTLS and a login."""

from __future__ import annotations

import socket
import ssl
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alert_helpers import RESOLVED, deliver_through_outage, make_payload, self_signed_cert
from logradar.alerts.channels import ChannelError, build_channel
from logradar.alerts.channels.email import EmailChannel
from logradar.alerts.settings import EmailReceiver
from logradar.config import AlertsConfig
from logradar.store import Store

USER, PASSWORD = "alerts", "s3cret"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """aiosmtpd on a fixed port with STARTTLS required before AUTH and AUTH before mail."""

    def __init__(self, tmp_path) -> None:
        self.cert, key = self_signed_cert(tmp_path)
        self.server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_tls.load_cert_chain(self.cert, key)
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=self.server_tls,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=authenticate,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def channel(self, password: str = PASSWORD, starttls: bool = True) -> EmailChannel:
        return EmailChannel(
            "mail",
            smtp_host="127.0.0.1",
            smtp_port=self.port,
            starttls=starttls,
            username=USER,
            password=password,
            sender="logradar@example.com",
            to=["oncall@example.com", "lead@example.com"],
            timeout=5,
            tls_context=ssl.create_default_context(cafile=self.cert),
        )


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_sends_text_and_html_with_the_subject_over_starttls_and_auth(smtp) -> None:
    answer = smtp.channel().send(make_payload())
    assert answer.startswith("SMTP accepted for oncall@example.com")
    ((sender, rcpts, raw),) = smtp.mailbox.messages
    assert sender == "logradar@example.com"
    assert rcpts == ["oncall@example.com", "lead@example.com"]
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == (
        "[logradar] FIRING high payments: template 7 seen 40 times in 10 s, expected 3"
    )
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "POST /pay/123 500 upstream timeout" in text and "<html>" in html
    assert "http://logradar.example:8080/incidents/12" in text
    assert "href='http://logradar.example:8080/incidents/12'" in html
    assert msg["Message-ID"].startswith("<logradar-incident-12-1@")


def test_resolved_threads_under_the_firing(smtp) -> None:
    smtp.channel().send(make_payload(RESOLVED, seq=2))
    msg = message_from_bytes(smtp.mailbox.messages[0][2], policy=policy.default)
    assert msg["Subject"].startswith("[logradar] RESOLVED high payments: ")
    assert msg["In-Reply-To"].startswith("<logradar-incident-12-1@")


def test_wrong_password_and_missing_starttls_fail(smtp) -> None:
    with pytest.raises(ChannelError, match="535"):
        smtp.channel(password="wrong").send(make_payload())
    with pytest.raises(ChannelError, match="AUTH extension not supported"):  # not in clear
        smtp.channel(starttls=False).send(make_payload())
    assert smtp.mailbox.messages == []


def test_down_for_ten_minutes_loses_nothing(tmp_path, store: Store) -> None:
    server = SmtpServer(tmp_path)
    try:
        rows = deliver_through_outage(
            store, server.channel(), lambda down: server.stop() if down else server.start()
        )
    finally:
        server.stop()
    assert [r["status"] for r in rows] == ["delivered", "delivered"]
    subjects = [message_from_bytes(m[2])["Subject"].split()[1] for m in server.mailbox.messages]
    assert subjects == ["FIRING", "RESOLVED"]  # each once, in order


def test_built_from_config() -> None:
    receiver = EmailReceiver.model_validate(
        {"name": "mail", "type": "email", "smtp_host": "mx", "from": "a@b", "to": ["c@d"]}
    )
    channel = build_channel(receiver, AlertsConfig())
    assert isinstance(channel, EmailChannel)
    assert (channel.smtp_port, channel.starttls, channel.sender) == (587, True, "a@b")
