"""Results store: templates, window counts, anomalies, incidents and the alert outboxes in
one SQL schema."""

from logradar.store.queries import (
    AlertRow,
    IncidentRow,
    MuteRow,
    NotificationRow,
    Store,
    StoreUnavailable,
    StoreUrlError,
    TemplateRow,
)
from logradar.store.schema import ALL_TEMPLATES

__all__ = [
    "ALL_TEMPLATES",
    "AlertRow",
    "IncidentRow",
    "MuteRow",
    "NotificationRow",
    "Store",
    "StoreUnavailable",
    "StoreUrlError",
    "TemplateRow",
]
