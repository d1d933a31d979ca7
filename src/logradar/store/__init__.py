"""Results store: templates, window counts, anomalies and the alert outbox in one SQL schema."""

from logradar.store.queries import (
    AlertRow,
    MuteRow,
    Store,
    StoreUnavailable,
    StoreUrlError,
    TemplateRow,
)
from logradar.store.schema import ALL_TEMPLATES

__all__ = [
    "ALL_TEMPLATES",
    "AlertRow",
    "MuteRow",
    "Store",
    "StoreUnavailable",
    "StoreUrlError",
    "TemplateRow",
]
