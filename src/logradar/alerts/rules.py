"""Which anomalies become alerts: a severity threshold plus a per-key cooldown.

The concepts follow Prometheus Alertmanager. The *grouping key* of an anomaly is
``(detector, kind, stream, template_id)``: anomalies with the same key are the same problem
seen again. The *cooldown* plays the role of ``repeat_interval``: after a key has alerted, more
anomalies with that key are stored but do not alert again until the cooldown has passed.

The cooldown is kept in memory (not in the store): after a restart a key may alert once more
before its cooldown applies again. That errs on the side of telling rather than hiding.

>>> from logradar.schema import Anomaly, Severity
>>> rules = AlertRules(Severity.MEDIUM, cooldown_seconds=60)
>>> a = Anomaly("frequency", "spike", "web", 0, 10, 0.9, Severity.HIGH, "3x more errors")
>>> rules.decide(a, now_ns=0), rules.decide(a, now_ns=30 * 10**9), rules.decide(a, 61 * 10**9)
(True, False, True)
"""

from __future__ import annotations

from logradar.schema import Anomaly, Severity

AlertKey = tuple[str, str, str, int | None]

_PRUNE_ABOVE = 10_000
"""Forget expired keys once this many are remembered (bounds memory on many templates)."""


def alert_key(anomaly: Anomaly) -> AlertKey:
    """The grouping key: anomalies with equal keys share one cooldown."""
    return (anomaly.detector, anomaly.kind, anomaly.stream, anomaly.template_id)


class AlertRules:
    """Alert on anomalies at or above ``min_severity``, at most once per key per cooldown."""

    def __init__(self, min_severity: Severity, cooldown_seconds: float) -> None:
        self.min_severity = Severity.parse(min_severity)
        self.cooldown_ns = int(cooldown_seconds * 1e9)
        self._last_alert: dict[AlertKey, int] = {}
        self._prune_at = _PRUNE_ABOVE

    def decide(self, anomaly: Anomaly, now_ns: int) -> bool:
        """True if ``anomaly`` should alert now; a True answer starts the key's cooldown.

        ``now_ns`` is wall-clock time in a live system; a backtest may pass event time.
        """
        if anomaly.severity < self.min_severity:
            return False
        key = alert_key(anomaly)
        last = self._last_alert.get(key)
        if last is not None and now_ns - last < self.cooldown_ns:
            return False
        self._last_alert[key] = now_ns
        if len(self._last_alert) > self._prune_at:
            self._prune(now_ns)
        return True

    def _prune(self, now_ns: int) -> None:
        """Forget keys whose cooldown is over; prune again only after the map doubles."""
        self._last_alert = {
            k: t for k, t in self._last_alert.items() if now_ns - t < self.cooldown_ns
        }
        self._prune_at = max(_PRUNE_ABOVE, 2 * len(self._last_alert))
