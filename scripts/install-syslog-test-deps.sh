#!/bin/sh
# Install the syslog clients the source tests drive (Debian, as root); safe to run again.
#   logger (util-linux, bsdutils): tests/sources/test_syslog.py sends RFC 5424/3164 over UDP/TCP.
#   rsyslog: tests/sources/test_syslog_rsyslog.py forwards a file with imfile + omfwd.
# Both tests are skipped when the tool is missing.
set -eu

missing=""
command -v logger >/dev/null 2>&1 || missing="$missing bsdutils"
command -v rsyslogd >/dev/null 2>&1 || missing="$missing rsyslog"

if [ -z "$missing" ]; then
    echo "syslog test dependencies already installed"
    exit 0
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y --no-install-recommends $missing
