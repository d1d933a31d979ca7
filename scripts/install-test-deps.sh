#!/bin/sh
# Install system packages the test suite needs (Debian, as root); safe to run again.
#   chromium: tests/web/test_browser.py renders the UI headless (skipped without it, unless CI).
set -eu

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"

if [ -z "$missing" ]; then
    echo "test dependencies already installed"
    exit 0
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y $missing
