"""Without Java 17+ the Spark engine says so plainly instead of PySpark's gateway error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logradar.spark.session import SparkUnavailable, check_java

from .conftest import HDFS, HDFS_FORMAT

pytestmark = pytest.mark.spark


def test_java_home_pointing_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(SparkUnavailable, match=r"Java 17\+.*JAVA_HOME="):
        check_java()


def test_old_java_is_refused(tmp_path, monkeypatch):
    java = tmp_path / "jdk8" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk8"))
    with pytest.raises(SparkUnavailable, match="is Java 8"):
        check_java()


def test_backtest_cli_without_java_fails_with_a_clear_message(tmp_path: Path):
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "none"), "PATH": str(tmp_path)}
    code = (
        "import sys; from pathlib import Path; from logradar.config import load_config;"
        "from logradar.spark.backtest import SparkBacktest;"
        f"s = load_config(None, parser={{'log_format': {HDFS_FORMAT!r}}});"
        f"SparkBacktest(s).run(Path({str(HDFS)!r}), None, print)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "SparkUnavailable: Spark needs Java 17+ but no java was found" in done.stderr
