"""Archive URLs and the OBS/S3 settings as the S3 client receives them."""

from __future__ import annotations

import re

import pytest

from logradar.archive.storage import ArchiveUrlError, open_filesystem
from logradar.config import ArchiveConfig


def client_options(url: str, **settings) -> tuple[dict, str]:
    fs, root = open_filesystem(url, ArchiveConfig(**settings))
    return fs.__reduce__()[1][0], root  # the options pyarrow would rebuild the client with


def test_obs_settings_reach_the_s3_client():
    options, root = client_options(
        "obs://logs-bucket/logradar/",
        s3_endpoint="https://obs.ap-southeast-1.myhuaweicloud.com",
        s3_region="ap-southeast-1",
        s3_addressing="virtual",
        access_key="AKEXAMPLE",
        secret_key="SKEXAMPLE",
        s3_timeout_seconds=7,
    )
    assert root == "logs-bucket/logradar"
    assert options["endpoint_override"] == "obs.ap-southeast-1.myhuaweicloud.com"
    assert options["scheme"] == "https"
    assert options["region"] == "ap-southeast-1"
    assert options["force_virtual_addressing"] is True
    assert (options["access_key"], options["secret_key"]) == ("AKEXAMPLE", "SKEXAMPLE")
    assert options["connect_timeout"] == 7
    assert options["allow_delayed_open"] is True  # small objects: one PUT


def test_path_style_is_the_default():
    options, _ = client_options("s3://b/p", s3_endpoint="http://127.0.0.1:9000")
    assert options["force_virtual_addressing"] is False
    assert (options["endpoint_override"], options["scheme"]) == ("127.0.0.1:9000", "http")


@pytest.mark.parametrize(
    ("url", "settings", "message"),
    [
        ("ftp://x/y", {}, "unsupported archive URL"),
        ("s3:///prefix", {}, "names no bucket"),
    ],
)
def test_bad_urls_are_refused_clearly(url, settings, message):
    with pytest.raises(ArchiveUrlError, match=re.escape(message)):
        open_filesystem(url, ArchiveConfig(**settings))


def test_bad_archive_settings_stop_the_configuration():
    from logradar.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="s3_endpoint"):
        load_config(None, archive={"s3_endpoint": "obs.example.com"})
    with pytest.raises(ConfigError, match=r"archive\.url"):
        load_config(None, archive={"url": "ftp://x/y"})
