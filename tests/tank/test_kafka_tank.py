"""KafkaTank details, against librdkafka's mock cluster (see conftest; never a real broker)."""

from __future__ import annotations

import os
import socket
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from confluent_kafka import Consumer, TopicPartition

from logradar.config import ConfigError, Settings, load_config
from logradar.schema import ingest_table
from logradar.tank import SqliteTank, TankError, open_tank
from logradar.tank.kafka import KafkaTank

T0 = 1_700_000_000_000_000_000


def batch(n: int, stream: str = "s", start: int = 0) -> pa.Table:
    return ingest_table(stream, [f"line {start + i}" for i in range(n)], T0)


def records(servers: str, topic: str, partition: int = 0) -> list:
    """Every record of the partition, read by a plain consumer of our own."""
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "test-inspect"})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        consumer.assign([TopicPartition(topic, partition, 0)])
        out = []
        while len(out) < high:
            msg = consumer.poll(10)
            assert msg is not None and msg.error() is None
            out.append(msg)
        return out
    finally:
        consumer.close()


def group_commit(servers: str, group: str, tp: TopicPartition) -> None:
    consumer = Consumer({"bootstrap.servers": servers, "group.id": group})
    try:
        consumer.commit(offsets=[tp], asynchronous=False)
    finally:
        consumer.close()


@pytest.fixture
def tank(kafka_servers, kafka_topic):
    tank = KafkaTank(kafka_servers, kafka_topic, timeout_seconds=10)
    yield tank
    tank.close()


def test_an_append_is_in_kafka_when_it_returns(tank, kafka_servers, kafka_topic):
    assert tank.append(batch(3)) == (0, 2)
    assert tank.append(batch(2, start=3)) == (3, 4)
    got = records(kafka_servers, kafka_topic)  # another client sees both records right away
    assert [dict(m.headers()) for m in got] == [
        {"first": b"0", "last": b"2"},
        {"first": b"3", "last": b"4"},
    ]
    assert pa.ipc.open_stream(got[1].value()).read_all().column("message").to_pylist() == [
        "line 3",
        "line 4",
    ]


def test_large_appends_are_split_into_records_below_the_limit(kafka_servers, kafka_topic):
    tank = KafkaTank(kafka_servers, kafka_topic, max_record_bytes=4096, timeout_seconds=10)
    try:
        assert tank.append(batch(3000)) == (0, 2999)
        got = records(kafka_servers, kafka_topic)
        assert len(got) > 4
        assert all(len(m.value()) <= 4096 for m in got)
        table = tank.read(-1, 10**6)
        assert table.column("offset").to_pylist() == list(range(3000))
        assert table.column("message")[2999].as_py() == "line 2999"
    finally:
        tank.close()


def test_a_failed_append_leaves_offsets_dense(kafka_servers, kafka_topic):
    tank = KafkaTank(kafka_servers, kafka_topic, max_record_bytes=2048, timeout_seconds=10)
    try:
        tank.append(batch(3))
        huge = os.urandom(60_000).hex()  # one line lz4 cannot shrink below message.max.bytes
        with pytest.raises(TankError, match="append"):
            tank.append(ingest_table("s", ["small", huge], T0))  # two records; the 2nd fails
        # The first record was written (appends split over records are not atomic) ...
        assert tank.end_offset() == 3
        # ... and the next append takes the failed record's offsets: no gap, no overlap.
        assert tank.append(batch(2, start=10)) == (4, 5)
        table = tank.read(-1, 100)
        assert table.column("offset").to_pylist() == list(range(6))
        assert table.column("message").to_pylist()[3:] == ["small", "line 10", "line 11"]
    finally:
        tank.close()


def test_uses_only_its_partition(kafka_servers, kafka_topic):
    tank = KafkaTank(kafka_servers, kafka_topic, partition=2, timeout_seconds=10)
    try:
        tank.append(batch(4))
        assert len(records(kafka_servers, kafka_topic, partition=2)) == 1
        assert records(kafka_servers, kafka_topic, partition=0) == []
    finally:
        tank.close()


def test_commits_are_kafka_consumer_groups(tank, kafka_servers, kafka_topic):
    for i in range(3):
        tank.append(batch(10, start=i * 10))
    tank.commit("archive", 14)  # inside the second record: Kafka resumes at that record
    tank.commit("engine", 29)
    for group, kafka_offset, line in (("archive", 1, "14"), ("engine", 3, "29")):
        consumer = Consumer({"bootstrap.servers": kafka_servers, "group.id": f"logradar-{group}"})
        (tp,) = consumer.committed([TopicPartition(kafka_topic, 0)], timeout=10)
        consumer.close()
        assert (tp.offset, tp.metadata) == (kafka_offset, line)


def test_a_group_reset_with_kafka_tools_is_understood(tank, kafka_servers, kafka_topic):
    for i in range(3):
        tank.append(batch(10, start=i * 10))
    # As `kafka-consumer-groups --reset-offsets --to-offset 2` would: no line offset.
    group_commit(kafka_servers, "logradar-engine", TopicPartition(kafka_topic, 0, 2))
    assert tank.committed("engine") == 19
    assert tank.read(19, 100).column("offset")[0].as_py() == 20


def test_offsets_continue_after_commits_when_kafka_deleted_every_record(kafka_servers, kafka_topic):
    # An empty partition whose consumers committed up to line 41: retention.ms deleted all.
    tp = TopicPartition(kafka_topic, 0, 0, metadata="41")
    group_commit(kafka_servers, "logradar-engine", tp)
    tank = KafkaTank(kafka_servers, kafka_topic, timeout_seconds=10)
    try:
        assert tank.end_offset() == -1
        tank.register("engine")
        assert tank.end_offset() == 41
        assert tank.read(-1, 10).num_rows == 0  # lines 0..41 are gone
        assert tank.append(batch(2)) == (42, 43)
        assert tank.read(41, 10).column("offset").to_pylist() == [42, 43]
        assert tank.read(-1, 10).column("offset").to_pylist() == [42, 43]
    finally:
        tank.close()


def test_retention_is_kafkas(tank):
    tank.append(batch(5))
    tank.commit("engine", 4)
    assert tank.enforce_retention(max_age_seconds=0, max_bytes=1) == 0
    assert tank.read(-1, 10).num_rows == 5


def test_a_missing_topic_is_reported(kafka_servers):
    with pytest.raises(TankError, match="create the topic"):
        KafkaTank(kafka_servers, "no-such-topic", timeout_seconds=10)


def test_an_unreachable_broker_is_reported():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(TankError, match="metadata"):
        KafkaTank(f"127.0.0.1:{port}", "t", timeout_seconds=1)


def test_a_closed_tank_refuses_work(tank):
    tank.close()
    with pytest.raises(TankError, match="closed"):
        tank.append(batch(1))


# Configuration and wiring ---------------------------------------------------------------------
def test_config_needs_servers_and_keeps_reserved_options():
    with pytest.raises(ConfigError, match=r"tank\.kafka\.bootstrap_servers"):
        load_config(tank={"kind": "kafka"})
    with pytest.raises(ConfigError, match="sets acks itself"):
        load_config(
            tank={
                "kind": "kafka",
                "kafka": {"bootstrap_servers": "k:9092", "options": {"acks": "1"}},
            }
        )
    settings = load_config(
        tank={
            "kind": "kafka",
            "kafka": {"bootstrap_servers": "k:9092", "secret_options": {"sasl.password": "pw"}},
        }
    )
    assert "pw" not in settings.model_dump_json()
    assert settings.tank.kafka.client_options() == {"sasl.password": "pw"}


def kafka_settings(tmp_path, servers: str, topic: str) -> Settings:
    return load_config(
        data_dir=tmp_path,
        tank={"kind": "kafka", "kafka": {"bootstrap_servers": servers, "topic": topic}},
    )


def test_open_tank_picks_the_kind(tmp_path, kafka_servers, kafka_topic):
    sqlite = open_tank(Settings(data_dir=tmp_path))
    assert isinstance(sqlite, SqliteTank)
    sqlite.close()
    kafka = open_tank(kafka_settings(tmp_path, kafka_servers, kafka_topic))
    assert isinstance(kafka, KafkaTank)
    kafka.close()


def test_open_tank_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "logradar.tank.kafka")
    settings = kafka_settings(tmp_path, "k:9092", "t")
    with pytest.raises(TankError, match=r"pip install 'logradar\[kafka\]'"):
        open_tank(settings)


def test_the_pipeline_runs_on_the_kafka_tank(tmp_path, kafka_servers, kafka_topic):
    from logradar.pipeline import Pipeline  # imported here: it pulls in the whole engine

    settings = kafka_settings(tmp_path, kafka_servers, kafka_topic)
    pipeline = Pipeline(settings)
    try:
        assert isinstance(pipeline.tank, KafkaTank)
        assert pipeline.ingest(batch(50), "test") == 50
        while pipeline.engine.step(T0):
            pass
        pipeline.engine.snapshot()
        assert pipeline.archiver is not None
        assert pipeline.archiver.flush() == 50
        assert pipeline.tank.consumers() == {"engine": 49, "archive": 49}
    finally:
        pipeline.stop(timeout=1)
    archived = ds.dataset(tmp_path / "archive", partitioning="hive").to_table()
    assert sorted(archived.column("message").to_pylist()) == sorted(f"line {i}" for i in range(50))
    pipeline = Pipeline(settings)  # a restart resumes from the commits kept in Kafka
    try:
        assert pipeline.engine.core.offset == 49
        assert pipeline.archiver is not None
        assert pipeline.archiver.flush() == 0
        assert pipeline.ingest(batch(5, start=50), "test") == 5
        assert pipeline.archiver.flush() == 5
    finally:
        pipeline.stop(timeout=1)


def test_the_spark_engine_needs_the_sqlite_tank(tmp_path, kafka_servers, kafka_topic):
    from logradar.pipeline import Pipeline

    with pytest.raises(TankError, match=r"tank\.kind = 'sqlite'"):
        Pipeline(kafka_settings(tmp_path, kafka_servers, kafka_topic), engine="spark")
