"""Log parsing: header formats, masking and streaming template mining."""

from logradar.parse.formats import LogFormat, detect_level, parse_timestamps
from logradar.parse.templates import Template, TemplateMiner

__all__ = ["LogFormat", "Template", "TemplateMiner", "detect_level", "parse_timestamps"]
