"""Where the archive lives: a folder, or a bucket on S3 or Huawei OBS (S3-compatible).

``obs://bucket/prefix`` is an alias of ``s3://bucket/prefix``: OBS speaks the S3 protocol.
For OBS set ``archive.s3_endpoint`` (e.g. ``https://obs.ap-southeast-1.myhuaweicloud.com``),
``archive.s3_region`` (``ap-southeast-1``), ``archive.s3_addressing`` (OBS serves both;
``virtual`` is its default, ``path`` is what most S3-compatible servers need) and the AK/SK
(``archive.access_key`` / ``archive.secret_key``, or ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` in the environment).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from logradar.config import ArchiveConfig

OBJECT_SCHEMES = ("s3", "obs")


class ArchiveUrlError(ValueError):
    """An archive URL logradar cannot use."""


def is_object_store(url: str) -> bool:
    return urlparse(url).scheme in OBJECT_SCHEMES


def s3_filesystem(cfg: ArchiveConfig | None) -> pafs.S3FileSystem:
    """An S3 client for ``cfg``'s endpoint, region, addressing and credentials."""
    # delayed open: a small object is one PUT at close, not a three-request multipart upload
    options: dict = {"allow_delayed_open": True}
    if cfg is not None:
        if cfg.s3_endpoint:
            endpoint = urlparse(cfg.s3_endpoint)  # http(s)://host[:port]: checked by config
            options["endpoint_override"] = endpoint.netloc
            options["scheme"] = endpoint.scheme
        if cfg.s3_region:
            options["region"] = cfg.s3_region
        options["force_virtual_addressing"] = cfg.s3_addressing == "virtual"
        if cfg.access_key:
            options["access_key"] = cfg.access_key
            options["secret_key"] = cfg.secret_key.get_secret_value()
        options["connect_timeout"] = cfg.s3_timeout_seconds
        options["request_timeout"] = cfg.s3_timeout_seconds
        options["retry_strategy"] = pafs.AwsStandardS3RetryStrategy(max_attempts=cfg.s3_attempts)
    return pafs.S3FileSystem(**options)


def open_filesystem(
    url: str, cfg: ArchiveConfig | None = None, *, create: bool = True
) -> tuple[pafs.FileSystem, str]:
    """Resolve an archive URL (folder, ``file://``, ``s3://`` or ``obs://bucket/prefix``) to
    ``(filesystem, root)``. A local folder is created unless ``create`` is false."""
    parsed = urlparse(url)
    if parsed.scheme in OBJECT_SCHEMES:
        if not parsed.netloc:
            raise ArchiveUrlError(f"archive URL {url!r} names no bucket: use s3://bucket/prefix")
        return s3_filesystem(cfg), f"{parsed.netloc}{parsed.path}".rstrip("/")
    if parsed.scheme in ("", "file"):
        fs = pafs.LocalFileSystem()
        path = parsed.path if parsed.scheme == "file" else url
        if create:
            fs.create_dir(path, recursive=True)
        return fs, path.rstrip("/") or "/"
    raise ArchiveUrlError(
        f"unsupported archive URL {url!r}: use a folder, s3://bucket/prefix or obs://bucket/prefix"
    )
