"""Pull a Huawei Cloud LTS log stream through its query API (AK/SK signed).

Every ``poll_seconds`` it asks ``POST /v2/{project_id}/groups/{log_group_id}/streams/
{log_stream_id}/content/query`` for ``[cursor - overlap, now - delay]`` in ascending order,
``limit`` lines a page, paging with the last ``line_num`` and ``search_type: forwards``.
Answers are ``{"count": n, "logs": [{"content", "line_num", "labels"}]}``.

Exactly-once as far as the state file allows: the ``line_num`` of every line ingested in the
overlap is remembered, so re-queried lines are skipped, and the state (cursor + those line
numbers) is written atomically after each page is durably ingested. A crash between the two
can repeat at most that page. Under backpressure the page is retried, never dropped.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from logradar.config import DEFAULT_MAX_LABELS, LtsPullSourceConfig
from logradar.schema import ingest_table, labels_json, now_ns, validate_stream_name
from logradar.sources import huawei_signer
from logradar.sources.base import IngestFn
from logradar.sources.common import IngestError, cap_labels
from logradar.sources.lts import HOST_LABELS

log = logging.getLogger("logradar.lts_pull")

QUERY_PATH = "/v2/{project_id}/groups/{log_group_id}/streams/{log_stream_id}/content/query"
BACKOFF_MAX_SECONDS = 60.0
#: line_num values that read as epoch nanoseconds between 2000 and 2100 are used as event time.
_NS_RANGE = (946_684_800 * 10**9, 4_102_444_800 * 10**9)


class LtsQueryError(Exception):
    """LTS answered with an error (or not at all)."""


def line_ts(line_num: str, labels: dict[str, Any], default_ns: int) -> int:
    """Event time of a pulled line: the agent's ``collectTime`` (ms), else ``line_num``."""
    collect = str(labels.get("collectTime", ""))
    if collect.isdigit():
        return int(collect) * 1_000_000
    if line_num.isdigit() and _NS_RANGE[0] <= int(line_num) < _NS_RANGE[1]:
        return int(line_num)
    return default_ns


def _item_problem(item: Any) -> str | None:
    """What makes ``item`` not a log entry of the documented shape, or None."""
    if not isinstance(item, dict):
        return "that is not an object"
    if not isinstance(item.get("line_num"), str | int) or isinstance(item["line_num"], bool):
        return "without a line_num"
    if not isinstance(item.get("content", ""), str):
        return "whose content is not a string"
    if not isinstance(item.get("labels") or {}, dict):
        return "whose labels are not an object"
    return None


class LtsPullSource:
    """Polls one LTS log stream into one logradar stream; see the module docstring."""

    name = "lts_pull"

    def __init__(
        self, cfg: LtsPullSourceConfig, state_path: Path, max_labels: int = DEFAULT_MAX_LABELS
    ) -> None:
        self.cfg = cfg
        self.max_labels = max_labels
        self.state_path = Path(state_path)
        self.stream = cfg.stream or cfg.log_stream_id
        self.url = cfg.endpoint.rstrip("/") + QUERY_PATH.format(
            project_id=cfg.project_id,
            log_group_id=cfg.log_group_id,
            log_stream_id=cfg.log_stream_id,
        )
        self.cursor_ms: int | None = None
        self.seen: dict[str, int] = {}
        self.pulled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    # Lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Check the config, load the saved position and open the HTTP client."""
        missing = [
            k
            for k in ("endpoint", "project_id", "log_group_id", "log_stream_id", "access_key")
            if not getattr(self.cfg, k)
        ]
        if not self.cfg.secret_key.get_secret_value():
            missing.append("secret_key")
        if missing:
            raise ValueError(f"sources.lts_pull needs {', '.join(missing)}")
        validate_stream_name(self.stream)
        self._load_state()
        self._client = httpx.Client(timeout=self.cfg.timeout_seconds)

    def start(self, ingest: IngestFn) -> None:
        self.open()
        self._thread = threading.Thread(target=self._run, args=(ingest,), name="lts-pull")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.cfg.timeout_seconds + 5)
        if self._client is not None:
            self._client.close()

    def _run(self, ingest: IngestFn) -> None:
        delay = self.cfg.poll_seconds
        while not self._stop.is_set():
            try:
                self.poll(ingest)
                delay = self.cfg.poll_seconds
            except (LtsQueryError, IngestError) as e:
                log.warning("LTS pull failed: %s; next try in %.0f s", e, delay)
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
            except Exception:
                log.exception("LTS pull failed; next try in %.0f s", delay)
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
            self._stop.wait(delay)

    # State --------------------------------------------------------------------------------
    def _load_state(self) -> None:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except ValueError:
            log.warning("LTS pull state %s is unreadable; starting afresh", self.state_path)
            return
        self.cursor_ms = data.get("cursor_ms")
        self.seen = {str(k): int(v) for k, v in data.get("seen", {}).items()}

    def _save_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".lts-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "cursor_ms": self.cursor_ms, "seen": self.seen}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.state_path)

    # Polling ------------------------------------------------------------------------------
    def poll(self, ingest: IngestFn, now_ms: int | None = None) -> int:
        """Fetch and ingest everything new up to ``now - delay``; return the lines ingested."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        end = now_ms - int(self.cfg.delay_seconds * 1000)
        if self.cursor_ms is None:
            self.cursor_ms = end - int(self.cfg.backfill_seconds * 1000)
        start = self.cursor_ms - int(self.cfg.overlap_seconds * 1000)
        if end <= start:
            return 0
        body: dict[str, Any] = {
            "start_time": str(start),
            "end_time": str(end),
            "limit": self.cfg.limit,
            "is_desc": False,
        }
        ingested = 0
        while not self._stop.is_set():
            logs = self._query(body)
            fresh = [item for item in logs if str(item.get("line_num")) not in self.seen]
            if fresh:
                self._ingest_reliably(ingest, fresh)
                self.seen.update({str(item["line_num"]): end for item in fresh})
                ingested += len(fresh)
                self.pulled += len(fresh)
                self._save_state()
            if len(logs) < self.cfg.limit:
                break
            body["line_num"] = str(logs[-1]["line_num"])
            body["search_type"] = "forwards"
        else:  # stopped part-way: the cursor stays, the next start re-queries the window
            return ingested
        self.cursor_ms = end
        keep_after = end - int(self.cfg.overlap_seconds * 1000)
        self.seen = {k: v for k, v in self.seen.items() if v >= keep_after}
        self._save_state()
        return ingested

    def _query(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if self._client is None:
            raise RuntimeError("call open() or start() first")
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = huawei_signer.sign(
            "POST",
            self.url,
            {"Content-Type": "application/json;charset=UTF-8", "X-Project-Id": self.cfg.project_id},
            payload,
            self.cfg.access_key,
            self.cfg.secret_key.get_secret_value(),
        )
        try:
            response = self._client.post(self.url, content=payload, headers=headers)
        except httpx.TransportError as e:
            raise LtsQueryError(f"cannot reach {self.cfg.endpoint}: {e}") from None
        if response.status_code != 200:
            raise LtsQueryError(f"LTS answered {response.status_code}: {response.text[:300]}")
        try:
            logs = response.json().get("logs") or []
        except (ValueError, AttributeError):
            raise LtsQueryError(f"LTS answer is not JSON: {response.text[:200]}") from None
        if not isinstance(logs, list):
            raise LtsQueryError("LTS answer's logs is not a list")
        for item in logs:
            problem = _item_problem(item)
            if problem:
                raise LtsQueryError(f"LTS answer has a log entry {problem}: {str(item)[:200]}")
        return logs

    def _ingest_reliably(self, ingest: IngestFn, logs: list[dict[str, Any]]) -> None:
        received = now_ns()
        messages, ts, hosts, labels = [], [], [], []
        for item in logs:
            item_labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
            messages.append(str(item.get("content", "")))
            ts.append(line_ts(str(item["line_num"]), item_labels, received))
            hosts.append(next((item_labels[k] for k in HOST_LABELS if k in item_labels), None))
            labels.append(labels_json(cap_labels(item_labels, self.max_labels)))
        table = ingest_table(self.stream, messages, ts, host=hosts, labels=labels)
        delay = 0.2
        while True:
            try:
                ingest(table, self.name)
                return
            except IngestError as e:
                if self._stop.is_set():
                    raise
                wait = float(e.retry_after or delay)
                log.info("ingest refused (%s); retrying in %.1f s", e.reason, wait)
                self._stop.wait(min(wait, BACKOFF_MAX_SECONDS))
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
