"""The runnable examples in the detectors' docstrings stay true."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module", ["new_pattern", "frequency", "silence", "error_burst", "multivariate"]
)
def test_docstring_example(module):
    result = doctest.testmod(importlib.import_module(f"logradar.detect.{module}"))
    assert result.attempted > 0
    assert result.failed == 0
