"""Incident alerting: anomalies grouped into incidents, routed to receivers, delivered durably.

:mod:`~logradar.alerts.grouping` decides (pure logic, injectable clock),
:mod:`~logradar.alerts.routing` picks receivers, :mod:`~logradar.alerts.manager` keeps the
incidents in the store and queues notifications, :mod:`~logradar.alerts.outbox` delivers them
through :mod:`~logradar.alerts.channels`. This package imports nothing on its own, so loading
the configuration (:mod:`~logradar.alerts.settings`) stays cheap.
"""
