"""Starting Spark for logradar: Java and PySpark checks, then one configured SparkSession.

Spark runs on the JVM and needs Java 17 or newer. Without it PySpark fails with an opaque
"Java gateway process exited" error, so :func:`check_java` looks first and says what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIN_JAVA = 17
DEFAULT_MASTER = "local[*]"

#: Quiet, small defaults for one machine; a cluster's spark-submit settings take precedence.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
    "spark.sql.session.timeZone": "UTC",
}


class SparkUnavailable(RuntimeError):
    """Spark cannot start here (no Java 17+, or PySpark not installed)."""


def java_binary() -> Path | None:
    """The ``java`` Spark will use: ``$JAVA_HOME/bin/java`` when set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return candidate if candidate.is_file() else None
    found = shutil.which("java")
    return Path(found) if found else None


def java_major_version(java: Path) -> int | None:
    """The major version ``java -version`` reports (``1.8`` counts as 8), None if unreadable."""
    try:
        done = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> int:
    """Return the Java major version, or raise :class:`SparkUnavailable` with a fix."""
    java = java_binary()
    where = f"JAVA_HOME={os.environ['JAVA_HOME']}" if "JAVA_HOME" in os.environ else "PATH"
    if java is None:
        raise SparkUnavailable(
            f"Spark needs Java {MIN_JAVA}+ but no java was found (looked in {where}). "
            "Install a JDK/JRE 17 or newer (e.g. apt-get install openjdk-17-jre-headless) "
            "and put it on PATH or set JAVA_HOME."
        )
    version = java_major_version(java)
    if version is None or version < MIN_JAVA:
        raise SparkUnavailable(
            f"Spark needs Java {MIN_JAVA}+ but {java} is "
            f"{'not a working java' if version is None else f'Java {version}'}. "
            "Install Java 17 or newer and set JAVA_HOME to it."
        )
    return version


def check_pyspark() -> None:
    """Raise :class:`SparkUnavailable` when PySpark 4 (with pandas and pyarrow) is missing."""
    try:
        import pandas  # noqa: F401  (mapInArrow needs it)
        import pyspark
    except ImportError as e:
        raise SparkUnavailable(
            f"the Spark engine needs PySpark 4: pip install 'logradar[spark]' ({e})"
        ) from None
    if int(pyspark.__version__.split(".")[0]) < 4:
        raise SparkUnavailable(f"the Spark engine needs PySpark 4.x, found {pyspark.__version__}")


def spark_session(
    master: str | None = None,
    app_name: str = "logradar",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """The active SparkSession, or a new one on ``master`` (default ``local[*]``).

    Under ``spark-submit`` the master and settings come from the submit command, so a
    ``master`` of None leaves them alone. Otherwise Java is checked first and the Python
    workers use this interpreter.
    """
    check_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Started by spark-submit (its JVM launched this Python): use its master and settings.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if not submitted:
        check_java()
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master or not submitted:
        builder = builder.master(master or DEFAULT_MASTER)
        for key, value in LOCAL_CONF.items():
            builder = builder.config(key, value)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
