"""The tank: durable record log with per-consumer offsets (the LTS role)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logradar.tank.base import Tank, TankError, TankFull
from logradar.tank.sqlite import SqliteTank

if TYPE_CHECKING:
    from logradar.config import Settings

__all__ = ["SqliteTank", "Tank", "TankError", "TankFull", "open_tank"]


def open_tank(settings: Settings) -> Tank:
    """The tank ``settings.tank.kind`` names: the SQLite file in the data dir, or Kafka."""
    if settings.tank.kind == "sqlite":
        return SqliteTank(settings.tank_path)
    try:
        from logradar.tank.kafka import KafkaTank
    except ModuleNotFoundError as e:
        if e.name != "confluent_kafka":
            raise
        raise TankError(
            "tank.kind = 'kafka' needs confluent-kafka: pip install 'logradar[kafka]'"
        ) from None
    cfg = settings.tank.kafka
    assert cfg.bootstrap_servers is not None  # validated with tank.kind
    return KafkaTank(
        cfg.bootstrap_servers,
        cfg.topic,
        partition=cfg.partition,
        group_prefix=cfg.group_prefix,
        max_record_bytes=cfg.max_record_bytes,
        timeout_seconds=cfg.timeout_seconds,
        options=cfg.client_options(),
    )
