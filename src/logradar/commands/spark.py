"""``logradar spark package``: what ``spark-submit`` needs to run logradar on a cluster.

It writes, into one folder: the ``logradar`` package as a zip for ``--py-files``, the entry
script for ``spark-submit`` and the runtime requirements for the Python environment of the
nodes; then prints the ``spark-submit`` command (YARN, e.g. Huawei MRS, with OBS settings).
See ``deploy/spark/README.md``.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import zipfile
from pathlib import Path

import click

import logradar

ENTRY_SCRIPT = '''"""logradar's streaming job, for spark-submit (see deploy/spark/README.md)."""

from logradar.spark.job import main

if __name__ == "__main__":
    main()
'''
ENTRY_NAME = "logradar_spark_job.py"
KAFKA_PACKAGE = "org.apache.spark:spark-sql-kafka-0-10_2.13:{version}"


def zip_package(target: Path) -> int:
    """Zip the installed ``logradar`` package (sources and data files); return files added."""
    root = Path(logradar.__file__).parent
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path in files:
            z.write(path, Path("logradar") / path.relative_to(root))
    return len(files)


def runtime_requirements() -> list[str]:
    """logradar's runtime requirements plus those of its ``spark`` extra except PySpark
    itself: on the cluster, ``spark-submit`` puts its own PySpark first on the path."""
    requires = importlib.metadata.requires("logradar") or []
    base = [r for r in requires if "extra ==" not in r]
    spark = [
        r.split(";")[0].strip()
        for r in requires
        if re.search(r'extra == "spark"', r) and not r.startswith("pyspark")
    ]
    return base + spark


def _arg(value: str) -> str:
    """Quote for a POSIX shell, but leave ``$VAR`` references to be expanded."""
    return f'"{value}"' if "$" in value else shlex.quote(value)


def submit_command(
    out: Path,
    *,
    master: str,
    deploy_mode: str,
    source: str,
    input_path: str,
    checkpoint: str,
    store_url: str,
    obs_endpoint: str | None,
    spark_version: str,
    config: Path | None,
) -> str:
    """The ``spark-submit`` command line for the packaged job."""
    conf = {
        "spark.pyspark.python": "./env/bin/python",
        "spark.yarn.appMasterEnv.PYSPARK_PYTHON": "./env/bin/python",
        "spark.sql.session.timeZone": "UTC",
    }
    if obs_endpoint:
        conf |= {
            "spark.hadoop.fs.s3a.endpoint": obs_endpoint,
            "spark.hadoop.fs.s3a.access.key": "$OBS_ACCESS_KEY_ID",
            "spark.hadoop.fs.s3a.secret.key": "$OBS_SECRET_ACCESS_KEY",
            "spark.hadoop.fs.s3a.path.style.access": "false",
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        }
    files = [str(config)] if config else []
    parts = [
        "spark-submit",
        f"--master {_arg(master)}",
        f"--deploy-mode {deploy_mode}",
        "--name logradar",
        f"--py-files {_arg(str(out / f'logradar-{logradar_version()}.zip'))}",
        "--archives logradar-env.tar.gz#env",
        *(f"--files {_arg(f)}" for f in files),
    ]
    if source == "kafka":
        parts.append(f"--packages {KAFKA_PACKAGE.format(version=spark_version)}")
    parts += [f"--conf {_arg(f'{k}={v}')}" for k, v in conf.items()]
    parts.append(_arg(str(out / ENTRY_NAME)))
    job = [
        f"--source {source}",
        f"--checkpoint {_arg(checkpoint)}",
        f"--store-url {_arg(store_url)}",
    ]
    if source == "files":
        job.insert(1, f"--path {_arg(input_path)}")
    else:
        job.insert(1, "--kafka-bootstrap HOST:9092 --kafka-topics TOPIC")
    if config:
        job.append(f"--config {_arg(config.name)}")
    return " \\\n  ".join(parts + job)


def logradar_version() -> str:
    return importlib.metadata.version("logradar")


@click.group("spark")
def spark_group() -> None:
    """Run the detection core on Spark 4 (a cluster such as Huawei MRS, or local[*])."""


@spark_group.command("package")
@click.option(
    "--output",
    "-o",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("dist/spark"),
    show_default=True,
    help="Folder to write the zip, entry script and requirements to.",
)
@click.option("--source", type=click.Choice(["files", "kafka"]), default="files", show_default=True)
@click.option(
    "--input",
    "input_path",
    default="s3a://BUCKET/lts-transfer/",
    show_default=True,
    help="Where LTS transfers logs to (files source).",
)
@click.option("--checkpoint", default="s3a://BUCKET/logradar/checkpoint", show_default=True)
@click.option("--store-url", default="postgresql://USER@HOST:5432/logradar", show_default=True)
@click.option("--master", default="yarn", show_default=True)
@click.option(
    "--deploy-mode", type=click.Choice(["cluster", "client"]), default="cluster", show_default=True
)
@click.option(
    "--obs-endpoint",
    default="https://obs.REGION.myhuaweicloud.com",
    show_default=True,
    help="OBS endpoint for s3a:// paths; '' when the cluster already has OBS access.",
)
@click.option("--spark-version", default="4.0.1", show_default=True, help="For --packages.")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="logradar TOML configuration to ship with the job.",
)
def package(
    out: Path,
    source: str,
    input_path: str,
    checkpoint: str,
    store_url: str,
    master: str,
    deploy_mode: str,
    obs_endpoint: str,
    spark_version: str,
    config: Path | None,
) -> None:
    """Build what spark-submit needs and print the spark-submit command."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"logradar-{logradar_version()}.zip"
    count = zip_package(archive)
    (out / ENTRY_NAME).write_text(ENTRY_SCRIPT, encoding="utf-8")
    (out / "requirements.txt").write_text("\n".join(runtime_requirements()) + "\n")
    click.echo(f"wrote {archive} ({count} files), {out / ENTRY_NAME}, {out / 'requirements.txt'}")
    click.echo(
        "\nPython environment for the nodes (once; Python 3.11+, same OS/arch as the cluster):\n"
        f"  python3 -m venv env && env/bin/pip install -r {out / 'requirements.txt'} venv-pack\n"
        "  env/bin/venv-pack -p env -o logradar-env.tar.gz\n"
        "\nRun (Spark 4 on YARN; Java 17+ on every node):\n"
    )
    click.echo(
        submit_command(
            out,
            master=master,
            deploy_mode=deploy_mode,
            source=source,
            input_path=input_path,
            checkpoint=checkpoint,
            store_url=store_url,
            obs_endpoint=obs_endpoint or None,
            spark_version=spark_version,
            config=config,
        )
    )
