"""The window detectors the engine runs, built from the ``detectors`` config section."""

from __future__ import annotations

from logradar.config import DetectorsConfig
from logradar.detect.base import WindowDetector
from logradar.detect.error_burst import ErrorBurstDetector
from logradar.detect.frequency import FrequencyDetector
from logradar.detect.multivariate import MultivariateDetector
from logradar.detect.new_pattern import NewPatternDetector
from logradar.detect.params import ParamsDetector
from logradar.detect.silence import SilenceDetector


def build_window_detectors(cfg: DetectorsConfig) -> list[WindowDetector]:
    """Enabled window detectors, always in this order: new_pattern, frequency, silence,
    error_burst, params, multivariate (output order and saved state rely on it)."""
    candidates: list[tuple[bool, WindowDetector]] = [
        (cfg.new_pattern.enabled, NewPatternDetector(cfg.new_pattern)),
        (cfg.frequency.enabled, FrequencyDetector(cfg.frequency)),
        (cfg.silence.enabled, SilenceDetector(cfg.silence)),
        (cfg.error_burst.enabled, ErrorBurstDetector(cfg.error_burst)),
        (cfg.params.enabled, ParamsDetector(cfg.params)),
        (cfg.multivariate.enabled, MultivariateDetector(cfg.multivariate)),
    ]
    return [detector for enabled, detector in candidates if enabled]
