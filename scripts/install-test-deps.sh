#!/bin/sh
# Install what the test suite talks to (Debian packages as root, npm modules); safe to run again.
#   chromium          tests/web/test_browser.py renders the UI headless
#   bsdutils, rsyslog tests/sources/test_syslog*.py use util-linux `logger` and a real rsyslogd
#   rsyslog-elasticsearch, nodejs + npm
#                     tests/sources/test_real_clients.py: rsyslog's omelasticsearch, and
#                     winston-loki from tests/sources/node (npm ci, pinned by package-lock.json)
#   java (17+)        tests/spark run PySpark in local mode
#   prometheus        tests/web/test_read_auth.py scrapes /metrics with a token
#   prometheus-alertmanager (amtool), docker-compose
#                     tests/deploy check deploy/ (amtool check-config, docker-compose config)
#                     tests/alerts/test_channel_alertmanager.py posts alerts to a real one
#   openssl           tests/security/test_slow_clients_and_tls.py makes a self-signed cert
# Tests that need one of these skip without it, except under CI (env CI set), where they fail.
set -eu
cd "$(dirname "$0")/.."

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v logger >/dev/null 2>&1 || missing="$missing bsdutils"
command -v rsyslogd >/dev/null 2>&1 || missing="$missing rsyslog"
ls /usr/lib/*/rsyslog/omelasticsearch.so >/dev/null 2>&1 || missing="$missing rsyslog-elasticsearch"
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
command -v java >/dev/null 2>&1 || missing="$missing openjdk-17-jre-headless"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
command -v amtool >/dev/null 2>&1 || missing="$missing prometheus-alertmanager"
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"

if [ -z "$missing" ]; then
    echo "test packages already installed"
else
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    apt-get install -y --no-install-recommends $missing
fi

node_dir=tests/sources/node
installed="$node_dir/node_modules/.package-lock.json"
if [ ! -e "$installed" ] || [ "$node_dir/package-lock.json" -nt "$installed" ]; then
    npm ci --prefix "$node_dir" --no-audit --no-fund
else
    echo "test npm modules already installed"
fi
