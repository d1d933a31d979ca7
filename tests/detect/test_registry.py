import json

from logradar.config import DetectorsConfig, load_config
from logradar.detect.base import WindowDetector
from logradar.detect.registry import build_window_detectors

ORDER = ["new_pattern", "frequency", "silence", "error_burst", "params", "multivariate"]


def test_builds_enabled_detectors_in_fixed_order():
    detectors = build_window_detectors(DetectorsConfig())
    assert [d.name for d in detectors] == ORDER
    assert all(isinstance(d, WindowDetector) for d in detectors)


def test_disabled_detectors_are_left_out_and_config_is_passed(tmp_path):
    path = tmp_path / "logradar.toml"
    path.write_text(
        "[detectors.new_pattern]\nenabled = false\n"
        "[detectors.multivariate]\nenabled = false\n"
        "[detectors.frequency]\nmin_count = 25\n"
        "[detectors.silence]\nwindows = 6\n",
        encoding="utf-8",
    )
    detectors = build_window_detectors(load_config(path).detectors)
    assert [d.name for d in detectors] == ["frequency", "silence", "error_burst", "params"]
    assert detectors[0].config.min_count == 25
    assert detectors[1].config.windows == 6


def test_fresh_detectors_have_json_ready_state(traffic, ctx):
    t = traffic(1)
    for det in build_window_detectors(DetectorsConfig()):
        for i in range(70):
            det.observe(t.window(i), ctx)
        state = json.loads(json.dumps(det.state_dict()))
        fresh = next(d for d in build_window_detectors(DetectorsConfig()) if d.name == det.name)
        fresh.load_state_dict(state)
        assert fresh.state_dict() == state
