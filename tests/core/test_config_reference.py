"""The committed configuration reference is what the code generates, and valid TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path

from logradar.config import Settings
from logradar.config_reference import reference

DOC = Path(__file__).parents[2] / "docs" / "configuration.toml"


def test_docs_match_the_schema():
    stale = "docs/configuration.toml is stale: regenerate it with `logradar config --reference`"
    assert DOC.read_text(encoding="utf-8") == reference(), stale


def test_reference_parses_back_to_the_defaults():
    parsed = tomllib.loads(reference())
    settings = Settings(**parsed)
    assert settings.model_dump() == Settings().model_dump()
