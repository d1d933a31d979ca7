"""The window detectors the engine runs, built from the ``detectors`` config section."""

from __future__ import annotations

from logradar.config import DetectorsConfig
from logradar.detect.base import WindowDetector
from logradar.detect.frequency import FrequencyDetector
from logradar.detect.new_pattern import NewPatternDetector


def build_window_detectors(cfg: DetectorsConfig) -> list[WindowDetector]:
    """Enabled window detectors, always in the same order (state and output order rely on it)."""
    detectors: list[WindowDetector] = []
    if cfg.new_pattern.enabled:
        detectors.append(NewPatternDetector(cfg.new_pattern))
    if cfg.frequency.enabled:
        detectors.append(FrequencyDetector(cfg.frequency))
    return detectors
