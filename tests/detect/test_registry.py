from logradar.config import DetectorsConfig
from logradar.detect.base import WindowDetector
from logradar.detect.registry import build_window_detectors


def test_builds_enabled_detectors_in_fixed_order():
    detectors = build_window_detectors(DetectorsConfig())
    assert [d.name for d in detectors] == ["new_pattern", "frequency"]
    assert all(isinstance(d, WindowDetector) for d in detectors)
    assert len({d.name for d in detectors}) == len(detectors)


def test_disabled_detectors_are_left_out_and_config_is_passed():
    cfg = DetectorsConfig.model_validate(
        {"new_pattern": {"enabled": False}, "frequency": {"min_count": 25}}
    )
    detectors = build_window_detectors(cfg)
    assert [d.name for d in detectors] == ["frequency"]
    assert detectors[0].config.min_count == 25
