"""Generate the Grafana dashboards in ``dashboards/`` with grafana-foundation-sdk.

    PYTHONPATH=src python deploy/grafana/dashboards.py   # rewrites dashboards/*.json

Overview and Stream query the store's tables (PostgreSQL, see docs/store.md) with Grafana's
PostgreSQL macros; Operations queries Prometheus scraping logradar's ``/metrics``. The
datasource uids match ``provisioning/datasources/datasources.yml``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal, Self

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
)

OUT = Path(__file__).with_name("dashboards")
PG = DataSourceRef(type_val="grafana-postgresql-datasource", uid="logradar-postgres")
PROM = DataSourceRef(type_val="prometheus", uid="logradar-prometheus")
ERROR_WORDS = r"\m(error|err|exception|fatal|fail|failed|failure|critical|panic)\M"
"""Templates matching this (case-insensitive) count as errors for the error-rate panel."""


class SqlQuery(cogvariants.Dataquery):
    """A Grafana SQL datasource query (raw SQL; the SDK has no PostgreSQL query model)."""

    def __init__(self, ref_id: str, sql: str, fmt: Literal["time_series", "table"]) -> None:
        self.ref_id, self.sql, self.fmt = ref_id, sql, fmt

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": PG.to_json(),
            "editorMode": "code",
            "format": self.fmt,
            "rawQuery": True,
            "rawSql": self.sql,
        }


class Sql(cogbuilder.Builder[SqlQuery]):
    def __init__(self, sql: str, fmt: Literal["time_series", "table"] = "time_series") -> None:
        self._internal = SqlQuery("A", " ".join(sql.split()), fmt)

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def build(self) -> SqlQuery:
        return self._internal


def _prom(expr: str, legend: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).range().ref_id("A")


def _legend() -> cb.VizLegendOptions:
    return (
        cb.VizLegendOptions()
        .show_legend(True)
        .display_mode(LegendDisplayMode.LIST)
        .placement(LegendPlacement.BOTTOM)
    )


def _reduce(values: bool) -> cb.ReduceDataOptions:
    return cb.ReduceDataOptions().values(values).calcs(["lastNotNull"])


def _series(title: str, sql: str, *, unit: str = "short") -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .datasource(PG)
        .with_target(Sql(sql))
        .unit(unit)
        .fill_opacity(20)
        .legend(_legend())
        .height(8)
        .span(12)
    )


def _table(title: str, sql: str, *, span: int = 12, height: int = 8) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .datasource(PG)
        .with_target(Sql(sql, "table"))
        .show_header(True)
        .height(height)
        .span(span)
    )


# Overview -------------------------------------------------------------------------------------
def overview() -> db.Dashboard:
    """Anomalies and incidents over time, top templates, volume, alert delivery."""
    return (
        db.Dashboard("logradar · Overview")
        .uid("logradar-overview")
        .tags(["logradar"])
        .time("now-24h", "now")
        .refresh("30s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_panel(
            stat.Panel()
            .title("Anomalies (medium and above)")
            .datasource(PG)
            .with_target(
                Sql(
                    """SELECT count(*) AS anomalies FROM anomalies
                    WHERE $__timeFilter(window_start) AND severity_rank >= 30""",
                    "table",
                )
            )
            .reduce_options(_reduce(False))
            .height(4)
            .span(6)
        )
        .with_panel(
            stat.Panel()
            .title("Firing incidents")
            .datasource(PG)
            .with_target(
                Sql("SELECT count(*) AS firing FROM incidents WHERE status = 'firing'", "table")
            )
            .reduce_options(_reduce(False))
            .height(4)
            .span(6)
        )
        .with_panel(
            _table(
                "Incidents",
                """SELECT id, severity, stream, detector, summary, first_seen, last_seen,
                anomaly_count, status FROM incidents WHERE $__timeFilter(last_seen)
                ORDER BY severity_rank DESC, last_seen DESC LIMIT 100""",
                span=12,
                height=4,
            )
        )
        .with_panel(
            _series(
                "Anomalies by severity",
                """SELECT $__timeGroupAlias(window_start, $__interval, 0), severity AS metric,
                count(*) AS value FROM anomalies WHERE $__timeFilter(window_start)
                GROUP BY 1, 2 ORDER BY 1""",
            )
        )
        .with_panel(
            _series(
                "Anomalies by stream",
                """SELECT $__timeGroupAlias(window_start, $__interval, 0), stream AS metric,
                count(*) AS value FROM anomalies WHERE $__timeFilter(window_start)
                GROUP BY 1, 2 ORDER BY 1""",
            )
        )
        .with_panel(
            _series(
                "Incidents by severity",
                """SELECT $__timeGroupAlias(first_seen, $__interval, 0), severity AS metric,
                count(*) AS value FROM incidents WHERE $__timeFilter(first_seen)
                GROUP BY 1, 2 ORDER BY 1""",
            )
        )
        .with_panel(
            _series(
                "Incidents by stream",
                """SELECT $__timeGroupAlias(first_seen, $__interval, 0), stream AS metric,
                count(*) AS value FROM incidents WHERE $__timeFilter(first_seen)
                GROUP BY 1, 2 ORDER BY 1""",
            )
        )
        .with_panel(
            bargauge.Panel()
            .title("Top templates by anomalies")
            .datasource(PG)
            .with_target(
                Sql(
                    """SELECT left(coalesce(template, '(template ' || template_id || ')'), 120)
                    AS template, count(*) AS anomalies FROM anomalies
                    WHERE $__timeFilter(window_start) AND template_id IS NOT NULL
                    GROUP BY template, template_id ORDER BY 2 DESC LIMIT 10""",
                    "table",
                )
            )
            .reduce_options(_reduce(True))
            .height(8)
            .span(12)
        )
        .with_panel(
            _series(
                "Volume per stream (lines)",
                """SELECT $__timeGroupAlias(window_start, $__interval, 0), stream AS metric,
                sum(count) AS value FROM window_counts
                WHERE template_id = -1 AND $__timeFilter(window_start)
                GROUP BY 1, 2 ORDER BY 1""",
            )
        )
        .with_panel(
            _table(
                "Alert delivery status",
                """SELECT 'alerts' AS outbox, channel AS receiver, status, count(*) AS n,
                max(created_at) AS latest FROM alerts WHERE $__timeFilter(created_at)
                GROUP BY channel, status
                UNION ALL
                SELECT 'notifications', receiver, status, count(*), max(created_at)
                FROM notifications WHERE $__timeFilter(created_at)
                GROUP BY receiver, status ORDER BY 1, 2, 3""",
            )
        )
    )


# Stream ---------------------------------------------------------------------------------------
def stream() -> db.Dashboard:
    """One stream (``$stream``): volume, error rate, top templates, anomalies with UI links."""
    ui = "${logradar_url}/anomalies/${__data.fields.id}"
    return (
        db.Dashboard("logradar · Stream")
        .uid("logradar-stream")
        .tags(["logradar"])
        .time("now-24h", "now")
        .refresh("30s")
        .with_variable(
            db.QueryVariable("stream")
            .label("Stream")
            .datasource(PG)
            .query("SELECT DISTINCT stream FROM window_counts ORDER BY 1")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
        .with_variable(
            db.TextBoxVariable("logradar_url")
            .label("logradar UI")
            .default_value("http://localhost:8080")
            .current(VariableOption(text="http://localhost:8080", value="http://localhost:8080"))
        )
        .with_panel(
            _series(
                "Volume of $stream (lines)",
                """SELECT $__timeGroupAlias(window_start, $__interval, 0), sum(count) AS lines
                FROM window_counts WHERE stream = '$stream' AND template_id = -1
                AND $__timeFilter(window_start) GROUP BY 1 ORDER BY 1""",
            )
        )
        .with_panel(
            _series(
                "Error rate of $stream",
                f"""SELECT $__timeGroupAlias(wc.window_start, $__interval),
                100.0 * coalesce(sum(wc.count) FILTER (WHERE t.template ~* '{ERROR_WORDS}'), 0)
                / nullif(sum(wc.count), 0) AS "error %"
                FROM window_counts wc JOIN templates t ON t.id = wc.template_id
                WHERE wc.stream = '$stream' AND $__timeFilter(wc.window_start)
                GROUP BY 1 ORDER BY 1""",
                unit="percent",
            )
        )
        .with_panel(
            _series(
                "Top templates of $stream (lines)",
                """SELECT $__timeGroupAlias(wc.window_start, $__interval, 0),
                left(t.template, 80) AS metric, sum(wc.count) AS value
                FROM window_counts wc JOIN templates t ON t.id = wc.template_id
                WHERE wc.stream = '$stream' AND $__timeFilter(wc.window_start)
                AND wc.template_id IN (SELECT template_id FROM window_counts
                  WHERE stream = '$stream' AND template_id >= 0 AND $__timeFilter(window_start)
                  GROUP BY template_id ORDER BY sum(count) DESC LIMIT 10)
                GROUP BY 1, 2 ORDER BY 1""",
            ).span(24)
        )
        .with_panel(
            _table(
                "Anomalies of $stream (click a row to open it in logradar)",
                """SELECT id, window_start AS time, severity, detector, kind, template,
                expected, observed, explanation, status FROM anomalies
                WHERE stream = '$stream' AND $__timeFilter(window_start)
                ORDER BY window_start DESC, id DESC LIMIT 200""",
                span=24,
                height=10,
            ).data_links([db.DashboardLink("Open in logradar").url(ui).target_blank(True)])
        )
    )


# Operations (Prometheus) ----------------------------------------------------------------------
def _prom_series(title: str, expr: str, legend: str, unit: str = "short") -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .datasource(PROM)
        .with_target(_prom(expr, legend))
        .unit(unit)
        .legend(_legend())
        .height(8)
        .span(12)
    )


def operations() -> db.Dashboard:
    """logradar's own health from ``/metrics``."""
    rate = "[$__rate_interval]"
    return (
        db.Dashboard("logradar · Operations")
        .uid("logradar-operations")
        .tags(["logradar"])
        .time("now-1h", "now")
        .refresh("10s")
        .with_panel(
            _prom_series(
                "Lines accepted/s per receiver",
                f"sum by (source) (rate(logradar_lines_accepted_total{rate}))",
                "{{source}}",
            )
        )
        .with_panel(
            _prom_series(
                "Lines processed (engine) and archived/s",
                f"sum(rate(logradar_lines_processed_total{rate}))",
                "processed",
            ).with_target(
                _prom(f"sum(rate(logradar_lines_archived_total{rate}))", "archived").ref_id("B")
            )
        )
        .with_panel(
            _prom_series(
                "Engine lag (lines)",
                'max(logradar_consumer_lag_lines{consumer="engine"})',
                "engine",
            )
        )
        .with_panel(
            _prom_series(
                "Archive lag (lines)",
                'max(logradar_consumer_lag_lines{consumer="archive"})',
                "archive",
            )
        )
        .with_panel(
            _prom_series(
                "Alert outbox depth (pending)",
                "sum by (outbox) (logradar_alert_outbox_pending)",
                "{{outbox}}",
            )
        )
        .with_panel(
            _prom_series(
                "Rejected requests/s",
                f"sum by (source, reason) (rate(logradar_requests_rejected_total{rate}))",
                "{{source}} {{reason}}",
            )
        )
        .with_panel(
            _prom_series(
                "Anomalies/min by severity",
                f"60 * sum by (severity) (rate(logradar_anomalies_total{rate}))",
                "{{severity}}",
            )
        )
        .with_panel(
            _prom_series(
                "Engine batch time p99",
                "histogram_quantile(0.99, sum by (le) "
                f"(rate(logradar_engine_batch_seconds_bucket{rate})))",
                "p99",
                unit="s",
            )
        )
        .with_panel(
            _prom_series(
                "Detection delay p99",
                "histogram_quantile(0.99, sum by (le) "
                f"(rate(logradar_detection_delay_seconds_bucket{rate})))",
                "p99",
                unit="s",
            )
        )
    )


DASHBOARDS = {"overview": overview, "stream": stream, "operations": operations}


def render(name: str) -> str:
    """The dashboard ``name`` as the JSON text written to ``dashboards/<name>.json``."""
    return json.dumps(DASHBOARDS[name]().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main() -> int:
    for name in DASHBOARDS:
        (OUT / f"{name}.json").write_text(render(name))
        print(f"wrote {OUT / name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
