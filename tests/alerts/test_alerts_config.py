"""The [alerts] contract: receivers of every type, routes, and errors that name the field."""

from __future__ import annotations

import pytest

from logradar.alerts.settings import EmailReceiver, PagerDutyReceiver, SlackReceiver
from logradar.config import ConfigError, load_config

ISSUE_EXAMPLE = """
[alerts]
min_severity = "medium"
group_by = ["stream", "detector", "template_id"]
group_wait_seconds = 30
group_interval_seconds = 300
repeat_interval_seconds = 14400
resolve_after_seconds = 600
ui_url = "http://logradar.example:8080"

[[alerts.receivers]]
name = "mail"
type = "email"
smtp_host = "smtp.example.com"
smtp_port = 587
starttls = true
username = "alerts"
password = "pw"
from = "logradar@example.com"
to = ["oncall@example.com"]
[[alerts.receivers]]
name = "sms"
type = "smn"
endpoint = "https://smn.ap-southeast-1.myhuaweicloud.com"
project_id = "0123456789abcdef0123456789abcdef"
topic_urn = "urn:smn:ap-southeast-1:0123456789abcdef0123456789abcdef:oncall"
access_key = "AK"
secret_key = "SK"
[[alerts.receivers]]
name = "pd"
type = "pagerduty"
routing_key = "R0UT1NGKEY"
[[alerts.receivers]]
name = "chat"
type = "slack"
webhook_url = "https://hooks.slack.com/services/T/B/X"
[[alerts.receivers]]
name = "am"
type = "alertmanager"
url = "http://alertmanager:9093"
[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "https://ops.example.com/hook"
headers = { Authorization = "Bearer t0ken" }
format = "alertmanager"

[[alerts.routes]]
match = { stream = "pay*", severity = "high" }
receivers = ["pd", "sms"]
continue = true
[[alerts.routes]]
receivers = ["mail", "chat", "am", "hook"]
"""


def load(tmp_path, text: str, **overrides):
    path = tmp_path / "logradar.toml"
    path.write_text(text)
    return load_config(path, **overrides)


def test_the_issue_example_loads(tmp_path) -> None:
    a = load(tmp_path, ISSUE_EXAMPLE).alerts
    assert [r.type for r in a.receivers] == [
        "email", "smn", "pagerduty", "slack", "alertmanager", "webhook",
    ]  # fmt: skip
    mail, _, pd, chat, _, hook = a.receivers
    assert isinstance(mail, EmailReceiver) and mail.from_ == "logradar@example.com"
    assert isinstance(pd, PagerDutyReceiver)
    assert str(pd.url) == "https://events.pagerduty.com/v2/enqueue"
    assert isinstance(chat, SlackReceiver) and chat.min_interval_seconds == 1.0
    assert hook.headers == {"Authorization": "Bearer t0ken"} and hook.format == "alertmanager"
    assert a.routes[0].continue_ and a.routes[0].match == {"stream": "pay*", "severity": "high"}
    assert a.routes[1].match == {} and not a.routes[1].continue_
    assert (a.group_wait_seconds, a.repeat_interval, a.resolve_after_seconds) == (30, 14400, 600)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('receivers = ["pd", "sms"]', 'receivers = ["pd", "pager"]'),
         "alerts: routes.0.receivers: unknown receiver 'pager'"),
        (('stream = "pay*"', 'stream = "pay[x"'),
         "alerts.routes.0.match: Value error, match.stream: bad glob 'pay[x'"),
        (('stream = "pay*"', 'host = "pay*"'), "alerts.routes.0.match: Value error, cannot match"),
        (('routing_key = "R0UT1NGKEY"', ""), "alerts.receivers.2.pagerduty.routing_key: Field"),
        (('smtp_host = "smtp.example.com"', ""), "alerts.receivers.0.email.smtp_host: Field"),
        (('type = "slack"', 'type = "teams"'), "alerts.receivers.3: Input tag 'teams'"),
        (('name = "chat"', 'name = "pd"'), "receivers: names must be unique, ['pd'] used twice"),
        (('format = "alertmanager"', 'format = "xml"'), "alerts.receivers.5.webhook.format"),
        (('group_by = ["stream", "detector", "template_id"]', 'group_by = ["host"]'),
         "alerts.group_by: Value error, cannot group by ['host']"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(tmp_path, change, message) -> None:
    old, new = change
    assert old in ISSUE_EXAMPLE
    with pytest.raises(ConfigError) as e:
        load(tmp_path, ISSUE_EXAMPLE.replace(old, new, 1))
    assert message.replace("Value error, ", "") in str(e.value).replace("Value error, ", "")


def test_old_forms_still_load(tmp_path) -> None:
    text = '[alerts]\nwebhooks = ["http://127.0.0.1:9/hook"]\ncooldown_seconds = 60\n'
    a = load(tmp_path, text, alerts={"webhooks": ["http://127.0.0.1:9/hook", "http://x/2"]}).alerts
    assert [str(u) for u in a.webhooks] == ["http://127.0.0.1:9/hook", "http://x/2"]
    assert a.console and a.repeat_interval == 60
    assert (
        load(
            tmp_path, "[alerts]\ncooldown_seconds = 60\nrepeat_interval_seconds = 9\n"
        ).alerts.repeat_interval
        == 9
    )
