"""Kafka as the tank for the scale-out deployment (``tank.kind = "kafka"``, extra ``kafka``).

Tested only against librdkafka's built-in mock cluster (``test.mock.num.brokers``), never
against a real broker: a starting point for a deployment, not something proven in one.

**Layout.** The tank is one partition of one topic. Each append becomes one Kafka record
holding a segment (Arrow IPC, lz4, the same encoding as :class:`~logradar.tank.SqliteTank`),
or several records when the segment is larger than ``max_record_bytes`` (the broker's
``message.max.bytes`` caps a record). Headers ``first``/``last`` carry the offsets of the log
lines inside, so a reader finds its place without decoding values.

**Offsets.** Tank offsets count log lines (dense, as backpressure and lag assume); Kafka
offsets count records. This process must be the partition's only writer: it takes the next
line offset from the partition's last record at start-up and numbers its appends itself
(it warns when another producer wrote in between). ``read(after)`` maps ``after`` to a Kafka
offset (remembered from appends, reads and commits, else a binary search over the records'
headers) and reads from there with assign+seek.

**Durability.** The producer uses ``acks=all`` and idempotence; ``append`` returns only once
every record of the append was acknowledged, so a 2xx still means durable, as durable as the
topic's ``replication.factor`` and ``min.insync.replicas`` make it (create it with 3 and 2).
An append split into several records is not atomic: when a later record fails, the sender
retries and the lines of the records already written are stored twice.

**Consumers.** Each consumer name is a Kafka consumer group (``group_prefix`` + name). A
commit stores the Kafka offset of the next record to read, with the line offset as commit
metadata, so Kafka tools show the lag in records. Committed offsets are cached: reset a group
with Kafka tools only while logradar is stopped.

**Retention** is the topic's (``retention.ms``, ``retention.bytes``) and does not wait for
consumers, so :meth:`KafkaTank.enforce_retention` does nothing; a reader that finds lines
already deleted logs a warning.

**More partitions** are not implemented. Either run one logradar per partition (each the
single writer of its own), or make a position a vector of per-partition Kafka offsets, as
Spark's Kafka source does: ``append`` picks a partition, offsets become ``(partition,
offset)``, a consumer commits one offset per partition, and the engine merges partitions by
event time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Collection, Iterator
from typing import Any

import pyarrow as pa
from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from logradar.schema import RECORD_SCHEMA
from logradar.tank.base import TankError, deserialize, number, serialize

log = logging.getLogger("logradar.tank")

_MAX_HINTS = 4096


class KafkaTank:
    """Durable record log on one Kafka partition; thread-safe, one writer per partition."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        partition: int = 0,
        group_prefix: str = "logradar-",
        max_record_bytes: int = 900_000,
        timeout_seconds: float = 30.0,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.group_prefix = group_prefix
        self.max_record_bytes = max_record_bytes
        self.timeout = timeout_seconds
        self._base = {**(options or {}), "bootstrap.servers": bootstrap_servers}
        # Lock order: _write_lock (appends, the next offset) before _lock (groups, hints).
        self._write_lock = threading.Lock()
        self._lock = threading.RLock()
        self._local = threading.local()
        self._clients: list[Consumer] = []
        self._groups: dict[str, Consumer] = {}
        self._committed: dict[str, int] = {}
        self._hints: dict[int, int] = {}  # line offset -> Kafka offset of the next record
        self._closed = False
        self._producer = Producer(
            {
                "compression.type": "none",  # segments are lz4 already
                "linger.ms": 0,
                "message.max.bytes": max_record_bytes + 65_536,
                "message.timeout.ms": int(timeout_seconds * 1000),
                **self._base,
                "acks": "all",
                "enable.idempotence": True,
            }
        )
        self._next = 0
        self._resync = False
        try:
            self._check_topic()
            self._sync_tail()
        except BaseException:
            self.close()
            raise

    # Clients ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except KafkaException as e:
            where = f"{self.topic}[{self.partition}]"
            raise TankError(f"Kafka tank {where}: could not {doing}: {e}") from e

    def _tp(self, offset: int = OFFSET_INVALID, **metadata: str) -> TopicPartition:
        return TopicPartition(self.topic, self.partition, offset, **metadata)

    def _consumer(self, group: str, **settings: Any) -> Consumer:
        if self._closed:
            raise TankError("tank is closed")
        consumer = Consumer(
            {**settings, **self._base, "group.id": group, "enable.auto.commit": False}
        )
        self._clients.append(consumer)
        return consumer

    def _reader(self) -> Consumer:
        """This thread's consumer for reads (assign+seek only; it never joins its group)."""
        reader = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._consumer(
                self.group_prefix + "reader",
                **{
                    "auto.offset.reset": "earliest",
                    "enable.auto.offset.store": False,
                    "enable.partition.eof": True,
                    # A seek waits for the fetch in flight, which waits this long at the end.
                    "fetch.wait.max.ms": 20,
                },
            )
            self._local.reader = reader
        return reader

    def _group(self, consumer: str) -> Consumer:
        with self._lock:
            if consumer not in self._groups:
                self._groups[consumer] = self._consumer(self.group_prefix + consumer)
            return self._groups[consumer]

    def close(self) -> None:
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self._producer.close()  # nothing is pending: appends wait for delivery
        for client in self._clients:
            with contextlib.suppress(RuntimeError):  # already closed
                client.close()
        self._clients = []
        self._groups = {}
        self._local = threading.local()

    def _check_topic(self) -> None:
        with self._errors("fetch metadata"):
            meta = self._reader().list_topics(self.topic, timeout=self.timeout)
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None or self.partition not in topic.partitions:
            raise TankError(
                f"Kafka topic {self.topic!r} has no partition {self.partition}: create the "
                "topic first (replication.factor=3, min.insync.replicas=2)"
            )

    def _watermarks(self) -> tuple[int, int]:
        with self._errors("read watermarks"):
            low, high = self._reader().get_watermark_offsets(
                self._tp(), timeout=self.timeout, cached=False
            )
        return low, high

    # Records ----------------------------------------------------------------------------
    def _poll(self, reader: Consumer) -> Message | None:
        """The reader's next record; None at the end of the partition."""
        with self._errors("fetch"):
            msg = reader.poll(self.timeout)
        if msg is None:
            raise TankError(f"Kafka tank {self.topic}: no record within {self.timeout} s")
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return None
            raise TankError(f"Kafka tank {self.topic}: {error}")
        return msg

    def _probe(self, kafka_offset: int) -> tuple[int, int, int]:
        """``(Kafka offset, first, last)`` of the record at ``kafka_offset``, or the earliest
        one still kept when that was deleted."""
        reader = self._reader()
        with self._errors("seek"):
            reader.assign([self._tp(kafka_offset)])
        msg = self._poll(reader)
        if msg is None:
            raise TankError(f"Kafka tank {self.topic}: no record at offset {kafka_offset}")
        return (msg.offset(), *_bounds(msg))

    def _hint(self, after: int, kafka_offset: int) -> None:
        """Remember that lines after ``after`` start in the record at ``kafka_offset``."""
        with self._lock:
            self._hints[after] = kafka_offset
            if len(self._hints) > _MAX_HINTS:
                del self._hints[next(iter(self._hints))]

    def _locate(self, after: int) -> int:
        """Kafka offset of the first record with a line after ``after`` (or the end)."""
        with self._lock:
            hint = self._hints.get(after)
        if hint is not None:
            return hint
        low, high = self._watermarks()
        while low < high:
            mid = (low + high) // 2
            found, _, last = self._probe(mid)
            if last <= after:
                low = found + 1
            else:
                high = mid
        return low

    def _segments(self, table: pa.Table) -> Iterator[tuple[pa.Table, bytes]]:
        """``table`` as serialized segments of at most ``max_record_bytes`` (halving)."""
        blob = serialize(table)
        if len(blob) <= self.max_record_bytes or table.num_rows == 1:
            yield table, blob
            return
        half = table.num_rows // 2
        yield from self._segments(table.slice(0, half))
        yield from self._segments(table.slice(half))

    # Writing ----------------------------------------------------------------------------
    def append(self, batch: pa.Table) -> tuple[int, int]:
        """Append an ingest batch; return its ``(first, last)`` offsets once acknowledged."""
        if batch.num_rows == 0:
            return (-1, -1)
        with self._write_lock:
            if self._closed:
                raise TankError("tank is closed")
            if self._resync:
                self._sync_tail()
            first = self._next
            segments = list(self._segments(number(batch, first)))
            try:
                delivered = self._produce(segments)
            except TankError:
                self._resync = True  # part of it may have been written
                with contextlib.suppress(TankError):
                    self._sync_tail()
                raise
            if delivered[0] != self._high:
                log.warning(
                    "another producer wrote to Kafka topic %s[%d]: the Kafka tank needs one "
                    "writer per partition",
                    self.topic,
                    self.partition,
                )
                self._resync = True
            for (table, _), kafka_offset in zip(segments, delivered, strict=True):
                offsets = table.column("offset")
                self._hint(offsets[0].as_py() - 1, kafka_offset)
                self._hint(offsets[-1].as_py(), kafka_offset + 1)
            self._high = delivered[-1] + 1
            self._next = first + batch.num_rows
        return first, self._next - 1

    def _sync_tail(self) -> None:
        """Continue after the partition's last record (at start-up, after a failed append)."""
        low, self._high = self._watermarks()
        if self._high > low:
            self._next = max(self._next, self._probe(self._high - 1)[2] + 1)
        self._resync = False

    def _produce(self, segments: list[tuple[pa.Table, bytes]]) -> list[int]:
        """Send the segments, wait for every acknowledgement; return their Kafka offsets."""
        reports: list[tuple[KafkaError | None, int]] = []
        failure: Exception | None = None
        try:
            for table, blob in segments:
                offsets = table.column("offset")
                self._producer.produce(
                    self.topic,
                    blob,
                    partition=self.partition,
                    headers={"first": str(offsets[0].as_py()), "last": str(offsets[-1].as_py())},
                    on_delivery=lambda err, msg: reports.append((err, msg.offset())),
                )
        except (KafkaException, BufferError) as e:
            failure = e
        # Wait for what was queued even after a failure, so nothing lands later unnoticed.
        pending = self._producer.flush(self.timeout + 5)
        errors = [str(err) for err, _ in reports if err is not None]
        if failure is not None or pending or errors or len(reports) != len(segments):
            why = failure or (errors[0] if errors else f"{pending} records unacknowledged")
            raise TankError(f"could not append to Kafka topic {self.topic}: {why}")
        return [kafka_offset for _, kafka_offset in reports]

    # Reading ----------------------------------------------------------------------------
    def read(self, after: int, max_rows: int) -> pa.Table:
        """Records with ``offset > after``, in offset order, about ``max_rows`` at most.

        Whole records are read; the first is sliced to start after ``after``. Lines at or
        before the last one returned are skipped, so offsets stay increasing even if a
        failed append was retried over a record that was written after all.
        """
        end, high = self.end_offset(), self._high
        if after >= end:
            return RECORD_SCHEMA.empty_table()
        reader = self._reader()
        position = self._locate(after)
        with self._errors("seek"):
            reader.assign([self._tp(position)])
        tables: list[pa.Table] = []
        total = 0
        while position < high and total < max_rows:
            msg = self._poll(reader)
            if msg is None:
                break
            position = msg.offset() + 1
            first, last = _bounds(msg)
            self._hint(last, position)
            if last <= after:
                continue
            table = deserialize(msg.value())
            if first <= after:
                table = table.slice(after - first + 1)
            elif first > after + 1:
                log.warning("Kafka tank: lines %d..%d are gone (retention)", after + 1, first - 1)
            tables.append(table)
            total += table.num_rows
            after = last
        if not tables:
            return RECORD_SCHEMA.empty_table()
        return pa.concat_tables(tables)

    def end_offset(self) -> int:
        """The last assigned offset, or -1 when nothing was ever appended."""
        return self._next - 1

    # Consumers --------------------------------------------------------------------------
    def committed(self, consumer: str) -> int:
        """The consumer's committed offset (-1 when it has not committed yet)."""
        with self._lock:
            cached = self._committed.get(consumer)
        if cached is not None:
            return cached
        offset = self._fetch_committed(consumer)
        with self._write_lock:  # offsets continue after commits even if Kafka deleted all
            self._next = max(self._next, offset + 1)
        with self._lock:
            return self._committed.setdefault(consumer, offset)

    def _fetch_committed(self, consumer: str) -> int:
        with self._errors(f"read the committed offset of {consumer}"):
            (tp,) = self._group(consumer).committed([self._tp()], timeout=self.timeout)
        if tp.error is not None:
            raise TankError(f"Kafka tank: committed offset of {consumer}: {tp.error}")
        if tp.offset < 0:
            return -1
        try:
            offset = int(tp.metadata)
        except (TypeError, ValueError):  # committed by a Kafka tool: no line offset
            _, high = self._watermarks()
            offset = self._probe(tp.offset)[1] - 1 if tp.offset < high else self.end_offset()
        self._hint(offset, tp.offset)
        return offset

    def commit(self, consumer: str, offset: int) -> None:
        """Record that ``consumer`` has processed every record up to ``offset``."""
        self.committed(consumer)  # loaded outside the lock: it may take the write lock
        with self._lock:
            if offset <= self._committed[consumer]:
                return
            kafka_offset = self._locate(offset)
            with self._errors(f"commit for {consumer}"):
                (tp,) = self._group(consumer).commit(
                    offsets=[self._tp(kafka_offset, metadata=str(offset))], asynchronous=False
                )
            if tp.error is not None:
                raise TankError(f"Kafka tank: commit for {consumer}: {tp.error}")
            self._committed[consumer] = offset
            self._hint(offset, kafka_offset)

    def register(self, consumer: str) -> None:
        """Load the consumer's committed offset (Kafka's retention does not wait for it)."""
        self.committed(consumer)

    def lag(self, consumer: str) -> int:
        """Records appended but not yet committed by ``consumer``."""
        return self.end_offset() - self.committed(consumer)

    def consumers(self) -> dict[str, int]:
        """Committed offsets of the consumers this process registered or committed for."""
        with self._lock:
            return dict(self._committed)

    # Retention --------------------------------------------------------------------------
    def drop_consumer(self, consumer: str) -> bool:
        """Forget ``consumer`` in this process (its Kafka group never pins retention)."""
        with self._lock:
            return self._committed.pop(consumer, None) is not None

    def enforce_retention(
        self, max_age_seconds: float, max_bytes: int, active: Collection[str] | None = None
    ) -> int:
        """Nothing to do: the topic's ``retention.ms``/``retention.bytes`` apply. Returns 0."""
        return 0


def _bounds(msg: Message) -> tuple[int, int]:
    """The line offsets ``(first, last)`` a record holds, from its headers."""
    headers = dict(msg.headers() or [])
    try:
        return int(headers["first"]), int(headers["last"])
    except (KeyError, ValueError):
        raise TankError(f"Kafka record at offset {msg.offset()} is not a tank segment") from None
