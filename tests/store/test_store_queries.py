"""Store behaviour on SQLite and PostgreSQL: idempotent writes, ordering, filters, outbox rows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from logradar.schema import Anomaly, Severity
from logradar.store import ALL_TEMPLATES, Store, TemplateRow
from logradar.store.schema import templates, window_counts

S = 10**9
T0 = int(datetime(2024, 3, 1, 12, 0, tzinfo=UTC).timestamp()) * S


def anomaly(
    stream: str = "web",
    start: int = T0,
    *,
    width: int = 10 * S,
    template_id: int | None = 7,
    severity: Severity = Severity.HIGH,
    kind: str = "spike",
) -> Anomaly:
    return Anomaly(
        detector="frequency",
        kind=kind,
        stream=stream,
        start=start,
        end=start + width,
        score=0.93,
        severity=severity,
        explanation=f"template {template_id} seen 40 times, expected 3",
        template_id=template_id,
        template="GET <*> 500" if template_id is not None else None,
        session=None,
        expected=3.0,
        observed=40.0,
        examples=["GET /a 500", "GET /b 500"],
    )


def test_opening_creates_parent_dir_and_tables_and_reopening_keeps_data(tmp_path):
    path = tmp_path / "a" / "b" / "results.db"
    s = Store(f"sqlite:///{path}")
    s.add_window_counts([("web", T0, T0 + 10 * S, ALL_TEMPLATES, 5)])
    s.close()
    assert path.exists()
    s = Store(f"sqlite:///{path}")
    assert s.volume(since_ns=0) == [("web", T0, 5)]
    names = set(sa.inspect(s.engine).get_table_names())
    assert {"templates", "window_counts", "anomalies", "alerts"} <= names
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    s.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db"])
def test_rejects_unusable_urls(url):
    with pytest.raises(ValueError, match="sqlite"):
        Store(url)


@pytest.mark.integration
def test_plain_postgresql_url_uses_psycopg(pg_url):
    s = Store(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    assert s.engine.driver == "psycopg"
    s.close()


@pytest.mark.integration
def test_postgresql_columns_are_timestamptz(pg_url):
    s = Store(pg_url)
    s.add_window_counts([("web", T0, T0 + 10 * S, ALL_TEMPLATES, 5)])
    with s.engine.connect() as conn:
        types = dict(
            conn.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'window_counts'"
                )
            ).all()
        )
        raw = conn.execute(sa.text("SELECT window_start FROM window_counts")).scalar_one()
    s.close()
    assert types["window_start"] == "timestamp with time zone"
    assert raw == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def test_timestamps_round_trip_at_microsecond_precision(store):
    start = T0 + 123_456_000  # .123456 s
    store.add_window_counts([("web", start, start + 10 * S, ALL_TEMPLATES, 1)])
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(window_counts.c.window_start, window_counts.c.window_end))
        assert row.one() == (start, start + 10 * S)


def test_upsert_templates_overwrites_count_and_last_seen_keeps_first_seen(store):
    store.upsert_templates(
        [TemplateRow(1, "a <*>", None, T0, T0, 3), TemplateRow(2, "b", 1, T0, T0, 1)]
    )
    store.upsert_templates([TemplateRow(1, "a <*> c", None, T0 + 5 * S, T0 + 9 * S, 10)])
    t = templates.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.id, t.template, t.parent_id, t.first_seen, t.last_seen, t.count).order_by(
                t.id
            )
        ).all()
    assert rows == [(1, "a <*> c", None, T0, T0 + 9 * S, 10), (2, "b", 1, T0, T0, 1)]


def test_window_counts_replay_does_not_double_count(store):
    rows = [
        ("web", T0, T0 + 10 * S, ALL_TEMPLATES, 12),
        ("web", T0, T0 + 10 * S, 7, 9),
        ("web", T0 + 10 * S, T0 + 20 * S, ALL_TEMPLATES, 4),
    ]
    store.add_window_counts(rows)
    store.add_window_counts(rows)  # replay after a crash
    assert store.volume(since_ns=0) == [("web", T0, 12), ("web", T0 + 10 * S, 4)]
    # A later write of the same window replaces it; duplicates in one call: the last wins.
    store.add_window_counts(
        [("web", T0, T0 + 10 * S, ALL_TEMPLATES, 13), ("web", T0, T0 + 10 * S, ALL_TEMPLATES, 14)]
    )
    assert store.volume(since_ns=0)[0] == ("web", T0, 14)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM window_counts")).scalar() == 3


def test_volume_filters_and_orders(store):
    w = 10 * S
    store.add_window_counts(
        [
            ("web", T0 + w, T0 + 2 * w, ALL_TEMPLATES, 2),
            ("db", T0, T0 + w, ALL_TEMPLATES, 30),
            ("web", T0, T0 + w, ALL_TEMPLATES, 1),
            ("web", T0, T0 + w, 5, 1),  # per-template rows are not volume
            ("db", T0 + w, T0 + 2 * w, ALL_TEMPLATES, 31),
        ]
    )
    assert store.volume(since_ns=0) == [
        ("db", T0, 30),
        ("db", T0 + w, 31),
        ("web", T0, 1),
        ("web", T0 + w, 2),
    ]
    assert store.volume(since_ns=T0 + w) == [("db", T0 + w, 31), ("web", T0 + w, 2)]
    assert store.volume(since_ns=0, stream="web") == [("web", T0, 1), ("web", T0 + w, 2)]
    assert store.volume(since_ns=T0 + 2 * w) == []


def test_same_anomaly_twice_is_inserted_once(store):
    a, b = anomaly(start=T0), anomaly(start=T0 + 10 * S)
    first = store.add_anomalies([a, a, b])
    assert [x for _, x in first] == [a, b]
    assert len({i for i, _ in first}) == 2
    assert store.add_anomalies([a, b]) == []
    c = anomaly(start=T0 + 20 * S)
    (new,) = store.add_anomalies([b, c, a])
    assert new[1] == c and new[0] not in {i for i, _ in first}
    assert len(store.list_anomalies()) == 3


def test_list_anomalies_shape(store):
    a = anomaly()
    ((id_, _),) = store.add_anomalies([a])
    (got,) = store.list_anomalies()
    assert got.pop("id") == id_
    assert got.pop("status") == "open"
    assert got.pop("incident_id") is None
    created = datetime.fromisoformat(got.pop("created_at").replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - created).total_seconds()) < 3600
    assert got == a.to_dict()


def test_list_anomalies_newest_first_with_filters(store):
    w = 10 * S
    ids = {}
    for name, stream, start, width, tid in [
        ("old", "web", T0, w, 1),
        ("new_db", "db", T0 + 3 * w, w, 1),
        ("mid", "web", T0 + w, w, 2),
        ("new_web_a", "web", T0 + 2 * w, 2 * w, 3),  # same end as new_db
        ("new_web_b", "web", T0 + 3 * w, w, 4),  # same end too, inserted last
    ]:
        ((i, _),) = store.add_anomalies([anomaly(stream, start, width=width, template_id=tid)])
        ids[i] = name

    def names(**kw):
        return [ids[d["id"]] for d in store.list_anomalies(**kw)]

    assert names() == ["new_web_b", "new_web_a", "new_db", "mid", "old"]
    assert names(stream="web") == ["new_web_b", "new_web_a", "mid", "old"]
    assert names(since_ns=T0 + 2 * w) == ["new_web_b", "new_web_a", "new_db", "mid"]
    assert names(stream="db", since_ns=T0) == ["new_db"]
    assert names(limit=2) == ["new_web_b", "new_web_a"]
    assert names(stream="nope") == []


def test_streams_from_counts_and_anomalies(store):
    assert store.streams() == []
    store.add_window_counts([("web", T0, T0 + S, ALL_TEMPLATES, 1), ("api", T0, T0 + S, 1, 1)])
    store.add_anomalies([anomaly("db"), anomaly("web")])
    assert store.streams() == ["api", "db", "web"]


def test_alert_rows_lifecycle(store):
    ((aid, a),) = store.add_anomalies([anomaly()])
    ids = store.add_alerts(aid, ["hook", "console", "hook"], T0)
    assert len(ids) == 2
    assert store.add_alerts(aid, ["hook"], T0) == []  # already queued

    assert store.due_alerts(T0 - 1) == []
    due = store.due_alerts(T0)
    assert sorted(r.channel for r in due) == ["console", "hook"]
    assert all(r.anomaly == a and r.anomaly_id == aid and r.attempts == 0 for r in due)
    assert [r.channel for r in store.due_alerts(T0, channels=["hook"])] == ["hook"]

    hook = next(r.id for r in due if r.channel == "hook")
    console = next(r.id for r in due if r.channel == "console")
    store.mark_retry(hook, T0 + 5 * S, "HTTP 500")
    assert [r.id for r in store.due_alerts(T0 + 4 * S)] == [console]
    (again,) = store.due_alerts(T0 + 5 * S, channels=["hook"])
    assert again.attempts == 1
    store.mark_delivered(console, T0 + S)
    store.mark_failed(hook, "HTTP 500 again")
    assert store.due_alerts(T0 + 100 * S) == []

    by_id = {r["id"]: r for r in store.list_alerts()}
    assert [r["id"] for r in store.list_alerts()] == sorted(ids, reverse=True)
    assert by_id[console]["status"] == "delivered"
    assert by_id[console]["attempts"] == 1
    assert by_id[console]["delivered_at"] == "2024-03-01T12:00:01Z"
    assert by_id[hook]["status"] == "failed"
    assert by_id[hook]["attempts"] == 2
    assert by_id[hook]["last_error"] == "HTTP 500 again"
    assert len(store.list_alerts(limit=1)) == 1


def test_alert_needs_an_existing_anomaly(store):
    with pytest.raises(sa.exc.IntegrityError):
        store.add_alerts(12345, ["hook"], T0)


def test_concurrent_writer_and_readers(store):
    """The engine thread writes while web handlers and the dispatcher read."""
    errors: list[BaseException] = []
    done = threading.Event()

    def write():
        try:
            for i in range(40):
                start = T0 + i * 10 * S
                store.add_window_counts([("web", start, start + 10 * S, ALL_TEMPLATES, i)])
                for aid, _ in store.add_anomalies([anomaly(start=start)]):
                    store.add_alerts(aid, ["hook"], start)
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    def read():
        try:
            while not done.is_set():
                store.list_anomalies(limit=10)
                store.volume(since_ns=0)
                for row in store.due_alerts(T0 + 10**4 * S, limit=5):
                    store.mark_delivered(row.id, T0)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write), *(threading.Thread(target=read) for _ in range(2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(store.volume(since_ns=0)) == 40
    assert len(store.list_anomalies(limit=1000)) == 40


def test_replay_returns_stored_anomalies_that_were_never_alerted(store):
    # a crash between storing anomalies and queueing their alerts: the replay finds them
    # again; those still open and without an alert come back, the others do not
    a, b, c, d = (anomaly(start=T0 + i * 10 * S) for i in range(4))
    first = {x.fingerprint: i for i, x in store.add_anomalies([a, b, c, d])}
    store.add_alerts(first[b.fingerprint], ["webhook"], 0)
    store.set_anomaly_status([first[c.fingerprint]], "muted")
    e = anomaly(start=T0 + 40 * S)
    ((e_id, _),) = store.add_anomalies([e])
    incident = store.add_incident(
        group_key="{}", stream="web", detector="frequency", kind="spike", status="firing",
        first_seen_ns=T0, last_seen_ns=T0, summary="s", severity="high", now_ns=T0,
    )  # fmt: skip
    store.link_anomalies(incident, [e_id])  # joined an incident: alerted
    assert store.add_anomalies([e], unalerted=True) == []
    assert store.add_anomalies([a, b, c, d]) == []
    again = store.add_anomalies([a, b, c, d], unalerted=True)
    assert [(i, x.fingerprint) for i, x in again] == [
        (first[a.fingerprint], a.fingerprint),
        (first[d.fingerprint], d.fingerprint),
    ]
