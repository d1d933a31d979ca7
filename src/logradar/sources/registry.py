"""Build the enabled non-HTTP :class:`~logradar.sources.base.Source`s from the config."""

from __future__ import annotations

from pathlib import Path

from logradar.config import DEFAULT_MAX_LABELS, SourcesConfig
from logradar.sources.base import Source


def build_sources(
    cfg: SourcesConfig, state_dir: Path, max_labels: int = DEFAULT_MAX_LABELS
) -> list[Source]:
    """The sources ``cfg`` enables; their position files go in ``state_dir``; lines with
    more than ``max_labels`` labels keep the first ones (see ``server.max_labels``).

    Nothing is bound or started here: the pipeline calls ``start(ingest)`` on each.
    """
    sources: list[Source] = []
    if cfg.syslog.enabled:
        from logradar.sources.syslog import SyslogSource

        sources.append(SyslogSource(cfg.syslog, max_labels))
    if cfg.tail.paths:
        from logradar.sources.tail import TailSource

        sources.append(TailSource(cfg.tail, state_dir / "tail.json"))
    if cfg.lts_pull.enabled:
        from logradar.sources.lts_pull import LtsPullSource

        name = cfg.lts_pull.stream or cfg.lts_pull.log_stream_id or "lts"
        sources.append(LtsPullSource(cfg.lts_pull, state_dir / f"lts_pull-{name}.json", max_labels))
    return sources
