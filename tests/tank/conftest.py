"""Both tanks behind one fixture; Kafka means librdkafka's in-process mock cluster.

The mock cluster (``test.mock.num.brokers``) is a real Kafka protocol server inside
librdkafka, started by the client that asks for it and gone when that client is. It is the
only Kafka these tests (and the Kafka tank) have been run against: never a real broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from logradar.tank import SqliteTank, Tank

MakeTank = Callable[[], Tank]


@pytest.fixture(scope="session")
def kafka_servers() -> Iterator[str]:
    """Bootstrap servers of a one-broker mock cluster that lives for the whole session."""
    from confluent_kafka.admin import AdminClient

    owner = AdminClient({"test.mock.num.brokers": 1, "log_level": 4})
    brokers = owner.list_topics(timeout=10).brokers.values()
    yield ",".join(f"{b.host}:{b.port}" for b in brokers)
    del owner  # the cluster stops with the client that started it


@pytest.fixture
def kafka_topic(kafka_servers: str) -> str:
    """A new topic; the mock creates it (4 partitions) on a producer's metadata request."""
    from confluent_kafka import Producer

    name = f"tank-{uuid.uuid4().hex[:12]}"
    meta = Producer({"bootstrap.servers": kafka_servers}).list_topics(name, timeout=10)
    assert meta.topics[name].error is None
    return name


@pytest.fixture(params=["sqlite", "kafka"])
def make_tank(request, tmp_path) -> Iterator[MakeTank]:
    """Opens the test's tank (again, as after a restart); closes every one it opened."""
    opened: list[Tank] = []
    if request.param == "sqlite":

        def make() -> Tank:
            return SqliteTank(tmp_path / "t.db")
    else:
        from logradar.tank.kafka import KafkaTank

        servers = request.getfixturevalue("kafka_servers")
        topic = request.getfixturevalue("kafka_topic")

        def make() -> Tank:
            return KafkaTank(servers, topic, timeout_seconds=10)

    def open_and_track() -> Tank:
        tank = make()
        opened.append(tank)
        return tank

    yield open_and_track
    for tank in opened:
        tank.close()
