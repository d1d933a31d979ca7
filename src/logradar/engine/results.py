"""Writing what a reduce step produced to the store; shared by the local and Spark engines."""

from __future__ import annotations

from logradar.engine.core import CoreOutput, DetectionCore
from logradar.store import Store, TemplateRow


def store_windows_and_templates(out: CoreOutput, core: DetectionCore, store: Store) -> None:
    """Per-window counts (template id -1 is the stream total) and the templates that changed.

    Both writes are idempotent, so a replay after a crash adds nothing twice.
    """
    if out.windows:
        rows = [
            (w.stream, w.start, w.end, tid, n) for w in out.windows for tid, n in w.counts.items()
        ]
        rows += [(w.stream, w.start, w.end, -1, w.total) for w in out.windows]
        store.add_window_counts(rows)
    if core.dirty_templates:
        store.upsert_templates(
            TemplateRow(
                id=tid,
                template=core.template_text(tid),
                parent_id=None,
                first_seen_ns=stats[2],
                last_seen_ns=stats[3],
                count=stats[0],
            )
            for tid in sorted(core.dirty_templates)
            if (stats := core.template_stats.get(tid))
        )
        core.dirty_templates.clear()
