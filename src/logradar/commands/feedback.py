"""``logradar expected`` / ``mute`` / ``unmute``: operator feedback to a running logradar.

They call the JSON API (``POST /api/v1/anomalies/{id}/expected``, ``/api/v1/mutes``) with
httpx and exit non-zero, with the server's reason, when it refuses or cannot be reached.
"""

from __future__ import annotations

from typing import Any

import click

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_SECONDS = 10.0

URL_OPTION = click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    envvar="LOGRADAR_URL",
    help="logradar base URL (env LOGRADAR_URL).",
)
TOKEN_OPTION = click.option(
    "--token", envvar="LOGRADAR_TOKEN", help="API token (env LOGRADAR_TOKEN)."
)


def call_api(
    method: str, url: str, path: str, token: str | None, body: dict[str, Any] | None = None
) -> Any:
    """One API request; the decoded JSON answer, or :class:`click.ClickException`."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    endpoint = url.rstrip("/") + path
    try:
        r = httpx.request(method, endpoint, json=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as e:
        raise click.ClickException(f"cannot reach logradar at {url}: {e}") from None
    if r.is_success:
        return r.json() if r.content else None
    try:
        reason = r.json()["error"]
    except (ValueError, KeyError, TypeError):
        reason = r.text[:200] or r.reason_phrase
    raise click.ClickException(f"{method} {endpoint} failed ({r.status_code}): {reason}")


@click.command("expected")
@click.argument("anomaly_id", type=click.IntRange(min=0))
@URL_OPTION
@TOKEN_OPTION
def expected_command(anomaly_id: int, url: str, token: str | None) -> None:
    """Mark anomaly ANOMALY_ID expected: anomalies like it no longer alert."""
    a = call_api("POST", url, f"/api/v1/anomalies/{anomaly_id}/expected", token, {})
    click.echo(
        f"anomaly #{a['id']} marked expected: {a['detector']}/{a['kind']} on {a['stream']}"
        + (f", template #{a['template_id']}" if a["template_id"] is not None else "")
    )


@click.command("mute")
@click.option("--stream", help="Stream whose alerts to mute.")
@click.option("--template", "template_id", type=click.IntRange(min=0), help="Template id.")
@click.option("--for", "duration", help="How long, e.g. 30m, 2h, 1d.")
@click.option("--until", help="Until when (ISO-8601 with a time zone).")
@click.option("--reason", help="Why (shown with the mute).")
@URL_OPTION
@TOKEN_OPTION
def mute_command(
    stream: str | None,
    template_id: int | None,
    duration: str | None,
    until: str | None,
    reason: str | None,
    url: str,
    token: str | None,
) -> None:
    """Mute alerts of a stream and/or template for a while (anomalies are still recorded)."""
    if stream is None and template_id is None:
        raise click.UsageError("give --stream and/or --template")
    if (duration is None) == (until is None):
        raise click.UsageError("give exactly one of --for and --until")
    body = {"stream": stream, "template_id": template_id, "reason": reason}
    body |= {"for": duration} if duration is not None else {"until": until}
    m = call_api("POST", url, "/api/v1/mutes", token, body)
    what = " and ".join(
        x
        for x in (
            f"stream {m['stream']}" if m["stream"] else "",
            f"template #{m['template_id']}" if m["template_id"] is not None else "",
        )
        if x
    )
    click.echo(f"mute #{m['id']}: alerts of {what} muted until {m['until']}")


@click.command("unmute")
@click.argument("mute_id", type=click.IntRange(min=0))
@URL_OPTION
@TOKEN_OPTION
def unmute_command(mute_id: int, url: str, token: str | None) -> None:
    """End mute MUTE_ID now."""
    call_api("DELETE", url, f"/api/v1/mutes/{mute_id}", token)
    click.echo(f"mute #{mute_id} removed")
