"""A few quick rounds of ``benchmarks/archive_faults.py`` in CI: `logradar up` archiving to
S3 (moto) through a fault-injecting proxy under 4 senders; each fault kind once."""

from __future__ import annotations

import pytest

from archive_faults import run

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]


def test_every_acknowledged_line_archived_exactly_once_under_faults(tmp_path):
    result = run(
        4,
        seed=3,
        batch=50,
        fault_seconds=(0.5, 1.5),
        faults=("outage", "hang", "503", "sigkill"),
        workdir=tmp_path,
    )
    assert result["faults"] == {"outage": 1, "hang": 1, "503": 1, "sigkill": 1}
    assert result["acked"] > 0
    assert (result["lost"], result["duplicated"], result["foreign"]) == (0, 0, 0)
    assert result["orphan_objects"] == 0
    assert result["graceful_exit_code"] == 0
