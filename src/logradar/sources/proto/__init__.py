"""Protobuf messages for receivers whose schema is not published as a Python package."""
