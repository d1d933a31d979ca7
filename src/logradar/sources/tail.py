"""Follow files like ``tail -F``, rotation-aware, resuming where it stopped.

:class:`Tailer` is the reading core shared by :class:`TailSource` (inside ``logradar up``) and
the ``logradar tail`` command (which ships over HTTP):

- **Rotation.** A file renamed away (``logrotate`` default) is read to its end through the
  still-open handle while the new file at the path is picked up from its start. A file
  truncated in place (``copytruncate``) is detected by its size falling below the position
  or its first bytes changing, and read again from the start.
- **Positions** are kept in a JSON state file keyed by device and inode, with the offset
  and a fingerprint (hash) of the first bytes so a reused inode is not mistaken for the old
  file. It is written atomically, and only after the lines before the offset were shipped:
  a restart resumes at the first unshipped line (at-least-once).
- **Partial lines.** A last line without a newline is held back until it is completed; only
  when the file was rotated away, or on shutdown, and the line has not grown for
  ``partial_grace`` seconds is it shipped as is.
- Invalid UTF-8 is kept, with U+FFFD for the bad bytes; blank lines are skipped.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from logradar.config import TailSourceConfig
from logradar.schema import ingest_table, now_ns, validate_stream_name
from logradar.sources.base import IngestFn

log = logging.getLogger("logradar.tail")

FINGERPRINT_BYTES = 256
READ_BYTES = 4 * 1024 * 1024
PARTIAL_GRACE_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
#: Positions of files not seen for this long are forgotten.
FORGET_SECONDS = 7 * 86400.0
#: On stop, keep shipping what is already written for at most this long.
DRAIN_SECONDS = 5.0


@dataclass(slots=True)
class Chunk:
    """Complete lines read from one file; ``end`` is the offset after the last of them."""

    path: str
    key: str
    lines: list[str]
    end: int


class _Followed:
    """One open file being followed."""

    def __init__(self, path: str, key: str, fh, offset: int, fingerprint: str) -> None:  # type: ignore[no-untyped-def]
        self.path = path
        self.key = key
        self.fh = fh
        self.offset = offset
        self.fingerprint = fingerprint
        self.rotated = False
        self.partial_size = 0
        self.partial_since = time.monotonic()

    def fingerprint_now(self) -> str:
        return _fingerprint(os.pread(self.fh.fileno(), FINGERPRINT_BYTES, 0))

    def same_file(self) -> bool:
        """Do the first bytes still match? (Extends a short fingerprint as the file grows.)"""
        if not _head_matches(self.fh, self.fingerprint):
            return False
        if not self.fingerprint.startswith(f"{FINGERPRINT_BYTES}:"):
            self.fingerprint = self.fingerprint_now()
        return True


def _fingerprint(head: bytes) -> str:
    return f"{len(head)}:{hashlib.sha256(head).hexdigest()[:32]}"


def _key(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


class Tailer:
    """Reads new complete lines from files matching ``patterns``; see the module docstring.

    Call :meth:`poll` for the next chunks, ship them, then :meth:`commit` each shipped chunk.
    """

    def __init__(
        self,
        patterns: list[str],
        state_path: Path,
        *,
        read_from: str = "beginning",
        partial_grace: float = PARTIAL_GRACE_SECONDS,
    ) -> None:
        self.patterns = patterns
        self.state_path = Path(state_path)
        self.read_from = read_from
        self.partial_grace = partial_grace
        self._files: dict[str, _Followed] = {}
        self._saved: dict[str, dict] = self._load_state()
        self._first_scan = True
        self._dirty = False

    # State --------------------------------------------------------------------------------
    def _load_state(self) -> dict[str, dict]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            return dict(data.get("files", {}))
        except FileNotFoundError:
            return {}
        except (ValueError, AttributeError, TypeError):
            log.warning("tail state %s is unreadable; starting afresh", self.state_path)
            return {}

    def save(self) -> None:
        """Write positions atomically (temp file + rename), if they changed."""
        if not self._dirty:
            return
        now = time.time()
        for f in self._files.values():
            self._saved.pop(f.key, None)
        self._saved = {
            k: v for k, v in self._saved.items() if now - v.get("seen", now) < FORGET_SECONDS
        }
        files = {**self._saved, **{f.key: _entry(f, now) for f in self._files.values()}}
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".tail-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "files": files}, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.state_path)
        self._dirty = False

    def _retire(self, followed: _Followed) -> None:
        """Remember a finished rotated file's position, in case it matches again."""
        self._saved[followed.key] = _entry(followed, time.time())
        self._dirty = True

    def commit(self, chunk: Chunk) -> None:
        """Record that ``chunk`` was shipped: its file resumes after it."""
        followed = self._files.get(chunk.key)
        if followed is not None and chunk.end > followed.offset:
            followed.offset = chunk.end
            self._dirty = True

    # Discovery ----------------------------------------------------------------------------
    def _scan(self) -> None:
        current: dict[str, str] = {}
        for pattern in self.patterns:
            paths = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]
            for path in paths:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not os.path.isfile(path):
                    continue
                current[_key(st)] = path
        for key, followed in self._files.items():
            if key not in current:
                followed.rotated = True
        for key, path in current.items():
            if key not in self._files:
                self._open(path, key)
            else:  # renamed to another matching name: go on following it
                self._files[key].path = path
        self._first_scan = False

    def _open(self, path: str, key: str) -> None:
        try:
            fh = open(path, "rb")  # noqa: SIM115 (kept open to read a renamed file to its end)
        except OSError as e:
            log.warning("cannot open %s: %s", path, e)
            return
        st = os.fstat(fh.fileno())
        if _key(st) != key:  # replaced between stat and open: pick it up next scan
            fh.close()
            return
        head = _fingerprint(os.pread(fh.fileno(), FINGERPRINT_BYTES, 0))
        saved = self._saved.pop(key, None)
        offset = 0
        if (
            saved is not None
            and _head_matches(fh, str(saved.get("fingerprint", "")))
            and int(saved.get("offset", 0)) <= st.st_size
        ):
            offset, head = int(saved["offset"]), str(saved["fingerprint"])
        elif self._first_scan and self.read_from == "end":
            offset = st.st_size
        self._files[key] = _Followed(path, key, fh, offset, head)
        self._dirty = True

    # Reading ------------------------------------------------------------------------------
    def poll(self, final: bool = False) -> list[Chunk]:
        """Rescan the patterns and return new complete lines per file.

        With ``final`` (shutdown), a held partial last line older than the grace is included.
        """
        self._scan()
        chunks: list[Chunk] = []
        for key in list(self._files):
            followed = self._files[key]
            chunk, at_end = self._read(followed, final)
            if chunk is not None:
                chunks.append(chunk)
            elif followed.rotated and at_end:
                followed.fh.close()
                del self._files[key]
                self._retire(followed)
        return chunks

    def _read(self, f: _Followed, final: bool) -> tuple[Chunk | None, bool]:
        size = os.fstat(f.fh.fileno()).st_size
        if size < f.offset or not f.same_file():
            log.info("%s was truncated or replaced in place; reading it from the start", f.path)
            f.offset = 0
            f.fingerprint = f.fingerprint_now()
            self._dirty = True
        data = os.pread(f.fh.fileno(), READ_BYTES, f.offset)
        if not data:
            return None, True
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) == READ_BYTES:  # one huge line: ship it in pieces
            cut = len(data)
        if cut < len(data) and f.offset + len(data) >= size:  # a partial last line
            partial = len(data) - cut
            now = time.monotonic()
            if partial != f.partial_size:
                f.partial_size, f.partial_since = partial, now
            if (f.rotated or final) and now - f.partial_since >= self.partial_grace:
                cut = len(data)
        if cut == 0:
            return None, False
        text = data[:cut].decode("utf-8", errors="replace")
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        lines = [line for line in lines if line.strip()]
        end = f.offset + cut
        if not lines:  # only blank lines: nothing to ship, just move on
            f.offset = end
            self._dirty = True
            return None, end >= size
        return Chunk(f.path, f.key, lines, end), False

    def close(self) -> None:
        for followed in self._files.values():
            followed.fh.close()
        self._files.clear()


def _entry(f: _Followed, now: float) -> dict:
    return {"path": f.path, "offset": f.offset, "fingerprint": f.fingerprint, "seen": now}


def _head_matches(fh, fingerprint: str) -> bool:  # type: ignore[no-untyped-def]
    length, _, _ = fingerprint.partition(":")
    if not length.isdigit():
        return False
    return _fingerprint(os.pread(fh.fileno(), int(length), 0)) == fingerprint


def follow(
    tailer: Tailer,
    ship: Callable[[Chunk], None],
    stop: threading.Event,
    poll_seconds: float,
) -> None:
    """Poll, ship and commit until ``stop`` is set; then drain what is left (partials too).

    ``ship`` raises to refuse a chunk; it is retried with backoff (honouring a
    ``retry_after`` attribute), and nothing after it in that file is shipped meanwhile.
    """
    delay = poll_seconds
    drain_until: float | None = None
    while True:
        if stop.is_set() and drain_until is None:
            drain_until = time.monotonic() + DRAIN_SECONDS
        chunks = tailer.poll(final=drain_until is not None)
        failure: Exception | None = None
        for chunk in chunks:
            try:
                ship(chunk)
            except Exception as e:
                failure = e
                log.warning("shipping %d lines of %s failed: %s", len(chunk.lines), chunk.path, e)
                break
            tailer.commit(chunk)
        tailer.save()
        if drain_until is not None and (failure or not chunks or time.monotonic() > drain_until):
            tailer.close()
            return
        if failure is not None:
            wait = getattr(failure, "retry_after", None) or delay
            stop.wait(min(float(wait), RETRY_MAX_SECONDS))
            delay = min(delay * 2, RETRY_MAX_SECONDS)
        elif not chunks:
            delay = poll_seconds
            stop.wait(poll_seconds)


class TailSource:
    """Follows ``cfg.paths`` and ingests their lines directly into the pipeline."""

    name = "tail"

    def __init__(self, cfg: TailSourceConfig, state_path: Path) -> None:
        self.cfg = cfg
        self.state_path = state_path
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, ingest: IngestFn) -> None:
        validate_stream_name(self.cfg.stream)
        tailer = Tailer(self.cfg.paths, self.state_path, read_from=self.cfg.read_from)

        def ship(chunk: Chunk) -> None:
            table = ingest_table(
                self.cfg.stream, chunk.lines, now_ns(), host=self.host, labels={"file": chunk.path}
            )
            ingest(table, self.name)

        self._thread = threading.Thread(
            target=follow,
            args=(tailer, ship, self._stop, self.cfg.poll_seconds),
            name="tail",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
