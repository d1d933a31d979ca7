"""The tank: durable record log with per-consumer offsets (the LTS role)."""

from logradar.tank.sqlite import SqliteTank, TankError

__all__ = ["SqliteTank", "TankError"]
