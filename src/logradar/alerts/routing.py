"""Which receivers an incident goes to: ordered routes with glob matches, as in Alertmanager.

Routes are tried in order. A route matches when every ``match`` glob matches the field of
the incident's anomaly (``stream``, ``severity``, ``detector``, ``kind``, ``template_id``; a
missing template id is the empty string). The first matching route is used, unless it says
``continue = true``: then the next matching routes add their receivers too. Without routes
every configured receiver gets every incident. The *default receivers* (the ``webhooks``
list, ``--webhook`` and ``console``) get every incident whatever the routes say.

>>> from logradar.alerts.settings import RouteConfig
>>> router = Router([RouteConfig(match={"stream": "pay*"}, receivers=["pd"], continue_=True),
...                  RouteConfig(receivers=["mail"])], all_receivers=["pd", "mail"])
>>> router.receivers({"stream": "payments"}), router.receivers({"stream": "web"})
(('pd', 'mail'), ('mail',))
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from logradar.alerts.settings import RouteConfig


def field_text(value: Any) -> str:
    """How a field value is matched: its string form, ``""`` for None."""
    return "" if value is None else str(value)


class Router:
    """Receivers for an incident's fields, from ordered ``routes``."""

    def __init__(
        self,
        routes: Iterable[RouteConfig],
        *,
        all_receivers: Iterable[str],
        default_receivers: Iterable[str] = (),
    ) -> None:
        self.routes = list(routes)
        self.all_receivers = tuple(all_receivers)
        self.default_receivers = tuple(default_receivers)

    @staticmethod
    def matches(route: RouteConfig, fields: Mapping[str, Any]) -> bool:
        return all(
            fnmatch.fnmatchcase(field_text(fields.get(key)), pattern)
            for key, pattern in route.match.items()
        )

    def receivers(self, fields: Mapping[str, Any]) -> tuple[str, ...]:
        """Receiver names for an incident with these fields, in route order, each once."""
        chosen: list[str] = []
        if not self.routes:
            chosen.extend(self.all_receivers)
        for route in self.routes:
            if self.matches(route, fields):
                chosen.extend(route.receivers)
                if not route.continue_:
                    break
        chosen.extend(self.default_receivers)
        return tuple(dict.fromkeys(chosen))
