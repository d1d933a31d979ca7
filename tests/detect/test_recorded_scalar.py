"""The window detectors return what the scalar detectors returned on the recorded inputs.

The outputs in ``data/scalar_anomalies.json`` were recorded from the one-template-at-a-time
code (commit 8356e83); the columnar detectors must find the same anomalies (identity, kind,
severity, counts and expectations to 6 significant digits), early (``peek``) ones included.
"""

import json

import pytest

from detect.recorded import RECORDED, detectors, run_detector


@pytest.mark.parametrize("name", ["frequency", "frequency_no_sums", "error_burst", "silence"])
def test_same_anomalies_as_the_scalar_code(name):
    expected = json.loads(RECORDED.read_text(encoding="utf-8"))[name]
    assert expected, "the recording has anomalies of this detector"
    got = run_detector(detectors()[name])
    assert got == expected
