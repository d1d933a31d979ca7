"""deploy/: the compose stack, the Dockerfile and the configs of Prometheus and Alertmanager.

Docker cannot run here: the compose file is validated by ``docker compose config`` (or the
``docker-compose`` v1 CLI) when installed, and by structural checks below in any case.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from logradar.config import AlertsConfig, load_config

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
ENV = {  # what deploy/.env provides
    "POSTGRES_PASSWORD": "pg-secret",
    "GRAFANA_DB_PASSWORD": "grafana-secret",
    "GRAFANA_ADMIN_PASSWORD": "admin-secret",
    "LOGRADAR_TOKEN": "token-secret",
}


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _need(binary: str | None, name: str) -> str:
    if binary is None:
        reason = f"{name} is not installed (scripts/install-test-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def test_docker_compose_config_accepts_the_file() -> None:
    cli = _compose_cli()
    _need(cli and cli[0], "docker compose (or docker-compose)")
    assert cli is not None
    done = subprocess.run(
        [*cli, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        cwd=DEPLOY,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    env = resolved["services"]["logradar"]["environment"]
    assert "token-secret" in env["LOGRADAR_AUTH__TOKENS"]
    assert env["LOGRADAR_STORE__URL"].endswith("logradar:pg-secret@postgres:5432/logradar")


def test_compose_refuses_to_start_without_the_secrets() -> None:
    cli = _compose_cli()
    _need(cli and cli[0], "docker compose (or docker-compose)")
    assert cli is not None
    bare = {k: v for k, v in os.environ.items() if k not in ENV}
    done = subprocess.run(
        [*cli, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=bare,
        cwd=DEPLOY,
        timeout=60,
    )
    assert done.returncode != 0
    assert "in deploy/.env" in done.stderr


def test_services_are_pinned_healthchecked_and_keep_state_in_named_volumes() -> None:
    spec = compose()
    services = spec["services"]
    assert set(services) == {"postgres", "logradar", "prometheus", "alertmanager", "grafana"}
    for name, svc in services.items():
        image = svc["image"]
        if name == "logradar":
            assert svc["build"] == {"context": "..", "dockerfile": "Dockerfile"}
        else:
            assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+(\.\d+)?(-[\w.]+)?", image), f"{name}: {image}"
        assert svc["healthcheck"]["test"], name
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in spec["volumes"], f"{name}: volume {source} is not declared"
    assert "3000:3000" in services["grafana"]["ports"]
    for name in ("logradar", "grafana", "prometheus"):
        assert services[name]["depends_on"], name


def test_dockerfile_is_slim_non_root_and_healthchecked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    images = re.findall(r"^FROM (\S+)", text, re.M)
    assert images and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", i) for i in images)
    [user] = re.findall(r"^USER (\S+)", text, re.M)
    assert not user.startswith(("root", "0:", "0"))
    assert "HEALTHCHECK" in text and "/healthz" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ignored[0] == "*" and "!src/" in ignored


def test_promtool_and_amtool_accept_the_configs(tmp_path) -> None:
    promtool = _need(shutil.which("promtool"), "promtool")
    amtool = _need(shutil.which("amtool"), "amtool")
    # the scrape token file exists in the container only; point at a stand-in to check the rest
    for name in ("prometheus.yml", "rules.yml"):
        text = (DEPLOY / "prometheus" / name).read_text()
        (tmp_path / name).write_text(text.replace("/prometheus/logradar-token", "token"))
    (tmp_path / "token").write_text("t")
    checks = [
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        [amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml")],
    ]
    for cmd in checks:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_stack_config_of_logradar_loads() -> None:
    if "receivers" not in AlertsConfig.model_fields:
        pytest.skip("needs [[alerts.receivers]] (issue 14, branch w14)")
    settings = load_config(DEPLOY / "logradar.toml")
    assert [r.type for r in settings.alerts.receivers] == ["alertmanager"]
