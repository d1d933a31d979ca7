"""Prometheus metrics of one logradar process (own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Every metric logradar exports at ``/metrics``."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.lines_accepted = Counter(
            "logradar_lines_accepted",
            "Log lines durably accepted into the tank.",
            ["source"],
            registry=r,
        )
        self.requests_rejected = Counter(
            "logradar_requests_rejected",
            "Ingest requests refused, by reason.",
            ["source", "reason"],
            registry=r,
        )
        self.lines_truncated = Counter(
            "logradar_lines_truncated", "Lines cut to the maximum line length.", registry=r
        )
        self.lines_rejected = Counter(
            "logradar_lines_rejected",
            "Lines dropped by a limit from sources that cannot refuse (syslog, tail, LTS pull).",
            ["source", "reason"],
            registry=r,
        )
        self.udp_dropped = Gauge(
            "logradar_syslog_udp_dropped",
            "Syslog UDP lines dropped (ingest refused or failed, queue full); only grows.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "logradar_consumer_lag_lines",
            "Records in the tank not yet committed by a consumer.",
            ["consumer"],
            registry=r,
        )
        self.lines_processed = Counter(
            "logradar_lines_processed", "Lines processed by the engine.", registry=r
        )
        self.lines_archived = Counter(
            "logradar_lines_archived", "Lines written to the Parquet archive.", registry=r
        )
        self.templates = Gauge("logradar_templates", "Templates known to the parser.", registry=r)
        self.anomalies = Counter(
            "logradar_anomalies", "Anomalies detected.", ["detector", "severity"], registry=r
        )
        self.alerts = Counter(
            "logradar_alerts", "Alert deliveries, by outcome.", ["channel", "outcome"], registry=r
        )
        self.batch_seconds = Histogram(
            "logradar_engine_batch_seconds",
            "Time to process one micro-batch.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.lines_clamped = Counter(
            "logradar_engine_clamped_lines",
            "Lines whose event time was beyond engine.max_past_seconds/max_future_seconds of "
            "the clock and was clamped to that bound.",
            ["bound"],
            registry=r,
        )
        self.detection_delay_seconds = Histogram(
            "logradar_detection_delay_seconds",
            "Wall time from the end of an anomaly's event-time window to its storage.",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
