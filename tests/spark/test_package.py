"""``logradar spark package``: a self-contained zip, the entry script, the submit command."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from click.testing import CliRunner

from logradar.commands.spark import ENTRY_NAME, logradar_version, spark_group


def test_package_writes_what_spark_submit_needs(tmp_path):
    out = tmp_path / "dist"
    done = CliRunner().invoke(
        spark_group,
        ["package", "-o", str(out), "--input", "s3a://logs/lts/", "--source", "files"],
    )
    assert done.exit_code == 0, done.output
    archive = out / f"logradar-{logradar_version()}.zip"
    names = zipfile.ZipFile(archive).namelist()
    assert "logradar/spark/job.py" in names
    assert not any("__pycache__" in n for n in names)
    requirements = (out / "requirements.txt").read_text().split()
    assert any(r.startswith("pyarrow") for r in requirements)
    assert not any(r.startswith("pyspark") for r in requirements)  # the cluster brings it
    for expected in (
        f"--py-files {archive}",
        "--archives logradar-env.tar.gz#env",
        "spark.pyspark.python=./env/bin/python",
        "--master yarn",
        '"spark.hadoop.fs.s3a.access.key=$OBS_ACCESS_KEY_ID"',
        "--path s3a://logs/lts/",
        str(out / ENTRY_NAME),
    ):
        assert expected in done.output, expected

    # The zip alone provides the package: the entry script imports logradar from it.
    probe = "import logradar.spark.job as j, logradar; print(logradar.__file__)"
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(archive)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().startswith(str(archive))


def test_kafka_submit_adds_the_connector(tmp_path):
    done = CliRunner().invoke(
        spark_group,
        ["package", "-o", str(tmp_path), "--source", "kafka", "--spark-version", "4.0.1"],
    )
    assert done.exit_code == 0, done.output
    assert "--packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.1" in done.output
    assert "--source kafka" in done.output
