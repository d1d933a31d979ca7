#!/bin/sh
# First start of the compose PostgreSQL: a read-only role for Grafana's datasource. It may
# read every table logradar creates (logradar's migrations run as the `logradar` role).
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$GRAFANA_DB_PASSWORD" -U "$POSTGRES_USER" -d "$POSTGRES_DB" <<'SQL'
CREATE ROLE grafana LOGIN PASSWORD :'pw';
GRANT CONNECT ON DATABASE logradar TO grafana;
GRANT USAGE ON SCHEMA public TO grafana;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO grafana;
ALTER DEFAULT PRIVILEGES FOR ROLE logradar IN SCHEMA public GRANT SELECT ON TABLES TO grafana;
SQL
