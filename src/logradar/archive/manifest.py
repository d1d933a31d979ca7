"""The archive's manifest: which files are committed, and up to which tank offset.

A small log under ``<root>/_manifest/``: entry ``<seq>.json`` records one atomic change,
``{"seq", "first", "last", "add": [...], "remove": [...]}`` (paths relative to the root); a
flush adds the files it wrote for tank offsets ``first..last``, a compaction or retention run
adds merged files (their row counts in ``"rows"``) and removes the ones they replace. Entry
``<seq>.checkpoint.json`` holds
the whole state after ``seq``; older entries are then deleted. A reader takes the newest
checkpoint and applies the entries after it, so it never lists the data folders (cheap on
object storage) and never sees a file that is not committed, or one that was replaced.

An entry becomes visible at once and whole: a local file is written under a temporary name
and renamed; an object upload of a few KB is one PUT. Only one archiver writes an archive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pyarrow.fs as pafs

FOLDER = "_manifest"
_ENTRY = re.compile(r"^(\d{20})(\.checkpoint)?\.json$")


@dataclass(slots=True)
class ManifestState:
    seq: int = 0
    last: int = -1  # the last tank offset a committed flush covers
    files: set[str] = field(default_factory=set)
    rows: dict[str, int] = field(default_factory=dict)  # rows of merged files

    def apply(self, entry: dict) -> None:
        self.seq = entry["seq"]
        if entry.get("last") is not None:
            self.last = max(self.last, entry["last"])
        for path in entry.get("remove", ()):
            self.files.discard(path)
            self.rows.pop(path, None)
        self.files.update(entry.get("add", ()))
        self.rows.update(entry.get("rows", {}))


class Manifest:
    """The manifest log of the archive at ``root`` on ``fs``."""

    def __init__(self, fs: pafs.FileSystem, root: str) -> None:
        self.fs = fs
        self.root = root
        self.folder = f"{root}/{FOLDER}"

    def _entries(self) -> list[tuple[int, bool, str]]:
        """``(seq, is_checkpoint, path)`` of every entry, in order."""
        selector = pafs.FileSelector(self.folder, allow_not_found=True)
        found = []
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and (m := _ENTRY.match(info.base_name)):
                found.append((int(m.group(1)), bool(m.group(2)), info.path))
        return sorted(found)

    def _read(self, path: str) -> dict:
        with self.fs.open_input_stream(path) as f:
            return json.loads(f.read())

    def exists(self) -> bool:
        return bool(self._entries())

    def load(self) -> ManifestState:
        """The committed state (empty when there is no manifest yet)."""
        entries = self._entries()
        checkpoints = [e for e in entries if e[1]]
        state = ManifestState()
        start = 0
        if checkpoints:
            seq, _, path = checkpoints[-1]
            data = self._read(path)
            state = ManifestState(
                data["seq"], data["last"], set(data["files"]), data.get("rows", {})
            )
            start = seq
        for seq, is_checkpoint, path in entries:
            if seq > start and not is_checkpoint:
                state.apply(self._read(path))
        return state

    def files(self) -> set[str] | None:
        """The committed files, or None when the archive has no manifest."""
        return self.load().files if self.exists() else None

    def _put(self, name: str, data: dict) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        path = f"{self.folder}/{name}"
        if isinstance(self.fs, pafs.LocalFileSystem):
            self.fs.create_dir(self.folder, recursive=True)
            tmp = f"{self.folder}/.{name}.tmp"
            with self.fs.open_output_stream(tmp) as f:
                f.write(body)
            self.fs.move(tmp, path)
        else:
            with self.fs.open_output_stream(path) as f:
                f.write(body)

    def commit(
        self,
        state: ManifestState,
        *,
        add: list[str] = (),  # type: ignore[assignment]
        remove: list[str] = (),  # type: ignore[assignment]
        first: int | None = None,
        last: int | None = None,
        rows: dict[str, int] | None = None,
    ) -> None:
        """Commit one change atomically, then apply it to ``state`` (left as is on failure)."""
        entry = {
            "seq": state.seq + 1,
            "first": first,
            "last": last,
            "add": sorted(add),
            "remove": sorted(remove),
        }
        if rows:
            entry["rows"] = rows
        self._put(f"{state.seq + 1:020d}.json", entry)
        state.apply(entry)

    def checkpoint(self, state: ManifestState) -> None:
        """Write the whole ``state`` as one entry, then delete the entries it covers."""
        data = {
            "seq": state.seq,
            "last": state.last,
            "files": sorted(state.files),
            "rows": state.rows,
        }
        self._put(f"{state.seq:020d}.checkpoint.json", data)
        for seq, is_checkpoint, path in self._entries():
            if seq < state.seq or (seq == state.seq and not is_checkpoint):
                self.fs.delete_file(path)
