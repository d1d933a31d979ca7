"""Configuration: file, environment and overrides, with clear errors."""

from __future__ import annotations

import re

import pytest

from logradar.config import ConfigError, load_config
from logradar.schema import Severity


def test_defaults_and_derived_paths(tmp_path):
    s = load_config(data_dir=tmp_path)
    assert s.server.port == 8080
    assert s.store_url == f"sqlite:///{tmp_path / 'logradar.db'}"
    assert s.archive_url == str(tmp_path / "archive")


def test_file_then_env_then_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\n[alerts]\nmin_severity = "low"\n'
        "[auth]\nenabled = false\n"
    )
    monkeypatch.setenv("LOGRADAR_SERVER__PORT", "9100")
    s = load_config(cfg, server={"host": None})
    assert (s.server.host, s.server.port) == ("0.0.0.0", 9100)
    assert s.alerts.min_severity is Severity.LOW
    assert load_config(cfg, server={"port": 9200}).server.port == 9200


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[server]\nport = 70000\n", "server.port"),
        ('[alerts]\nmin_severity = "urgent"\n', "unknown severity 'urgent'"),
        ("[engine]\nwindow_seconds = -1\n", "engine.window_seconds"),
        ("[servre]\nport = 1\n", "servre: unknown setting"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_bad_values_name_the_field(tmp_path, toml, expected):
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(cfg)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_bad_environment_value(monkeypatch):
    monkeypatch.setenv("LOGRADAR_ENGINE__WINDOW_SECONDS", "soon")
    with pytest.raises(ConfigError, match=r"engine\.window_seconds"):
        load_config()
