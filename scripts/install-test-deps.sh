#!/bin/sh
# Install the system packages the test suite talks to (Debian, as root); safe to run again.
#   chromium          tests/web/test_browser.py renders the UI headless
#   bsdutils, rsyslog tests/sources/test_syslog*.py use util-linux `logger` and a real rsyslogd
#   java (17+)        tests/spark run PySpark in local mode
# Tests that need one of these skip without it, except under CI (env CI set), where they fail.
set -eu

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v logger >/dev/null 2>&1 || missing="$missing bsdutils"
command -v rsyslogd >/dev/null 2>&1 || missing="$missing rsyslog"
command -v java >/dev/null 2>&1 || missing="$missing openjdk-17-jre-headless"

if [ -z "$missing" ]; then
    echo "test dependencies already installed"
    exit 0
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y --no-install-recommends $missing
