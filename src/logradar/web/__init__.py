"""The web part of ``logradar up``: one Starlette app (see :func:`create_app`)."""

from logradar.web.app import create_app

__all__ = ["create_app"]
